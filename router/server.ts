// Worker entry (wrangler.jsonc main): `export default VTGate; export { VTTablet, VTReplica, VTCoordinator, VTSequence }`.
// Both engines: PGlite's code and wasm are in this bundle, its data files in the static assets
// (docs/deployment.md). A Worker whose keyspaces are all SQLite can use server-sqlite.ts instead.
import { openPgliteEngine } from '../engines/pglite-workerd.js';
import { providePglite } from '../engines/workerd-pglite.js';

providePglite(openPgliteEngine);

export * from './server-sqlite.js';
export { default } from './server-sqlite.js';
