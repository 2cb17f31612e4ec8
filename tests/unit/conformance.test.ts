import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { PgliteEngine } from '../../engines/pglite.js';
import { cases } from '../conformance/cases.js';

const engines: [string, () => Promise<StorageEngine>][] = [
  ['libsql (Node)', () => LibsqlEngine.open(':memory:')],
  ['pglite (Node)', async () => new PgliteEngine(await PGlite.create())],
];

describe.each(engines)('engine conformance: %s', (_name, open) => {
  let db: StorageEngine;
  beforeAll(async () => {
    db = await open();
  }, 120_000);
  afterAll(async () => {
    await db.close();
  });
  for (const c of cases) it(c.name, () => c.run(db));
});
