#!/usr/bin/env node
// Build-time half of running PGlite in workerd (see engines/pglite-workerd.ts).
//
// workerd refuses to compile wasm from bytes at run time, but PGlite does exactly that for
// Emscripten `addFunction` thunks and for the shared libraries it dlopen()s from its fs bundle
// (dict_snowball.so during initdb, plpgsql.so, encoding converters). So we run PGlite once here,
// in Node, record every byte buffer it compiles, and write each one out as a .wasm file that
// wrangler compiles at build time (`CompiledWasm` rule). Also written: PGlite's own pglite.wasm
// and initdb.wasm, and modules.js(+ .d.ts) importing them. Output: engines/pglite-wasm/generated/
// (gitignored).
//
// What PGlite reads as data rather than compiles as code, its fs bundle (pglite.data) and a data
// directory right after initdb (cold starts skip initdb), goes to the Worker's static assets
// (dist/public/pglite/), not into the script: 5.6 MB compressed that would otherwise count
// against Cloudflare's script size limit (docs/deployment.md). modules.js records their paths
// and SHA-256, so a shard refuses files of another build.
//
// Runs at the start of `npm run build` (also from `prepare`, on `npm install`); skips work when the stamp matches
// (same PGlite version, same script). `--force` regenerates.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'engines/pglite-wasm/generated');
const assetsDir = join(root, 'dist/public/pglite');
const require = createRequire(import.meta.url);
const pgliteDist = dirname(require.resolve('@electric-sql/pglite'));
const pgliteVersion = JSON.parse(await readFile(join(pgliteDist, '../package.json'), 'utf8')).version;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

const stamp = JSON.stringify({ pgliteVersion, script: sha256(await readFile(fileURLToPath(import.meta.url))) });
const stampFile = join(outDir, 'stamp.json');
const current =
  (await readFile(stampFile, 'utf8').catch(() => '')) === stamp && existsSync(join(outDir, 'modules.js')) && existsSync(join(assetsDir, 'pgdata.tar.gz'));
if (current && !process.argv.includes('--force')) {
  console.log(`pglite-modules: up to date (PGlite ${pgliteVersion})`);
  process.exit(0);
}

// Give PGlite the same inputs as in workerd, compiled before recording starts, so that only
// the buffers PGlite itself compiles at run time get recorded.
const read = (name) => readFile(join(pgliteDist, name));
const pgliteWasmModule = new WebAssembly.Module(await read('pglite.wasm'));
const initdbWasmModule = new WebAssembly.Module(await read('initdb.wasm'));
const fsBundle = new Blob([await read('pglite.data')]);
const { PGlite } = await import('@electric-sql/pglite');

/** sha256 hex → bytes of every buffer compiled from now on. */
const recorded = new Map();
const record = (src) => {
  const bytes = ArrayBuffer.isView(src) ? new Uint8Array(src.buffer, src.byteOffset, src.byteLength).slice() : new Uint8Array(src.slice(0));
  recorded.set(sha256(bytes), bytes);
};
const isBytes = (src) => ArrayBuffer.isView(src) || src instanceof ArrayBuffer;
const { Module, compile, instantiate } = WebAssembly;
WebAssembly.Module = new Proxy(Module, {
  construct(target, args, newTarget) {
    if (isBytes(args[0])) record(args[0]);
    return Reflect.construct(target, args, newTarget);
  },
});
WebAssembly.compile = (src, ...rest) => {
  record(src);
  return compile(src, ...rest);
};
WebAssembly.instantiate = (src, ...rest) => {
  if (isBytes(src)) record(src);
  return instantiate(src, ...rest);
};

// What a shard does; each step may pull in a thunk or a shared library.
const exercise = async (pg) => {
  await pg.exec(`
    CREATE TABLE t (id int PRIMARY KEY, name text, n numeric, at timestamptz DEFAULT now(), j jsonb);
    CREATE TABLE audit (id serial PRIMARY KEY, op text, row_id int);
    CREATE FUNCTION audit_t() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO audit (op, row_id) VALUES (TG_OP, NEW.id); RETURN NEW; END $$;
    CREATE TRIGGER t_audit AFTER INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION audit_t();
    DO $$ BEGIN PERFORM 1; END $$;`);
  await pg.query('INSERT INTO t (id, name, n, j) VALUES ($1, $2, $3, $4)', [1, 'Zoë 日本 🚀', '1.5', { a: [1] }]);
  await pg.query('UPDATE t SET name = upper(name) WHERE id = $1', [1]);
  await pg.query('SELECT * FROM t JOIN audit ON audit.row_id = t.id ORDER BY audit.id');
  await pg.query("SELECT to_tsvector('english', name) FROM t");
  // An encoding conversion: dlopens utf8_and_iso8859_1.so. (Not UTF8 → LATIN1 of non-ASCII
  // text: in PGlite 0.5.16 that returns no row and hangs the next query, in Node too.)
  await pg.query("SELECT convert_from('\\x5a6feb'::bytea, 'LATIN1')");
  await pg.transaction(async (tx) => tx.query('SELECT count(*) FROM t'));
  await pg.dumpDataDir('none');
};

