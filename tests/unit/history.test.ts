// The history checker (tests/support/history.ts) on hand-made histories: a sound one passes, and
// each guarantee broken on purpose is caught, named, and only that one.
import { describe, expect, it } from 'vitest';
import { encodeBookmark, type Positions } from '../../rpc/bookmark.js';
import { check, History, type Op, type Value } from '../support/history.js';

const bm = (p: Positions = {}): string => encodeBookmark(p);

/** An operation of session `s` over logical times `[from, to]`, bookmark unchanged unless given. */
function op(s: string, kind: Op['kind'], kv: Record<string, Value>, [from, to]: [number, number], extra: Partial<Op> = {}): Op {
  return {
    session: s,
    kind,
    keys: Object.keys(kv),
    values: Object.values(kv),
    outcome: 'ok',
    bookmarkBefore: bm(),
    bookmarkAfter: bm(),
    startedAt: from,
    endedAt: to,
    ...extra,
  };
}

const kinds = (violations: string[]): string[] => [...new Set(violations.map((v) => v.slice(0, v.indexOf(':'))))];

describe('check', () => {
  it('passes a sound history: concurrent reads may miss, unknown writes may or may not land', () => {
    const h = [
      op('s1', 'write', { x: 1 }, [1, 2]),
      op('s1', 'read', { x: null }, [1, 3]), // concurrent with the write: either answer is fine
      op('s1', 'read', { x: 1 }, [4, 5]),
      op('s1', 'tx', { x: 2, y: 1 }, [6, 7]),
      op('s1', 'tx', { x: 3, y: 2 }, [8, 9], { outcome: 'failed' }), // rolled back
      op('s2', 'read', { x: null, y: null }, [6, 10]), // another session: no read-your-writes
      op('s1', 'read', { x: 2, y: 1 }, [10, 11]),
      op('s1', 'write', { y: 3 }, [12, 13], { outcome: 'unknown' }),
      op('s1', 'write', { x: 4 }, [12, 13], { outcome: 'unknown' }),
      op('s2', 'read', { x: 2, y: 3 }, [14, 15]),
    ];
    // y=3 landed, x=4 did not: both are allowed of an unknown outcome.
    expect(check(h, { x: 2, y: 3 })).toEqual([]);
  });

  it('catches a lost write', () => {
    const h = [op('s1', 'write', { x: 1 }, [1, 2]), op('s1', 'write', { x: 2 }, [3, 4])];
    expect(kinds(check(h, { x: 1 }))).toEqual(['lost write']);
    expect(kinds(check(h, {}))).toEqual(['lost write']);
    expect(check(h, { x: 2 })).toEqual([]);
  });

  it('catches a failed write in the final state or in a read', () => {
    const h = [op('s1', 'write', { x: 1 }, [1, 2]), op('s1', 'tx', { x: 2, y: 1 }, [3, 4], { outcome: 'failed' })];
    expect(kinds(check(h, { x: 2, y: 1 }))).toEqual(['failed write visible']);
    expect(check(h, { x: 1 })).toEqual([]);
    const read = [...h, op('s2', 'read', { y: 1 }, [5, 6])];
    expect(kinds(check(read, { x: 1 }))).toEqual(['failed write visible']);
  });

  it("catches a read that misses its session's acknowledged write", () => {
    const h = [op('s1', 'write', { x: 1 }, [1, 2]), op('s1', 'tx', { x: 2, y: 1 }, [3, 4]), op('s1', 'read', { x: 1, y: 1 }, [5, 6])];
    expect(kinds(check(h, { x: 2, y: 1 }))).toEqual(['read-your-writes']);
    // Absent counts as older than every value.
    expect(kinds(check([op('s1', 'write', { x: 1 }, [1, 2]), op('s1', 'read', { x: null }, [3, 4])], { x: 1 }))).toEqual(['read-your-writes']);
    // Not when the write was still in flight, or belongs to another session.
    expect(check([op('s1', 'write', { x: 1 }, [1, 3]), op('s1', 'read', { x: null }, [2, 4])], { x: 1 })).toEqual([]);
    expect(check([op('s1', 'write', { x: 1 }, [1, 2]), op('s2', 'read', { x: null }, [3, 4])], { x: 1 })).toEqual([]);
  });

  it('catches a session reading an older value after a newer one', () => {
    const w = [op('s1', 'write', { x: 1 }, [1, 2]), op('s1', 'write', { x: 2 }, [3, 4])];
    const h = [...w, op('s2', 'read', { x: 2 }, [5, 6]), op('s2', 'read', { x: 1 }, [7, 8])];
    expect(kinds(check(h, { x: 2 }))).toEqual(['monotonic reads']);
    // Overlapping reads, or reads of different sessions, are not ordered.
    expect(check([...w, op('s2', 'read', { x: 2 }, [5, 7]), op('s2', 'read', { x: 1 }, [6, 8])], { x: 2 })).toEqual([]);
    expect(check([...w, op('s2', 'read', { x: 2 }, [5, 6]), op('s3', 'read', { x: 1 }, [7, 8])], { x: 2 })).toEqual([]);
  });

  it('catches a session bookmark that moves back on a shard', () => {
    const h = [
      op('s1', 'write', { x: 1 }, [1, 3], { bookmarkAfter: bm({ a: 5, b: 2 }) }),
      op('s1', 'read', { y: null }, [2, 4], { bookmarkAfter: bm({ b: 3 }) }), // answered last, and dropped a
    ];
    const v = check(h, { x: 1 });
    expect(kinds(v)).toEqual(['bookmark moved back']);
    expect(v[0]).toMatch(/a 5 → 0/);
    expect(check([h[0]!, { ...h[1]!, bookmarkAfter: bm({ a: 5, b: 3 }) }], { x: 1 })).toEqual([]);
  });

  it('catches a transaction seen on one key and not on another', () => {
    const tx = op('s1', 'tx', { x: 1, y: 1 }, [1, 2], { outcome: 'unknown' });
    expect(kinds(check([tx], { x: 1, y: null }))).toEqual(['half-applied transaction']);
    // Seen by a read, though overwritten since: the other key must still have it (or newer).
    const later = op('s2', 'write', { x: 2 }, [5, 6]);
    expect(kinds(check([tx, op('s2', 'read', { x: 1 }, [3, 4]), later], { x: 2, y: null }))).toEqual(['half-applied transaction']);
    expect(check([tx, op('s2', 'read', { x: 1 }, [3, 4]), later], { x: 2, y: 1 })).toEqual([]);
    // An unknown transaction that did not land at all is fine.
    expect(check([tx], {})).toEqual([]);
  });

  it('refuses a history it cannot decide: writes of a key overlapping, or values not increasing', () => {
    expect(() => check([op('s1', 'write', { x: 1 }, [1, 3]), op('s2', 'write', { x: 2 }, [2, 4])], {})).toThrow(/not checkable/);
    expect(() => check([op('s1', 'write', { x: 2 }, [1, 2]), op('s1', 'write', { x: 1 }, [3, 4])], {})).toThrow(/not checkable/);
  });
});

describe('History.record', () => {
  it('records values, outcome, bookmarks and logical times, and does not rethrow', async () => {
    const h = new History();
    let bookmark = bm({ a: 1 });
    const session = { name: 's1', bookmark: () => bookmark };
    const w = h.record(
      session,
      { kind: 'write', keys: ['x'], values: [1] },
      async () => {
        bookmark = bm({ a: 2 });
      },
      () => 'unknown',
    );
    const r = h.record(
      session,
      { kind: 'read', keys: ['x'] },
      async () => [1],
      () => 'unknown',
    );
    const f = h.record(
      session,
      { kind: 'tx', keys: ['x', 'y'], values: [2, 1] },
      async () => {
        throw new Error('rolled back');
      },
      () => 'failed',
    );
    expect(await w).toMatchObject({ values: [1], outcome: 'ok', bookmarkBefore: bm({ a: 1 }), bookmarkAfter: bm({ a: 2 }), startedAt: 1 });
    expect(await r).toMatchObject({ values: [1], outcome: 'ok', startedAt: 2 });
    expect(await f).toMatchObject({ values: [2, 1], outcome: 'failed', startedAt: 3 });
    expect(h.ops.map((o) => o.endedAt).sort()).toEqual([4, 5, 6]);
  });
});
