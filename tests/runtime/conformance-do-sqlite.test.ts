import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, it } from 'vitest';
import { DoSqliteEngine } from '../../engines/do-sqlite.js';
import { cases } from '../conformance/cases.js';

// Each case runs inside the host DO, on an engine over that DO's own SQLite storage.
describe('engine conformance: do-sqlite (workerd)', () => {
  const stub = env.HOST.get(env.HOST.idFromName('conformance-do-sqlite'));
  for (const c of cases) {
    it(c.name, () => runInDurableObject(stub, (_instance, state) => c.run(new DoSqliteEngine(state.storage))));
  }
});