// Settings for a PGlite inside a DO (128 MB per isolate; the wasm memory alone starts at 128 MB).
// PGlite's defaults grow that memory to ~190 MB (shared_buffers=128MB) and keep 16 MB WAL
// segments up to min_wal_size=80MB in its in-memory fs (WAL is only trimmed by CHECKPOINT: a
// single-user postgres has no checkpointer). initdb writes these into postgresql.conf (the WAL
// sizes must fit the segment size, so they go with the data dir); shared_buffers is also passed
// at start, for data dirs made elsewhere. Exported to the runtime below.
const initdbArgs = ['--wal-segsize=1', '--set', 'shared_buffers=16MB', '--set', 'min_wal_size=2MB', '--set', 'max_wal_size=4MB'];
const postgresArgs = ['-c', 'shared_buffers=16MB'];
const options = {
  pgliteWasmModule,
  initdbWasmModule,
  fsBundle,
  initDbStartParams: initdbArgs,
  startParams: [...PGlite.defaultStartParams, ...postgresArgs],
};
const fresh = await PGlite.create(options); // runs initdb
await fresh.exec('CHECKPOINT'); // so a cold start from the dump has no WAL to replay
const pgdata = new Uint8Array(await (await fresh.dumpDataDir('none')).arrayBuffer());
await exercise(fresh);
await fresh.close();
const restored = await PGlite.create({ ...options, loadDataDir: new Blob([pgdata]) });
await exercise(restored);
await restored.close();

// Write everything out, replacing what was there.
for (const dir of [outDir, assetsDir]) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}
for (const name of ['pglite.wasm', 'initdb.wasm']) await copyFile(join(pgliteDist, name), join(outDir, name));
const fsBundleBytes = await read('pglite.data');
await writeFile(join(assetsDir, 'pglite.data'), fsBundleBytes);
// Gzipped: the tar is mostly zeros (27 MB → 4 MB); inflating costs a fresh DO ~0.1 s.
const pgdataGzip = gzipSync(pgdata);
await writeFile(join(assetsDir, 'pgdata.tar.gz'), pgdataGzip);
const side = [...recorded].sort(([a], [b]) => a.localeCompare(b));
for (const [hash, bytes] of side) await writeFile(join(outDir, `m${hash.slice(0, 16)}.wasm`), bytes);

const js = `// Generated by scripts/pglite-modules.mjs from @electric-sql/pglite@${pgliteVersion}. Do not edit.
// Imported only inside workerd: wrangler's module rules turn .wasm into WebAssembly.Module
// (CompiledWasm).
import pgliteWasm from './pglite.wasm';
import initdbWasm from './initdb.wasm';
${side.map(([hash], i) => `import m${i} from './m${hash.slice(0, 16)}.wasm';`).join('\n')}

export { pgliteWasm, initdbWasm };
export const pgliteVersion = '${pgliteVersion}';
/** Files read from the Worker's static assets at cold start: path and SHA-256 (hex). */
export const dataFiles = {
  fsBundle: { path: '/pglite/pglite.data', sha256: '${sha256(fsBundleBytes)}' },
  pgdataGzip: { path: '/pglite/pgdata.tar.gz', sha256: '${sha256(pgdataGzip)}' },
};
/** initdb arguments and postgres settings the data dir was made with; use the same at run time. */
export const initdbArgs = ${JSON.stringify(initdbArgs)};
export const postgresArgs = ${JSON.stringify(postgresArgs)};
/** sha256 (hex) of the bytes PGlite compiles at run time → the same module, compiled at build time. */
export const sideModules = {
${side.map(([hash, bytes], i) => `  '${hash}': m${i}, // ${bytes.length} bytes`).join('\n')}
};
`;
const dts = `// Generated by scripts/pglite-modules.mjs. Do not edit.
export declare const pgliteWasm: WebAssembly.Module;
export declare const initdbWasm: WebAssembly.Module;
export declare const pgliteVersion: string;
/** pglite.data (PGlite's fs bundle) and the gzipped tar of a data directory right after initdb, in the static assets. */
export declare const dataFiles: Readonly<Record<'fsBundle' | 'pgdataGzip', { path: string; sha256: string }>>;
export declare const initdbArgs: string[];
export declare const postgresArgs: string[];
export declare const sideModules: Readonly<Record<string, WebAssembly.Module>>;
`;
await writeFile(join(outDir, 'modules.js'), js);
await writeFile(join(outDir, 'modules.d.ts'), dts);
await writeFile(stampFile, stamp);
const files = await readdir(outDir);
console.log(
  `pglite-modules: PGlite ${pgliteVersion}: ${side.length} run-time modules ` +
    `(${side.map(([, b]) => b.length).join(', ')} bytes), data dir ${pgdata.length} bytes, ${files.length} files in ${outDir}; data files in ${assetsDir}`,
);
