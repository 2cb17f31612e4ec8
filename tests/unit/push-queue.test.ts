// The tablet's push to one listener: one push in flight, records committed meanwhile coalesced
// into the next, in LSN order, read from the log as they leave; a failing listener (or one the
// log was trimmed past) is reported once.
import { describe, expect, it } from 'vitest';
import { PushQueue } from '../../primary/push-queue.js';
import type { LogRecord } from '../../rpc/changes.js';

const rec = (lsn: number): LogRecord => ({ lsn, ts: lsn, txid: `t${lsn}`, changes: [] });

/** A log of `last` records readable from `first` on, at most `page` per read. */
function log(page = 1_000) {
  const state = { last: 0, first: 1, reads: 0 };
  const read = (from: number): LogRecord[] => {
    state.reads++;
    if (from < state.first) throw new Error('trimmed');
    return Array.from({ length: Math.min(page, state.last - from + 1) }, (_, i) => rec(from + i));
  };
  const commit = (q: PushQueue) => q.send(++state.last);
  return { state, read, commit };
}

/** A listener whose pushes complete only when the test says so. */
function listener() {
  const calls: { lsns: number[]; done: () => void; fail: () => void }[] = [];
  const push = (records: LogRecord[]) =>
    new Promise<void>((done, reject) => {
      calls.push({ lsns: records.map((r) => r.lsn), done, fail: () => reject(new Error('gone')) });
    });
  return { calls, push };
}

const settle = () => new Promise<void>((r) => setTimeout(r, 0));

describe('PushQueue', () => {
  it('pushes when idle, coalesces what commits in the same turn or while a push is in flight', async () => {
    const l = listener();
    const g = log();
    let failed = 0;
    const q = new PushQueue(0, g.read, l.push, () => failed++);
    g.commit(q);
    await settle();
    expect(l.calls.map((c) => c.lsns)).toEqual([[1]]);
    g.commit(q);
    g.commit(q);
    await settle();
    expect(l.calls).toHaveLength(1);
    l.calls[0]!.done();
    await settle();
    expect(l.calls.map((c) => c.lsns)).toEqual([[1], [2, 3]]);
    l.calls[1]!.done();
    await settle();
    g.commit(q);
    g.commit(q);
    await settle();
    expect(l.calls.map((c) => c.lsns)).toEqual([[1], [2, 3], [4, 5]]);
    expect(g.state.reads).toBe(3);
    expect(failed).toBe(0);
  });

  it('starts after the LSN the listener has', async () => {
    const l = listener();
    const g = log();
    g.state.last = 7;
    const q = new PushQueue(7, g.read, l.push, () => undefined);
    g.commit(q);
    await settle();
    expect(l.calls.map((c) => c.lsns)).toEqual([[8]]);
  });

  it.each([
    ['its push fails', (l: ReturnType<typeof listener>) => l.calls[0]!.fail()],
    [
      'the log was trimmed past it',
      (l: ReturnType<typeof listener>, g: ReturnType<typeof log>) => {
        g.state.first = 3;
        l.calls[0]!.done();
      },
    ],
  ])('reports a listener once when %s, and stops pushing to it', async (_, cut) => {
    const l = listener();
    const g = log();
    let failed = 0;
    const q = new PushQueue(0, g.read, l.push, () => failed++);
    g.commit(q);
    await settle();
    g.commit(q);
    cut(l, g);
    await settle();
    expect(failed).toBe(1);
    expect(l.calls).toHaveLength(1);
  });

  it('sends a slow listener everything it missed, a page per push, and holds nothing but LSNs', async () => {
    const l = listener();
    const g = log(400);
    const q = new PushQueue(0, g.read, l.push, () => undefined);
    g.commit(q);
    await settle();
    for (let i = 0; i < 1_001; i++) g.commit(q);
    for (let i = 1; i <= 3; i++) {
      l.calls[i - 1]!.done();
      await settle();
    }
    expect(l.calls.map((c) => [c.lsns[0], c.lsns.at(-1)])).toEqual([
      [1, 1],
      [2, 401],
      [402, 801],
      [802, 1_002],
    ]);
  });
});
