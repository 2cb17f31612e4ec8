/**
 * The PGlite engine of a browser replica kept in IndexedDB (`path: 'idb://name'`; docs/browser.md,
 * "Persistence"). After each unit of work that may write (a transaction, an atomic batch, a
 * statement other than a read, a bulk `loadJson`) it asks the filesystem for a snapshot, and does
 * not wait for it: the change is applied, and shown, while IndexedDB is written behind it. A
 * reload finds the state after some committed transaction, with the replica's rows and stream
 * positions from the same one.
 */
import { PGlite } from '@electric-sql/pglite';
import type { PageText, ResultSet, Statement } from '../rpc/results.js';
import { VitessError } from '../rpc/errors.js';
import type { SqlValue } from '../rpc/values.js';
import { isReadStatement } from './dialect/read-only.js';
import type { BatchOptions, Executor } from './engine.js';
import { isNewDataDir, SnapshotIdbFs } from './pglite-idb-fs.js';
import { PgliteEngine } from './pglite.js';

/**
 * Set by scripts/build-browser.mjs (esbuild `define`): PGlite's wasm, its fs bundle and a data
 * directory made at build time (after initdb), under content-hashed names relative to the bundle, served
 * as immutable (docs/browser.md, "First load"). Elsewhere (the package's own dist/), undefined:
 * PGlite then fetches its files itself and runs initdb.
 */
declare const PGLITE_BROWSER_FILES: { wasm: string; data: string; pgdata: string } | undefined;

export class IdbPgliteEngine extends PgliteEngine {
  /** A snapshot that could not be written: later writes are refused (they would not be kept). */
  #failed: VitessError | undefined;
  /** While true, saves are not taken but remembered (`releaseSaves`). */
  #holding: boolean;
  #wanted: boolean;

  /** `holdSaves`: opened with saves held, what start-up wrote (a new database's files) not saved yet. */
  constructor(
    pg: PGlite,
    private readonly files: SnapshotIdbFs,
    private readonly where: string,
    holdSaves = false,
  ) {
    super(pg);
    this.#holding = this.#wanted = holdSaves;
  }

  /**
   * Takes the saves asked for while held, as one. A replica's copy holds them: a reload during a
   * copy starts it over whatever was saved, and the first snapshot of a new database (~12 MB)
   * would otherwise hold PGlite's locks and the page's thread in the middle of it.
   */
  releaseSaves(): void {
    this.#holding = false;
    if (this.#wanted) this.#save();
  }

  override query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    return isReadStatement(sql) ? super.query(sql, params) : this.#write(() => super.query(sql, params));
  }

  override batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    // Without `atomic` each statement goes through query().
    return opts.atomic ? this.#write(() => super.batch(statements, opts)) : super.batch(statements, opts);
  }

  override transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.#write(() => super.transaction(fn));
  }

  override loadJson(table: string, primaryKey: string[], page: PageText): Promise<number> {
    return this.#write(() => super.loadJson(table, primaryKey, page));
  }

  async #write<T>(run: () => Promise<T>): Promise<T> {
    if (this.#failed) throw this.#failed;
    try {
      return await run();
    } finally {
      this.#save();
    }
  }

  #save(): void {
    this.#wanted = this.#holding;
    if (this.#holding) return;
    this.files.flush().catch((e: unknown) => {
      this.#failed ??= new VitessError('INTERNAL', `could not save ${this.where} to IndexedDB: ${e instanceof Error ? e.message : String(e)}`);
    });
  }
}

/**
 * PGlite in the IndexedDB database `name`, created on first use. Its files are fetched together,
 * and a new database starts from the data directory made at build time instead of running initdb
 * (two PGlite instances and initdb's own wasm: seconds). Resolves once what start-up wrote is
 * saved; with `holdSaves` at once, leaving that save, and every later one, to `releaseSaves()`.
 */
export async function openIdbPglite(name: string, opts: { holdSaves?: boolean } = {}): Promise<IdbPgliteEngine> {
  const files = new SnapshotIdbFs(name);
  const built = typeof PGLITE_BROWSER_FILES === 'undefined' ? undefined : PGLITE_BROWSER_FILES;
  const [assets, seed] = built ? await Promise.all([fetchAssets(built), isNewDataDir(name).then((yes) => (yes ? fetchGzipped(built.pgdata) : undefined))]) : [];
  // Marks on the page's timeline (bench/browser.mjs reads them): PGlite's files are in, then it has started.
  performance.mark('vitess:pglite-files');
  const pg = await PGlite.create({
    fs: files,
    ...assets,
    ...(seed && { loadDataDir: seed }),
    // 1 MiB WAL segments instead of 16: the segment being written is copied whole by each
    // snapshot. Only initdb reads this (the data directory made at build time has them too); a
    // database made with 16 MiB segments keeps them.
    initDbStartParams: ['--wal-segsize=1'],
  });
  performance.mark('vitess:pglite-started');
  if (!opts.holdSaves) {
    try {
      await files.flush();
    } catch (e) {
      await pg.close().catch(() => undefined);
      throw e;
    }
  }
  return new IdbPgliteEngine(pg, files, `idb://${name}`, opts.holdSaves);
}

const fileUrl = (file: string) => new URL(file, import.meta.url);

async function fetchOk(file: string): Promise<Response> {
  const res = await fetch(fileUrl(file));
  if (!res.ok) throw new VitessError('UNAVAILABLE', `could not fetch PGlite's ${fileUrl(file).href}: HTTP ${res.status}`);
  return res;
}

/**
 * A file gzipped at build time (served as it is: the fs bundle is 2.1 MB gzipped, 6.2 MB not),
 * unzipped here; or already unzipped on the way, if something sent it with a Content-Encoding.
 */
async function fetchGzipped(file: string): Promise<Blob> {
  const bytes = await (await fetchOk(file)).blob();
  const magic = new Uint8Array(await bytes.slice(0, 2).arrayBuffer());
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return bytes;
  return new Response(bytes.stream().pipeThrough(new DecompressionStream('gzip'))).blob();
}

/** The wasm, compiled while it downloads, and the fs bundle beside it. */
async function fetchAssets(built: NonNullable<typeof PGLITE_BROWSER_FILES>): Promise<{ pgliteWasmModule: WebAssembly.Module; fsBundle: Blob }> {
  const [pgliteWasmModule, fsBundle] = await Promise.all([WebAssembly.compileStreaming(fetchOk(built.wasm)), fetchGzipped(built.data)]);
  return { pgliteWasmModule, fsBundle };
}
