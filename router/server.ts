// Worker entry (wrangler.jsonc main): `export default VTGate; export { VTTablet, VTReplica, VTCoordinator, VTSequence }`.
import { VTTablet } from '../primary/tablet.js';
import { VTReplica } from '../replica/replica-do.js';
import { VTCoordinator } from './coordinator-do.js';
import { VTGate } from './gateway.js';
import { VTSequence } from './sequence-do.js';

export default VTGate;
export { VTCoordinator, VTGate, VTReplica, VTSequence, VTTablet };
