// Cross-shard transactions end to end: the real client against the real Worker under
// `wrangler dev` (keyspace `main`, 4 DO SQLite shards). The bank: accounts on every shard,
// 500 concurrent transfers between accounts on different shards, each an interactive
// transaction committed with two-phase commit; the total never changes, no balance goes below
// zero (a CHECK constraint refuses it), every transfer is on both shards' logs or on neither,
// and nothing stays prepared; every transfer also sets a mark and each client reads its marks
// back, all recorded in a history (tests/support/history.ts) that the checker finds sound: no
// acknowledged transfer missing, no refused one applied, no read missing its session's writes,
// no read going back. Also: atomic batches across shards, and opposite-order updates
// (a deadlock across shards) resolved with a typed error for one and a commit for the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VitessError, type VitessClient } from '../../client/index.js';
import { bundleWorker, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders } from '../support/auth.js';
import { check, History } from '../support/history.js';
import { rng } from '../support/rng.js';
import { bankSetup, checkBank, finalMarks, recordedMarksRead, recordedTransfer, type Bank } from './bank-support.js';

const TRANSFERS = 500;
const CLIENTS = 8;
const MARKS_PER_CLIENT = 3;
const DEADLOCK_TIMEOUT_MS = 3_000;

let w: WranglerDev;
let bundle: Awaited<ReturnType<typeof bundleWorker>> | undefined;
const open: VitessClient[] = [];

beforeAll(async () => {
  // Bundled once and run as is: edits to the sources meanwhile do not reload the Worker.
  bundle = await bundleWorker('tests/e2e/twopc.wrangler.jsonc');
  w = await startWrangler({ config: bundle.config });
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()));
  await w?.stop();
  bundle?.remove();
});

function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  return {
    promise: new Promise<void>((r) => {
      open = r;
    }),
    open,
  };
}

async function client(): Promise<VitessClient> {
  const c = createClient({ endpoint: w.url, keyspace: 'main', retry: { attempts: 3, baseMs: 20, maxMs: 200 } });
  open.push(c);
  return c.connect();
}

