// `@dotdo/vitess/replica`: local storage for embedded replicas (Node, browser, Worker).
import { LibsqlEngine } from '../engines/libsql.js';
import { openPglite } from '../engines/postgres.js';
import type { StorageEngine } from '../engines/engine.js';

export interface LocalEngineOptions {
  engine: 'pglite' | 'libsql';
  /** libsql: a file path (memory when omitted); pglite: a data directory or `idb://name`. */
  path?: string;
}

/** Opens the database an embedded replica applies the change stream into. */
export async function openLocalEngine(opts: LocalEngineOptions): Promise<StorageEngine> {
  if (opts.engine === 'libsql') return LibsqlEngine.open(opts.path ? `file:${opts.path}` : ':memory:');
  return openPglite(opts.path);
}
