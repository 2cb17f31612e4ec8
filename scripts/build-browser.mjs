#!/usr/bin/env node
// The browser build (docs/browser.md): one ESM bundle of the client and `createReplica`
// (PGlite engine) at dist/public/browser/vitess.js, PGlite's wasm and data files beside it (PGlite
// fetches them relative to its module URL, i.e. the bundle's), and the /demo page's script, which
// imports the bundle as a browser would. The Worker serves dist/public as static assets
// (wrangler.jsonc `assets`), so this runs on `npm ci` (prepare) and in `npm run build`.
// What the IndexedDB replica fetches on a first load (PGlite's wasm and fs bundle, and a data
// directory to start from instead of running initdb) is also written under content-hashed names
// to browser/assets/, which dist/public/_headers marks immutable (docs/browser.md, "First load").
import { createHash } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const finalDir = join(root, 'dist/public/browser');
// Built elsewhere in dist/ (outside the assets directory), then swapped in: a running
// `wrangler dev` never serves a half-written directory, and concurrent builds do not collide.
const outDir = join(root, `dist/.browser.${process.pid}.tmp`);
const pgliteDist = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
/** What PGlite loads at run time from next to its module: the two wasm modules and its fs bundle. */
const PGLITE_ASSETS = ['pglite.wasm', 'initdb.wasm', 'pglite.data'];
/** The data directory scripts/pglite-modules.mjs made right after initdb (for the shards). */
const pgdataGzip = join(root, 'dist/public/pglite/pgdata.tar.gz');
/** Served with a year's max-age: their names change with their contents. */
const HEADERS = `# Written by scripts/build-browser.mjs: files under /browser/assets/ are named by their content hash.
/browser/assets/*
  Cache-Control: public, max-age=31536000, immutable
`;

/**
 * Browser substitutes for what must not reach a browser: PGlite's Node path imports `node:module`
 * (only when it runs in Node: never evaluated here), and the libSQL engine is Node-only.
 */
const browserOnly = {
  name: 'browser-only',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-builtin' }));
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not available in the browser bundle`)});`,
    }));
    build.onResolve({ filter: /^@libsql\/client$/ }, () => ({ path: 'libsql', namespace: 'node-only' }));
    build.onLoad({ filter: /.*/, namespace: 'node-only' }, () => ({
      resolveDir: join(root, 'rpc'),
      contents: `import { VitessError } from './errors.ts';
export function createClient() {
  throw new VitessError('UNSUPPORTED', "engine 'libsql' is Node-only; in the browser use engine: 'pglite'", { construct: 'libsql' });
}`,
    }));
  },
};

const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, sourcemap: true, logLevel: 'warning', absWorkingDir: root };

await mkdir(join(outDir, 'assets'), { recursive: true });
process.on('exit', () => rmSync(outDir, { recursive: true, force: true })); // left only by a failed build

const sha16 = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/** Writes `bytes` as assets/<base>-<sha256, 16 hex>.<ext>; returns that name relative to the bundle. */
async function hashed(bytes, base, ext) {
  const name = `./assets/${base}-${sha16(bytes)}.${ext}`;
  await writeFile(join(outDir, name), bytes);
  return name;
}

/**
 * The shards' data directory without the template databases: two of its three 7 MB databases,
 * which a replica never uses (it creates no database). Less than half the bytes to fetch, unpack
 * and keep in IndexedDB (in Node, PGlite starts from it in ~330 ms, from the whole in ~600). Made
 * with PGlite in Node, once per input (kept in dist/ under the input's hash, so a rebuild gives
 * the same file, and the same name).
 */
