// `@dotdo/vitess/replica`: embedded replicas (Node, browser, Worker). Engines load on demand, so
// a browser bundle never reaches the Node-only code of an engine it does not use.
import type { StorageEngine } from '../engines/engine.js';
import { VitessError } from '../rpc/errors.js';
import { EmbeddedReplica, type ReplicaOptions } from './embedded/embedded.js';

export { EmbeddedReplica, type EmbeddedReplicaStatus, type ReplicaOptions, type ReplicaState } from './embedded/embedded.js';
export type { LiveCallback } from './embedded/live.js';
export type { StorageEngine } from '../engines/engine.js';

export interface LocalEngineOptions {
  engine: 'pglite' | 'libsql' | 'do-sqlite';
  /** libsql: a file path (memory when omitted); pglite: a data directory or `idb://name` (memory when omitted). */
  path?: string;
  /** do-sqlite: the Durable Object's `ctx.storage`. */
  storage?: DurableObjectStorage;
}

/** Opens the database an embedded replica applies the change stream into. */
export async function openLocalEngine(opts: LocalEngineOptions): Promise<StorageEngine> {
  switch (opts.engine) {
    case 'libsql': {
      const { LibsqlEngine } = await import('../engines/libsql.js');
      return LibsqlEngine.open(opts.path ? `file:${opts.path}` : ':memory:', { replica: true });
    }
    case 'pglite': {
      const { openPglite } = await import('../engines/postgres.js');
      return openPglite(opts.path);
    }
    case 'do-sqlite': {
      if (!opts.storage)
        throw new VitessError(
          'INVALID',
          'engine "do-sqlite" needs the Durable Object\'s storage: createReplica({ engine: "do-sqlite", storage: ctx.storage, … })',
        );
      const { DoSqliteEngine } = await import('../engines/do-sqlite.js');
      return new DoSqliteEngine(opts.storage);
    }
    default:
      throw new VitessError('INVALID', `engine must be "pglite", "libsql", "do-sqlite" or a StorageEngine, not ${JSON.stringify(opts.engine)}`);
  }
}

/**
 * An embedded replica of a keyspace: copies it (or resumes a stored copy), then follows its
 * change stream. `query` reads locally; `execute` writes through the primary and resolves once
 * the write is applied here; `live` re-runs a query as its tables change. docs/embedded-replicas.md.
 */
export async function createReplica(opts: ReplicaOptions): Promise<EmbeddedReplica> {
  if (!opts || typeof opts.endpoint !== 'string')
    throw new VitessError('INVALID', 'createReplica needs { endpoint: "http://…", engine: "pglite" | "libsql" | "do-sqlite" }');
  const given = typeof opts.engine === 'object' && opts.engine !== null;
  const db = given
    ? (opts.engine as StorageEngine)
    : await openLocalEngine({
        engine: opts.engine as LocalEngineOptions['engine'],
        ...(opts.path !== undefined && { path: opts.path }),
        ...(opts.storage && { storage: opts.storage }),
      });
  const where = given ? 'the given engine' : opts.path ? `${opts.engine} ${opts.path}` : `${String(opts.engine)} storage`;
  return EmbeddedReplica.open(opts, db, where);
}
