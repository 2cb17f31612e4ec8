// `@dotdo/vitess/postgres`: the PGlite engine for Node and browsers. (Inside a Durable Object
// the server entry creates PGlite from precompiled modules: engines/pglite-workerd.ts.)
import { PGlite } from '@electric-sql/pglite';
import { PgliteEngine } from './pglite.js';

export { PgliteEngine } from './pglite.js';
export type { BatchOptions, EngineKind, Executor, StorageEngine } from './engine.js';

/** A PGlite engine: in memory by default, or persisted at `dataDir` (a directory in Node, `idb://name` in browsers). */
export async function openPglite(dataDir?: string): Promise<PgliteEngine> {
  return new PgliteEngine(await PGlite.create(dataDir));
}
