// PGlite inside workerd (a Durable Object). workerd forbids compiling wasm from bytes at run
// time, yet PGlite does so for Emscripten `addFunction` thunks and for the shared libraries it
// dlopen()s (dict_snowball.so, plpgsql.so, encoding converters). scripts/pglite-modules.mjs
// records those buffers at build time and wrangler compiles them (CompiledWasm); the shim below
// hands PGlite the precompiled module whose SHA-256 matches the bytes it asks to compile.
// PGlite's data files (its fs bundle, the data directory made at build time) are not in the
// script: they come from the Worker's static assets (binding ASSETS) at cold start, once per
// isolate, checked against the SHA-256 recorded at build time.
// Import this module only from code bundled by wrangler (the generated module imports .wasm
// files). Do not enable nodejs_compat: PGlite then takes its Node path (file URLs).
import { MemoryFS, PGlite } from '@electric-sql/pglite';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { VitessError } from '../rpc/errors.js';
import { PgliteEngine, type PgliteEngineOptions } from './pglite.js';
import { dataFiles, initdbArgs, initdbWasm, pgliteVersion, pgliteWasm, postgresArgs, sideModules } from './pglite-wasm/generated/modules.js';

/** The static-assets binding PGlite's data files are read from. */
export type AssetsBinding = Pick<Fetcher, 'fetch'>;

export interface WorkerdPGliteOptions {
  /** The Worker's static assets (`assets.binding` in wrangler.jsonc), holding dist/public/pglite/. */
  assets: AssetsBinding | undefined;
  /** A `dumpDataDir()` tarball to start from. */
  dataDir?: Blob | File;
  /** Without `dataDir`: start from the data directory generated at build time (default), or run initdb (false). */
  preinitialized?: boolean;
}

export async function createWorkerdPGlite(opts: WorkerdPGliteOptions): Promise<PGlite> {
  installWasmShim();
  const [fsBundle, tar] = await Promise.all([
    dataFile(opts.assets, 'fsBundle'),
    opts.dataDir
      ? tarBytes(opts.dataDir)
      : opts.preinitialized === false
        ? undefined
        : dataFile(opts.assets, 'pgdataGzip').then((b) => tarBytes(new Blob([b]))),
  ]);
  return PGlite.create({
    pgliteWasmModule: pgliteWasm,
    initdbWasmModule: initdbWasm,
    fsBundle: new Blob([fsBundle]),
    // Same settings as the generated data dir (smaller memory and WAL; see the script).
    initDbStartParams: initdbArgs,
    startParams: [...PGlite.defaultStartParams, ...postgresArgs],
    // With a data dir in PGDATA before PGlite looks, PGlite resumes it instead of running initdb.
    ...(tar ? { fs: new TarMemoryFS(tar) } : {}),
  });
}

/** A PGlite engine in workerd (the opener router/server.ts provides: engines/workerd-pglite.ts). */
export async function openPgliteEngine(pglite: WorkerdPGliteOptions, engine?: PgliteEngineOptions): Promise<PgliteEngine> {
  return new PgliteEngine(await createWorkerdPGlite(pglite), engine);
}

/** Each data file, fetched and checked once per isolate. */
const fetched = new Map<keyof typeof dataFiles, Promise<ArrayBuffer>>();

/** Forgets the fetched data files, as a new isolate starts without them (benchmarks measure that start). */
export function forgetDataFiles(): void {
  fetched.clear();
}

function dataFile(assets: AssetsBinding | undefined, name: keyof typeof dataFiles): Promise<ArrayBuffer> {
  let p = fetched.get(name);
  if (!p) {
    p = fetchDataFile(assets, name);
    fetched.set(name, p);
    p.catch(() => fetched.delete(name)); // a failed read is tried again by the next cold start
  }
  return p;
}

