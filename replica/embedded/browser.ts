// The package's browser entry, bundled by scripts/build-browser.mjs as dist/public/browser/vitess.js
// (docs/browser.md): the client, and embedded replicas on PGlite, persisted in IndexedDB with
// `path: 'idb://name'`. PGlite fetches its wasm and data from next to the bundle.
import { openIdbPglite } from '../../engines/pglite-idb.js';
import { EmbeddedReplica, type ReplicaOptions } from './embedded.js';
import { createReplica as createReplicaAnywhere } from '../index.js';

export * from '../../client/index.js';
export { EmbeddedReplica, type EmbeddedReplicaStatus, type LiveCallback, type ReplicaOptions, type ReplicaState } from '../index.js';
/** The engine of `idb://` replicas, to open one yourself (e.g. to pass as `engine`, which the replica then leaves open). */
export { IdbPgliteEngine, openIdbPglite } from '../../engines/pglite-idb.js';

/**
 * `createReplica` (replica/index.ts); with `engine: 'pglite', path: 'idb://name'` the copy is kept
 * in IndexedDB by engines/pglite-idb.ts, which saves it in the background after each applied
 * transaction instead of after every statement.
 */
export async function createReplica(opts: ReplicaOptions): Promise<EmbeddedReplica> {
  const idb = opts?.engine === 'pglite' && typeof opts.endpoint === 'string' && opts.path?.startsWith('idb://');
  if (!idb) return createReplicaAnywhere(opts);
  return EmbeddedReplica.open(opts, await openIdbPglite(opts.path!.slice('idb://'.length)), `pglite ${opts.path}`);
}
