// The package's browser entry, bundled by scripts/build-browser.mjs as dist/public/browser/vitess.js
// (docs/browser.md): the client, and embedded replicas on PGlite, persisted in IndexedDB with
// `path: 'idb://name'`. PGlite fetches its wasm and data from next to the bundle.
export * from '../client/index.js';
export { createReplica, EmbeddedReplica, type EmbeddedReplicaStatus, type LiveCallback, type ReplicaOptions, type ReplicaState } from './index.js';
