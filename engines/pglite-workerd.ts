// PGlite inside workerd (a Durable Object). workerd forbids compiling wasm from bytes at run
// time, yet PGlite does so for Emscripten `addFunction` thunks and for the shared libraries it
// dlopen()s (dict_snowball.so, plpgsql.so, encoding converters). scripts/pglite-modules.mjs
// records those buffers at build time and wrangler compiles them (CompiledWasm); the shim below
// hands PGlite the precompiled module whose SHA-256 matches the bytes it asks to compile.
// Import this module only from code bundled by wrangler (the generated module imports .wasm and
// .data files). Do not enable nodejs_compat: PGlite then takes its Node path (file URLs).
import { MemoryFS, PGlite } from '@electric-sql/pglite';
import {
  fsBundle,
  initdbArgs,
  initdbWasm,
  pgdata,
  pgliteVersion,
  pgliteWasm,
  postgresArgs,
  sideModules,
} from './pglite-wasm/generated/modules.js';

export interface WorkerdPGliteOptions {
  /** A `dumpDataDir()` tarball to start from. */
  dataDir?: Blob | File;
  /** Without `dataDir`: start from the data directory generated at build time (default), or run initdb (false). */
  preinitialized?: boolean;
}

export async function createWorkerdPGlite(opts: WorkerdPGliteOptions = {}): Promise<PGlite> {
  installWasmShim();
  const tar = opts.dataDir ? await tarBytes(opts.dataDir) : opts.preinitialized === false ? undefined : new Uint8Array(pgdata);
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
  instantiate(src: Bytes | WebAssembly.Module, imports?: object): Promise<unknown>;
};

// On globalThis, so that a second evaluation of this module (tests) does not wrap twice.
const SHIM = Symbol.for('@dotdo/vitess/pglite-wasm-shim');
type ShimState = { modules: Readonly<Record<string, WebAssembly.Module>> };

/** Idempotent: route WebAssembly.Module/compile/instantiate on bytes to the precompiled modules. */
export function installWasmShim(): void {
  const g = globalThis as { [SHIM]?: ShimState };
  if (g[SHIM]) {
    g[SHIM].modules = sideModules;
    return;
  }
  const state: ShimState = (g[SHIM] = { modules: sideModules });
  const wasm = WebAssembly as unknown as WasmApi;
  const { Module, instantiate } = wasm;
  const isBytes = (src: unknown): src is Bytes => src instanceof ArrayBuffer || ArrayBuffer.isView(src);
  const precompiled = (src: Bytes): WebAssembly.Module => {
    const bytes = src instanceof ArrayBuffer ? new Uint8Array(src) : new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    const hash = sha256Hex(bytes);
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
    construct: (target, args, newTarget) =>
      isBytes(args[0]) ? precompiled(args[0]) : Reflect.construct(target, args, newTarget),
  });
  wasm.compile = async (bytes) => precompiled(bytes);
  wasm.instantiate = async (src, imports) => {
    if (!isBytes(src)) return instantiate(src, imports);
    const module = precompiled(src);
    return { module, instance: await instantiate(module, imports) };
  };
}

// SHA-256 (FIPS 180-4). Sync, because `new WebAssembly.Module(bytes)` is; crypto.subtle is async
// and node:crypto needs nodejs_compat. Only run on the few small buffers PGlite compiles.
const K = Uint32Array.from(
  '428a2f98 71374491 b5c0fbcf e9b5dba5 3956c25b 59f111f1 923f82a4 ab1c5ed5 d807aa98 12835b01 243185be 550c7dc3 72be5d74 80deb1fe 9bdc06a7 c19bf174 e49b69c1 efbe4786 0fc19dc6 240ca1cc 2de92c6f 4a7484aa 5cb0a9dc 76f988da 983e5152 a831c66d b00327c8 bf597fc7 c6e00bf3 d5a79147 06ca6351 14292967 27b70a85 2e1b2138 4d2c6dfc 53380d13 650a7354 766a0abb 81c2c92e 92722c85 a2bfe8a1 a81a664b c24b8b70 c76c51a3 d192e819 d6990624 f40e3585 106aa070 19a4c116 1e376c08 2748774c 34b0bcb5 391c0cb3 4ed8aa4a 5b9cca4f 682e6ff3 748f82ee 78a5636f 84c87814 8cc70208 90befffa a4506ceb bef9a3f7 c67178f2'
    .split(' ')
    .map((h) => parseInt(h, 16)),
);

function sha256Hex(data: Uint8Array): string {
  const blocks = new Uint8Array((((data.length + 8) >> 6) + 1) << 6);
  blocks.set(data);
  blocks[data.length] = 0x80;
  const view = new DataView(blocks.buffer);
  view.setUint32(blocks.length - 8, Math.floor(data.length / 0x20000000)); // bit length, high word
  view.setUint32(blocks.length - 4, (data.length << 3) >>> 0);
  const H = Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19);
  const W = new Uint32Array(64);
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < blocks.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const x = W[i - 15]!;
      const y = W[i - 2]!;
      W[i] = (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[i - 16]! + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10)) + W[i - 7]!;
    }
    let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0]! += a; H[1]! += b; H[2]! += c; H[3]! += d; H[4]! += e; H[5]! += f; H[6]! += g; H[7]! += h;
  }
  return Array.from(H, (x) => x.toString(16).padStart(8, '0')).join('');
}
