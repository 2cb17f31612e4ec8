// Copies the generated PGlite modules next to the compiled engines in dist/, so the server
// entry of the published package finds them where engines/pglite-workerd.js imports them. The
// target is emptied first: files a build no longer generates must not ship in the package.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'dist/engines/pglite-wasm/generated');
rmSync(target, { recursive: true, force: true });
cpSync(join(root, 'engines/pglite-wasm/generated'), target, { recursive: true });
