// Worker entry (wrangler.jsonc main): `export default VTGate; export { VTTablet, VTReplica }`.
import { VTTablet } from '../primary/tablet.js';
import { VTReplica } from '../replica/replica-do.js';
import { VTGate } from './gateway.js';

export default VTGate;
export { VTGate, VTReplica, VTTablet };
