/**
 * PGlite's IndexedDB filesystem, saved by snapshots at transaction boundaries, in the background
 * (docs/browser.md, "Persistence").
 *
 * PGlite's own IdbFs runs Emscripten's IDBFS `syncfs` after every statement outside a transaction
 * (reads too, and the `BEGIN` of each transaction) and makes the statement wait for it: a walk of
 * the data directory, a cursor over every key of the store, then a copy of each changed file.
 * Here that per-statement hook does nothing. `flush()` (engines/pglite-idb.ts calls it after each
 * write) reads the files changed since the last snapshot in one synchronous step, holding PGlite's
 * transaction and query locks, so the copy is the database between two transactions; then writes
 * them in one IndexedDB transaction (atomic: a reload finds this snapshot or the one before),
 * while queries go on. Same keys and values as IDBFS, so PGlite's IdbFs and this read each other's
 * copies.
 */
import { IdbFs } from '@electric-sql/pglite';
import { diffSnapshot, type Stamp } from './idb-snapshot.js';

/** The part of Emscripten's FS used here. */
interface EmscriptenFs {
  lookupPath(path: string): { node: MemfsNode };
  isDir(mode: number): boolean;
  isLink(mode: number): boolean;
  readFile(path: string): Uint8Array;
  readlink(path: string): string;
}

/**
 * The fields of an Emscripten MEMFS node read here (IDBFS keeps the files in MEMFS). Walking the
 * nodes takes well under a millisecond for PGlite's ~1,000 files; FS.readdir and FS.lstat on
 * every path take 5-10 ms, and the walk holds PGlite's locks.
 */
interface MemfsNode {
  mode: number;
  /** A number, or a Date once IDBFS has restored it with FS.utime. */
  mtime: number | Date;
  /** Files: their length. */
  usedBytes?: number;
  /** Directories: their entries. */
  contents?: Record<string, MemfsNode> | Uint8Array;
}

/** IDBFS's record of a path. */
interface Entry {
  timestamp: Date;
  mode: number;
  contents?: Uint8Array;
  link?: string;
}

interface Snapshot {
  entries: [string, Entry][];
  remove: string[];
  next: Map<string, Stamp>;
}

const STORE = 'FILE_DATA';
/** IdbFs mounts the store at `/pglite/<dataDir>`, and IDBFS names the IndexedDB database after that path. */
const ROOT = '/pglite';

const stamp = (node: MemfsNode): Stamp => ({ mtime: +node.mtime, size: node.usedBytes ?? 0 });

export class SnapshotIdbFs extends IdbFs {
  /** What IndexedDB holds, per path. */
  #stored = new Map<string, Stamp>();
  #db: IDBDatabase | undefined;
  /** The snapshot being written, and the one waiting to be taken (callers before it begins share it). */
  #last: Promise<void> = Promise.resolve();
  #next: Promise<void> | undefined;

  get #mount(): string {
    return `${ROOT}/${this.dataDir}`;
  }

  get #fs(): EmscriptenFs {
    return this.pg!.Module.FS as unknown as EmscriptenFs;
  }

  /** PGlite's hook after each statement: nothing; writes are saved by `flush()`. */
  override async syncToFs(): Promise<void> {}

  override async initialSyncFs(): Promise<void> {
    await super.initialSyncFs(); // loads the stored files: the directory now matches the store
    this.#stored = new Map([...this.#scan()].map(([path, node]) => [path, stamp(node)]));
    this.#db = await openDatabase(this.#mount);
  }

  /**
   * Saves the files as they are after the current task (so that the reads a write set off, such
   * as live queries, run before the snapshot holds PGlite's locks). Calls made before the
   * snapshot begins share it. Resolves once IndexedDB has the files.
   */
  flush(): Promise<void> {
    if (!this.#next) {
      this.#next = Promise.all([this.#last.catch(() => undefined), nextTask()]).then(() => {
        this.#next = undefined;
        return this.#save();
      });
      this.#last = this.#next;
    }
    return this.#next;
  }

  override async closeFs(): Promise<void> {
    try {
      await this.flush(); // PGlite has shut Postgres down: this is its final state
    } finally {
      this.#db?.close();
      await super.closeFs();
    }
  }

  async #save(): Promise<void> {
    const pg = this.pg!;
    // No statement runs and no transaction is open while the files are read.
    const snap = await pg._runExclusiveTransaction(() => pg._runExclusiveQuery(async () => this.#take()));
    if (snap.entries.length || snap.remove.length) await this.#write(snap);
    this.#stored = snap.next;
  }

  /** Synchronous: the changed files' contents as of one moment. */
  #take(): Snapshot {
    const fs = this.#fs;
    const takenAt = Date.now();
    const files = this.#scan();
    const { put, remove, next } = diffSnapshot(this.#stored, new Map([...files].map(([path, node]) => [path, stamp(node)])), takenAt);
    const entries = put.map((path): [string, Entry] => {
      const { mode, mtime } = files.get(path)!;
      const timestamp = new Date(+mtime);
      if (fs.isDir(mode)) return [path, { timestamp, mode }];
      if (fs.isLink(mode)) return [path, { timestamp, mode, link: fs.readlink(path) }];
      return [path, { timestamp, mode, contents: fs.readFile(path) }];
    });
    return { entries, remove, next };
  }

  #scan(): Map<string, MemfsNode> {
    const fs = this.#fs;
    const out = new Map<string, MemfsNode>();
    const dirs: [string, MemfsNode][] = [[this.#mount, fs.lookupPath(this.#mount).node]];
    for (let d = dirs.pop(); d !== undefined; d = dirs.pop()) {
      for (const [name, node] of Object.entries(d[1].contents as Record<string, MemfsNode>)) {
        const path = `${d[0]}/${name}`;
        out.set(path, node);
        if (fs.isDir(node.mode)) dirs.push([path, node]);
      }
    }
    return out;
  }

  #write(snap: Snapshot): Promise<void> {
    return new Promise((resolve, reject) => {
      const tx = this.#db!.transaction(STORE, 'readwrite');
      const store = tx.objectStore(STORE);
      for (const [path, entry] of snap.entries) store.put(entry, path);
      for (const path of snap.remove) store.delete(path);
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
    });
  }
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

const requested = <T>(req: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

/** The database IDBFS created in `initialSyncFs` (opened at its version: no upgrade here). */
const openDatabase = (name: string): Promise<IDBDatabase> => requested(indexedDB.open(name));

/**
 * Whether IndexedDB holds no data directory `dataDir` yet (then PGlite may load one: it refuses to
 * over one it holds). A database without `PG_VERSION` (IDBFS creates it empty at start; a first
 * load closed before its first save leaves it so) counts as new: snapshots are atomic, so a store
 * has all of a data directory or nothing of it. Where `indexedDB.databases()` is missing, says no
 * (PGlite then runs initdb if it must).
 */
export async function isNewDataDir(dataDir: string): Promise<boolean> {
  if (typeof indexedDB.databases !== 'function') return false;
  const path = `${ROOT}/${dataDir}`;
  if (!(await indexedDB.databases()).some((db) => db.name === path)) return true;
  const db = await openDatabase(path);
  try {
    if (!db.objectStoreNames.contains(STORE)) return true;
    return (await requested(db.transaction(STORE).objectStore(STORE).count(`${path}/PG_VERSION`))) === 0;
  } finally {
    db.close();
  }
}