async function browserPgdata() {
  const source = await readFile(pgdataGzip).catch((e) => {
    if (e.code === 'ENOENT') throw new Error(`build-browser: no ${relative(root, pgdataGzip)}: run node scripts/pglite-modules.mjs first (npm run build does)`);
    throw e;
  });
  const made = join(root, `dist/.pgdata-browser-${sha16(source)}.tar.gz`);
  const kept = await readFile(made).catch(() => undefined);
  if (kept) return kept;
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = await PGlite.create({ loadDataDir: new Blob([source], { type: 'application/gzip' }) });
  let bytes;
  try {
    await pg.exec("UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')");
    await pg.exec('DROP DATABASE template0');
    await pg.exec('DROP DATABASE template1');
    await pg.exec('CHECKPOINT'); // a start from it replays no WAL
    bytes = new Uint8Array(await (await pg.dumpDataDir('gzip')).arrayBuffer());
  } finally {
    await pg.close();
  }
  for (const f of readdirSync(join(root, 'dist')))
    if (f.startsWith('.pgdata-browser-') && f.endsWith('.tar.gz')) rmSync(join(root, 'dist', f), { force: true });
  await writeFile(`${made}.${process.pid}`, bytes);
  await rename(`${made}.${process.pid}`, made);
  return bytes;
}

const browserFiles = {
  wasm: await hashed(await readFile(join(pgliteDist, 'pglite.wasm')), 'pglite', 'wasm'),
  // Gzipped here: served as it is (Cloudflare compresses wasm on the way, not this file's type).
  data: await hashed(gzipSync(await readFile(join(pgliteDist, 'pglite.data'))), 'pglite', 'data.gz'),
  pgdata: await hashed(await browserPgdata(), 'pgdata', 'tar.gz'),
};
// One file, not split: esbuild would cut PGlite's own dynamic imports into some twenty chunks;
// one module is simpler to host and to cache, and PGlite's code is needed by every page using it.
const lib = await esbuild.build({
  ...common,
  entryPoints: { vitess: 'replica/embedded/browser.ts' },
  outdir: outDir,
  plugins: [browserOnly],
  define: { PGLITE_BROWSER_FILES: JSON.stringify(browserFiles) },
  metafile: true,
});
// The demo script loads the bundle by URL (as any page would) instead of getting its own copy.
const bundleByUrl = {
  name: 'bundle-by-url',
  setup(build) {
    build.onResolve({ filter: /\/replica\/embedded\/browser\.js$/ }, () => ({ path: './vitess.js', external: true }));
  },
};
await esbuild.build({ ...common, entryPoints: { demo: 'router/ops/demo-app.ts' }, outdir: outDir, plugins: [bundleByUrl] });
for (const name of PGLITE_ASSETS) await copyFile(join(pgliteDist, name), join(outDir, name));

// Guard: no Node module may be imported by the browser path, statically or dynamically.
const outputs = Object.keys(lib.metafile.outputs).filter((f) => f.endsWith('.js'));
for (const f of outputs) {
  const nodeImport = /\b(?:from|import)\s*\(?\s*["'](node:[^"']+)["']/.exec(await readFile(join(root, f), 'utf8'));
  if (nodeImport) throw new Error(`build-browser: ${f} imports ${nodeImport[1]}`);
}
const inputs = Object.keys(lib.metafile.inputs);
const leaked = inputs.find((p) => /@libsql\/|engines\/pglite-workerd/.test(p));
if (leaked) throw new Error(`build-browser: a Node/workerd-only module reached the bundle: ${leaked}`);

const old = join(root, `dist/.browser.${process.pid}.old`);
await mkdir(dirname(finalDir), { recursive: true });
await rename(finalDir, old).catch((e) => {
  if (e.code !== 'ENOENT') throw e;
});
await rename(outDir, finalDir);
await rm(old, { recursive: true, force: true });
const headersTmp = join(root, `dist/.headers.${process.pid}.tmp`);
await writeFile(headersTmp, HEADERS);
await rename(headersTmp, join(root, 'dist/public/_headers'));

const size = async (f) => `${f} ${((await stat(join(finalDir, f))).size / 1024).toFixed(0)} KiB`;
const files = ['vitess.js', 'demo.js', ...PGLITE_ASSETS, ...Object.values(browserFiles)];
console.log(`build-browser: ${relative(root, finalDir)}: ${(await Promise.all(files.map(size))).join(', ')}`);