async function fetchDataFile(assets: AssetsBinding | undefined, name: keyof typeof dataFiles): Promise<ArrayBuffer> {
  const { path, sha256: expected } = dataFiles[name];
  if (!assets) {
    throw new VitessError(
      'UNAVAILABLE',
      `PGlite reads ${path} from the Worker's static assets, and this Worker has no assets binding: add "assets": { "directory": "dist/public", "binding": "ASSETS" } to wrangler.jsonc`,
      { construct: 'assets binding ASSETS' },
    );
  }
  const res = await assets.fetch(new Request(`https://assets.invalid${path}`));
  if (!res.ok) {
    throw new VitessError(
      'UNAVAILABLE',
      `PGlite's data file ${path} is not in the Worker's static assets (HTTP ${res.status}): run \`npm run build\` (it writes dist/public/pglite/) and deploy again`,
      { construct: `asset ${path}` },
    );
  }
  const bytes = await res.arrayBuffer();
  const actual = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
  if (actual !== expected) {
    throw new VitessError(
      'UNAVAILABLE',
      `PGlite's data file ${path} in the static assets is not the one this Worker was built with (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…): deploy the Worker and its assets from the same build`,
      { construct: `asset ${path}` },
    );
  }
  return bytes;
}

/** An in-memory fs whose PGDATA is unpacked from a `dumpDataDir()` tarball. */
class TarMemoryFS extends MemoryFS {
  constructor(private readonly tar: Uint8Array) {
    super();
  }
  override async initialSyncFs(): Promise<void> {
    const FS = this.pg!.Module.FS as EmscriptenFS;
    untar(FS, this.tar, PGlite.paths.PGDATA);
    // Otherwise PGlite would run initdb over what was unpacked.
    if (!FS.analyzePath(`${PGlite.paths.PGDATA}/PG_VERSION`).exists) {
      throw new Error('pglite-workerd: dataDir is not a PGlite data directory dump (no PG_VERSION)');
    }
  }
}

async function tarBytes(blob: Blob): Promise<Uint8Array> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes; // not gzip: dumpDataDir('none')
  const gunzipped = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(gunzipped).arrayBuffer());
}

type EmscriptenFS = {
  mkdirTree(path: string): void;
  writeFile(path: string, data: Uint8Array): void;
  analyzePath(path: string): { exists: boolean };
};

/**
 * Unpacks the tar PGlite's dumpDataDir() writes (tinytar: a 512-byte header per entry, regular
 * files and directories only) into `root`. Used instead of PGlite's `loadDataDir`, which parses
 * and checks every header field and looks up every parent directory again: this takes a cold
 * start from the generated data dir down by 100-250 ms in workerd.
 */
function untar(FS: EmscriptenFS, tar: Uint8Array, root: string): void {
  const text = new TextDecoder();
  const field = (at: number, length: number) => {
    const bytes = tar.subarray(at, at + length);
    const end = bytes.indexOf(0);
    return text.decode(end < 0 ? bytes : bytes.subarray(0, end));
  };
  const made = new Set<string>();
  const mkdirs = (dir: string) => {
    if (!made.has(dir)) FS.mkdirTree(dir);
    made.add(dir);
  };
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    const path = `${root}/${field(at, 100)}`.replace(/\/+/g, '/').replace(/\/$/, '');
    const size = parseInt(field(at + 124, 12).trim() || '0', 8);
    const type = tar[at + 156]!; // '0' or NUL: file, '5': directory
    at += 512;
    if (type === 0x35) mkdirs(path);
    else if (type === 0x30 || type === 0) {
      mkdirs(path.slice(0, path.lastIndexOf('/')));
      FS.writeFile(path, tar.subarray(at, at + size));
    } else throw new Error(`pglite-workerd: unsupported tar entry type ${String.fromCharCode(type)} (${path})`);
    at += Math.ceil(size / 512) * 512;
  }
}

type Bytes = ArrayBuffer | ArrayBufferView;
type WasmApi = {
  Module: new (bytes: Bytes) => WebAssembly.Module;
  compile(bytes: Bytes): Promise<WebAssembly.Module>;
  instantiate(src: Bytes | WebAssembly.Module, imports?: WebAssembly.Imports): Promise<unknown>;
};

// On globalThis, so that a second evaluation of this module (tests) does not wrap twice.
const SHIM = Symbol.for('@dotdo/vitess/pglite-wasm-shim');
type ShimState = { modules: Readonly<Record<string, WebAssembly.Module>>; main: WebAssembly.Module };

/**
 * Idempotent: route WebAssembly.Module/compile/instantiate on bytes to the precompiled modules,
 * and give PGlite's own module timers that fire while it runs (`instantiateWithTimers`).
 */
