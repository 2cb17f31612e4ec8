// Worker entry for keyspaces that are all SQLite: the same classes as server.ts, with no PGlite in
// the bundle (a keyspace with engine 'pglite' is refused when its shard opens). Size budget:
// docs/deployment.md.
import { VTTablet } from '../primary/tablet.js';
import { VTReplica } from '../replica/replica-do.js';
import { VTCoordinator } from './txn/coordinator-do.js';
import { VTGate } from './gateway/gateway.js';
import { VTSequence } from './sequences/sequence-do.js';

export default VTGate;
export { VTCoordinator, VTGate, VTReplica, VTSequence, VTTablet };
