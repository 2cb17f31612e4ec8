// Which files a snapshot of PGlite's data directory must write to IndexedDB, given what the
// store holds (pure: engines/pglite-idb-fs.ts does the I/O).

/** What says a file changed: Emscripten's MEMFS bumps `mtime` on write, and a truncate changes only the size. */
export interface Stamp {
  mtime: number;
  size: number;
}

export interface SnapshotDiff {
  /** New or changed since the store's copy: to write. */
  put: string[];
  /** In the store, gone from the directory: to delete. */
  remove: string[];
  /** What the store holds once the snapshot is written. */
  next: Map<string, Stamp>;
}

const same = (a: Stamp | undefined, b: Stamp): boolean => a !== undefined && a.mtime === b.mtime && a.size === b.size;

/**
 * `takenAt` is the clock (ms) when the files were read. A file stamped in that very millisecond
 * could be written again within it, keeping its stamp: it is recorded as unknown, so the next
 * snapshot copies it again rather than missing that write.
 */
export function diffSnapshot(stored: ReadonlyMap<string, Stamp>, now: ReadonlyMap<string, Stamp>, takenAt: number): SnapshotDiff {
  const put: string[] = [];
  const next = new Map<string, Stamp>();
  for (const [path, stamp] of now) {
    if (!same(stored.get(path), stamp)) put.push(path);
    next.set(path, stamp.mtime >= takenAt ? { mtime: Number.NaN, size: stamp.size } : stamp);
  }
  const remove = [...stored.keys()].filter((path) => !now.has(path));
  return { put, remove, next };
}