export function installWasmShim(): void {
  const g = globalThis as { [SHIM]?: ShimState };
  if (g[SHIM]) {
    g[SHIM].modules = sideModules;
    g[SHIM].main = pgliteWasm;
    return;
  }
  const state: ShimState = (g[SHIM] = { modules: sideModules, main: pgliteWasm });
  const wasm = WebAssembly as unknown as WasmApi;
  const { Module, instantiate } = wasm;
  const isBytes = (src: unknown): src is Bytes => src instanceof ArrayBuffer || ArrayBuffer.isView(src);
  const precompiled = (src: Bytes): WebAssembly.Module => {
    const bytes = src instanceof ArrayBuffer ? new Uint8Array(src) : new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    const hash = bytesToHex(sha256(bytes));
    const module = state.modules[hash];
    if (!module) {
      throw new Error(
        `pglite-workerd: PGlite compiled a wasm buffer of ${bytes.length} bytes (sha256 ${hash}) that was not ` +
          `precompiled at build time for PGlite ${pgliteVersion}; workerd cannot compile it at run time. ` +
          `Run \`node scripts/pglite-modules.mjs --force\` after adding the operation that triggers it to its exercise.`,
      );
    }
    return module;
  };
  // A Proxy keeps `instanceof WebAssembly.Module` and the static helpers (customSections) working.
  wasm.Module = new Proxy(Module, {
    construct: (target, args, newTarget) => (isBytes(args[0]) ? precompiled(args[0]) : Reflect.construct(target, args, newTarget)),
  });
  wasm.compile = async (bytes) => precompiled(bytes);
  wasm.instantiate = async (src, imports) => {
    if (src === state.main && imports) return instantiateWithTimers(state.main, imports, instantiate);
    if (!isBytes(src)) return instantiate(src, imports);
    const module = precompiled(src);
    return { module, instance: await instantiate(module, imports) };
  };
}

/** Imports that must not run a timer's signal handler first: signal delivery itself, longjmp, exit. */
const UNTIMED = new Set(['__call_sighandler', '_emscripten_throw_longjmp', 'proc_exit', 'exit', '_abort_js']);

/**
 * Lets Postgres's timers (statement_timeout) fire while a query runs. Emscripten arms them with
 * setTimeout, which cannot run before PGlite returns; so each call the wasm makes out to JS (file
 * I/O, clock reads, setjmp trampolines, memory growth) first fires a timer whose deadline has
 * passed, as the signal would have, and Postgres cancels the statement at its next interrupt
 * check. A query that never calls out runs on; and deployed, the Workers clock stands still while
 * code runs (it moves on I/O), so there the platform's CPU limit is what ends it.
 */
async function instantiateWithTimers(module: WebAssembly.Module, imports: WebAssembly.Imports, instantiate: WasmApi['instantiate']): Promise<unknown> {
  /** Armed timers (ITIMER_*) and when they are due, on performance.now(). */
  const due = new Map<number, number>();
  let fire: (which: number, now: number) => void = () => undefined;
  const fireDue = () => {
    const now = performance.now();
    for (const [which, at] of due) {
      if (now < at) continue;
      due.delete(which);
      fire(which, now);
    }
  };
  const timed = (fns: WebAssembly.ModuleImports): WebAssembly.ModuleImports =>
    new Proxy(fns, {
      get(target, name) {
        const f = Reflect.get(target, name) as unknown;
        if (typeof f !== 'function' || typeof name !== 'string' || UNTIMED.has(name)) return f;
        if (name === '_setitimer_js') {
          return (which: number, ms: number) => {
            if (ms > 0) due.set(which, performance.now() + ms);
            else due.delete(which);
            return f(which, ms);
          };
        }
        return function (this: unknown, ...args: unknown[]) {
          if (due.size) fireDue();
          return f.apply(this, args);
        };
      },
    });
  const wrapped = { ...imports };
  for (const name of ['env', 'wasi_snapshot_preview1']) if (imports[name]) wrapped[name] = timed(imports[name]);
  const instance = (await instantiate(module, wrapped)) as WebAssembly.Instance;
  // Emscripten's own timer callback: re-arms an interval timer, then raises the signal.
  fire = instance.exports._emscripten_timeout as (which: number, now: number) => void;
  return instance;
}
