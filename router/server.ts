// Worker entry (wrangler.jsonc main): `export default VTGate; export { VTTablet }`.
import { VTTablet } from '../primary/tablet.js';
import { VTGate } from './gateway.js';

export default VTGate;
export { VTGate, VTTablet };
