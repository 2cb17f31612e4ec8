import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '@libsql/client';
import { openLocalEngine } from '../../replica/index.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe.each(['libsql', 'pglite'] as const)('local engine for embedded replicas: %s', (engine) => {
  it('persists at a path and reopens with the data', async () => {
    const dir = await mkdtemp(join(tmpdir(), `vitess-local-${engine}-`));
    dirs.push(dir);
    const path = engine === 'libsql' ? join(dir, 'replica.db') : join(dir, 'pgdata');
    const a = await openLocalEngine({ engine, path });
    await a.query('CREATE TABLE kv (k TEXT PRIMARY KEY, v JSONB)');
    await a.query('INSERT INTO kv VALUES ($1, $2)', ['x', { n: 1 }]);
    await a.close();
    const b = await openLocalEngine({ engine, path });
    expect((await b.query('SELECT k, v FROM kv')).rows).toEqual([{ k: 'x', v: { n: 1 } }]);
    await b.close();
  });
});

it('keeps a libSQL replica file in WAL mode', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vitess-local-wal-'));
  dirs.push(dir);
  const path = join(dir, 'replica.db');
  const db = await openLocalEngine({ engine: 'libsql', path });
  await db.close();
  const raw = createClient({ url: `file:${path}` });
  // journal_mode is kept in the file (synchronous is the connection's own).
  expect((await raw.execute('PRAGMA journal_mode')).rows[0]![0]).toBe('wal');
  raw.close();
});
