import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, it } from 'vitest';
import { PgliteEngine } from '../../engines/pglite.js';
import { createWorkerdPGlite } from '../../engines/pglite-workerd.js';
import { cases } from '../conformance/cases.js';

// PGlite created inside the host DO (from the precompiled modules) and kept on the instance;
// each case runs inside that DO.
describe('engine conformance: pglite (workerd)', () => {
  const stub = env.HOST.get(env.HOST.idFromName('conformance-pglite'));
  const engines = new WeakMap<object, PgliteEngine>();
  const inDo = <T>(fn: (db: PgliteEngine) => Promise<T>) => runInDurableObject(stub, async (instance) => fn(engines.get(instance)!));
  beforeAll(
    () =>
      runInDurableObject(stub, async (instance) => {
        engines.set(instance, new PgliteEngine(await createWorkerdPGlite({ assets: env.ASSETS })));
      }),
    60_000,
  );
  for (const c of cases) it(c.name, () => inDo((db) => c.run(db)));
});
