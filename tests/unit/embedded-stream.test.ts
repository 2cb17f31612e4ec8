// The embedded replica's stream requests (replica/embedded/stream.ts): a request that never
// answers is cut by its deadline or for a waiter, and only a request issued before the waiter.
import { describe, expect, it } from 'vitest';
import { StreamRequests } from '../../replica/embedded/stream.js';

const never = () => new Promise<never>(() => {});

describe('StreamRequests', () => {
  it("answers with the request's answer, and passes its failure on", async () => {
    const r = new StreamRequests();
    await expect(r.run(async () => 7, 10_000)).resolves.toEqual({ answer: 7 });
    await expect(
      r.run(async () => {
        throw new Error('boom');
      }, 10_000),
    ).rejects.toThrow('boom');
    expect(r.issued).toBe(2);
    expect(r.signal).toBeUndefined();
  });

  it('cuts a request that stays unanswered past its deadline, and aborts its signal', async () => {
    const r = new StreamRequests();
    let signal: AbortSignal | undefined;
    const got = await r.run(() => {
      signal = r.signal;
      return never();
    }, 20);
    expect(got).toEqual({ cut: 'deadline' });
    expect(signal?.aborted).toBe(true);
  });

  it('a waiter cuts only a request issued by the time it started waiting', async () => {
    const r = new StreamRequests();
    const first = r.run(never, 60_000);
    const issued = r.issued; // a waiter starts while the first request is in flight
    expect(r.cutIssuedBy(issued)).toBe(true);
    await expect(first).resolves.toEqual({ cut: 'waiter' });
    const second = r.run(async () => {
      await new Promise((x) => setTimeout(x, 20));
      return 'page';
    }, 60_000);
    expect(r.cutIssuedBy(issued)).toBe(false); // issued after the waiter: it will see the write
    await expect(second).resolves.toEqual({ answer: 'page' });
    expect(r.cutIssuedBy(r.issued)).toBe(false); // nothing in flight
  });
});