describe('cross-shard transactions', () => {
  let bank: Bank;

  beforeAll(async () => {
    bank = await bankSetup(await client(), 'accounts', CLIENTS * MARKS_PER_CLIENT);
  });

  it(`${TRANSFERS} concurrent transfers between shards keep the total, never go negative, and apply on both shards or neither`, async () => {
    const random = rng(7);
    const plan = Array.from({ length: TRANSFERS }, () => bank.randomTransfer(random));
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => client()));
    const history = new History();
    let next = 0;
    await Promise.all(
      clients.map(async (client, slot) => {
        const session = { name: `client${slot}`, client };
        const marks = Array.from({ length: MARKS_PER_CLIENT }, (_, i) => slot * MARKS_PER_CLIENT + 1 + i);
        for (let i = next++, n = 1; i < plan.length; i = next++, n++) {
          // Mark values: the n-th transfer of this client; each mark written by this client only.
          await recordedTransfer(history, session, bank, plan[i]!, { id: marks[n % MARKS_PER_CLIENT]!, value: n }, { retry: 20, timeoutMs: 5_000 });
          if (n % 4 === 0) await recordedMarksRead(history, session, bank, marks);
        }
      }),
    );
    const outcomes = history.ops.filter((o) => o.kind === 'tx').map((o) => o.outcome);
    // Some transfers overdraw and are refused by the CHECK constraint; most commit; none is left unknown.
    expect(outcomes).toHaveLength(TRANSFERS);
    expect(outcomes.filter((o) => o === 'unknown')).toEqual([]);
    const committed = outcomes.filter((o) => o === 'ok').length;
    expect(committed).toBeGreaterThan(TRANSFERS / 2);
    expect(committed).toBeLessThan(TRANSFERS);
    const { transfers } = await checkBank(w, clients[0]!, bank);
    expect(transfers).toBe(committed);
    expect(check(history.ops, await finalMarks(clients[0]!, bank))).toEqual([]);
  }, 120_000);

  it('runs an atomic batch across shards: all of it, or (on a constraint error) none of it', async () => {
    const c = await client();
    const [a, b] = bank.pairOnDifferentShards();
    const before = await bank.balances(c, [a, b]);
    const ok = await c.batch(
      [
        { sql: 'UPDATE accounts SET balance = balance - 5 WHERE id = $1', params: [a] },
        { sql: 'UPDATE accounts SET balance = balance + 5 WHERE id = $1', params: [b] },
      ],
      { atomic: true, retry: 5 },
    );
    expect(ok.map((r) => r.affected)).toEqual([1, 1]);
    expect(ok[1]!.bookmark).toBeTruthy();
    const err = await c
      .batch(
        [
          { sql: 'UPDATE accounts SET balance = balance + 1 WHERE id = $1', params: [a] },
          { sql: 'UPDATE accounts SET balance = balance - 1000000 WHERE id = $1', params: [b] },
        ],
        { atomic: true },
      )
      .catch((e: unknown) => e as VitessError);
    expect(err).toMatchObject({ code: 'CONSTRAINT' });
    expect(await bank.balances(c, [a, b])).toEqual([before[0]! - 5, before[1]! + 5]);
  }, 30_000);

  /** T1 holds a and then wants b; T2 holds b and then wants a (a deadlock across shards). T1 begins first (it is older). */
  async function oppositeOrder(): Promise<{ results: PromiseSettledResult<void>[]; elapsed: number; a: number; b: number; before: number[] }> {
    const [c1, c2] = [await client(), await client()];
    const [a, b] = bank.pairOnDifferentShards();
    const before = await bank.balances(c1, [a, b]);
    const held = [latch(), latch()];
    const bothHeld = Promise.all(held.map((l) => l.promise));
    const started = Date.now();
    const t1 = c1.transaction(
      async (tx) => {
        await tx.execute('UPDATE accounts SET balance = balance - 1 WHERE id = $1', [a]);
        held[0]!.open();
        await bothHeld;
        await tx.execute('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [b]);
      },
      { timeoutMs: DEADLOCK_TIMEOUT_MS },
    );
    await held[0]!.promise;
    const t2 = c2.transaction(
      async (tx) => {
        await tx.execute('UPDATE accounts SET balance = balance - 2 WHERE id = $1', [b]);
        held[1]!.open();
        await bothHeld;
        await tx.execute('UPDATE accounts SET balance = balance + 2 WHERE id = $1', [a]);
      },
      { timeoutMs: DEADLOCK_TIMEOUT_MS },
    );
    const results = await Promise.allSettled([t1, t2]);
    return { results, elapsed: Date.now() - started, a, b, before };
  }

  /** The deadlock found, not waited out: one rolled back at once as a deadlock, the other committed. */
  function expectDeadlockFound({ results, elapsed }: Awaited<ReturnType<typeof oppositeOrder>>): void {
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason).toBeInstanceOf(VitessError);
    expect(failed[0]!.reason).toMatchObject({ code: 'CONFLICT', details: { construct: 'cross-shard deadlock' } });
    expect((failed[0]!.reason as VitessError).retryable).toBe(true);
    expect(elapsed).toBeLessThan(DEADLOCK_TIMEOUT_MS);
  }

  it('opposite-order updates on two shards: the deadlock is found, one fails with a typed retryable error at once, the other commits', async () => {
    const run = await oppositeOrder();
    expectDeadlockFound(run);
    // Exactly the committed one applied.
    const delta = run.results[0]!.status === 'fulfilled' ? [-1, 1] : [2, -2];
    expect(await bank.balances(await client(), [run.a, run.b])).toEqual([run.before[0]! + delta[0]!, run.before[1]! + delta[1]!]);
  }, 30_000);

  it('the same test fails with the waits-for graph switched off (the deadlock is only waited out)', async () => {
    const toggle = (on: boolean) => fetch(`${w.url}/test/deadlock-detection?on=${on}`, { method: 'POST', headers: authHeaders() });
    expect((await toggle(false)).ok).toBe(true);
    try {
      const run = await oppositeOrder();
      expect(() => expectDeadlockFound(run)).toThrow();
      // Still no harm done: at most one committed, and the total holds.
      expect(run.results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(1);
    } finally {
      await toggle(true);
    }
    await checkBank(w, await client(), bank);
  }, 30_000);
});
