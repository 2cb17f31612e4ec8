// The package's browser entry, bundled by scripts/build-browser.mjs as dist/public/browser/vitess.js
// (docs/browser.md): the client, and embedded replicas on PGlite, persisted in IndexedDB with
// `path: 'idb://name'`. PGlite's wasm and data files are fetched from next to the bundle.
import { parseOne } from '../../engines/dialect/parse.js';
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
 * transaction instead of after every statement; the copy is saved once, when it is complete.
 */
export async function createReplica(opts: ReplicaOptions): Promise<EmbeddedReplica> {
  const idb = opts?.engine === 'pglite' && typeof opts.endpoint === 'string' && opts.path?.startsWith('idb://');
  if (!idb) return createReplicaAnywhere(opts);
  const opening = openIdbPglite(opts.path!.slice('idb://'.length), { holdSaves: true });
  // PGlite's files are downloading and the page's thread is idle: the first parse builds the SQL
  // parser (~60 ms in Chromium), which a `live` query would otherwise do on the way to its rows.
  parseOne('SELECT 1');
  const db = await opening;
  try {
    return await EmbeddedReplica.open(opts, db, `pglite ${opts.path}`);
  } finally {
    db.releaseSaves(); // after the copy (if one was made): one snapshot of it, off the way to the page
  }
}
