// Copies the generated PGlite modules next to the compiled engines in dist/, so the server
// entry of the published package finds them where engines/pglite-workerd.js imports them.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
cpSync(join(root, 'engines/pglite-wasm/generated'), join(root, 'dist/engines/pglite-wasm/generated'), { recursive: true });
