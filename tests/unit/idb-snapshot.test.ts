// engines/idb-snapshot.ts: which files a snapshot of PGlite's data directory writes to IndexedDB.
import { describe, expect, test } from 'vitest';
import { diffSnapshot, type Stamp } from '../../engines/idb-snapshot.js';

const files = (entries: Record<string, Stamp>) => new Map(Object.entries(entries));

describe('diffSnapshot', () => {
  test('writes new and changed files, deletes gone ones, and records what the store then holds', () => {
    const stored = files({ '/a': { mtime: 10, size: 8 }, '/b': { mtime: 10, size: 8 }, '/gone': { mtime: 5, size: 1 } });
    const now = files({ '/a': { mtime: 10, size: 8 }, '/b': { mtime: 12, size: 8 }, '/new': { mtime: 12, size: 3 } });
    const d = diffSnapshot(stored, now, 100);
    expect(d.put.sort()).toEqual(['/b', '/new']);
    expect(d.remove).toEqual(['/gone']);
    expect(d.next).toEqual(now);
    expect(diffSnapshot(d.next, now, 100).put).toEqual([]);
  });

  test('a truncate keeps the mtime (MEMFS) but changes the size: written', () => {
    expect(diffSnapshot(files({ '/a': { mtime: 10, size: 8192 } }), files({ '/a': { mtime: 10, size: 0 } }), 100).put).toEqual(['/a']);
  });

  test('a file stamped in the millisecond of the snapshot is written again by the next one', () => {
    const now = files({ '/wal': { mtime: 100, size: 8 }, '/old': { mtime: 99, size: 8 } });
    const first = diffSnapshot(new Map(), now, 100);
    expect(first.put.sort()).toEqual(['/old', '/wal']);
    // A second write in that millisecond leaves the same stamp: only this rule catches it.
    const second = diffSnapshot(first.next, now, 101);
    expect(second.put).toEqual(['/wal']);
    expect(diffSnapshot(second.next, now, 102).put).toEqual([]);
  });
});
