// The tablet's push to one listener: one push in flight, records committed meanwhile coalesced
// into the next, in LSN order; a failing listener is reported once and its queue dropped.
import { describe, expect, it } from 'vitest';
import { PushQueue } from '../../primary/push-queue.js';
import type { LogRecord } from '../../rpc/changes.js';

const rec = (lsn: number): LogRecord => ({ lsn, ts: lsn, txid: `t${lsn}`, changes: [] });

/** A listener whose pushes complete only when the test says so. */
function listener() {
  const calls: { lsns: number[]; done: () => void; fail: () => void }[] = [];
  const push = (records: LogRecord[]) => new Promise<void>((done, reject) => {
    calls.push({ lsns: records.map((r) => r.lsn), done, fail: () => reject(new Error('gone')) });
  });
  return { calls, push };
}

const settle = () => new Promise<void>((r) => setTimeout(r, 0));

describe('PushQueue', () => {
  it('pushes at once when idle, then coalesces what commits while a push is in flight', async () => {
    const l = listener();
    let failed = 0;
    const q = new PushQueue(l.push, () => failed++);
    q.send(rec(1));
    expect(l.calls.map((c) => c.lsns)).toEqual([[1]]);
    q.send(rec(2));
    q.send(rec(3));
    expect(l.calls).toHaveLength(1);
    l.calls[0]!.done();
    await settle();
    expect(l.calls.map((c) => c.lsns)).toEqual([[1], [2, 3]]);
    l.calls[1]!.done();
    await settle();
    q.send(rec(4));
    expect(l.calls.map((c) => c.lsns)).toEqual([[1], [2, 3], [4]]);
    expect(failed).toBe(0);
  });

  it('reports a failed push once and drops what was queued (the listener pulls it)', async () => {
    const l = listener();
    let failed = 0;
    const q = new PushQueue(l.push, () => failed++);
    q.send(rec(1));
    q.send(rec(2));
    l.calls[0]!.fail();
    await settle();
    expect(failed).toBe(1);
    expect(l.calls).toHaveLength(1);
  });

  it('holds at most 1,000 records for a slow listener; the gap is left to pull', async () => {
    const l = listener();
    const q = new PushQueue(l.push, () => undefined);
    q.send(rec(1));
    for (let lsn = 2; lsn <= 1_002; lsn++) q.send(rec(lsn));
    l.calls[0]!.done();
    await settle();
    expect(l.calls[1]!.lsns).toEqual([1_002]);
  });
});
