// Cross-shard transactions end to end: the real client against the real Worker under
// `wrangler dev` (keyspace `main`, 4 DO SQLite shards). The bank: accounts on every shard,
// 500 concurrent transfers between accounts on different shards, each an interactive
// transaction committed with two-phase commit; the total never changes, no balance goes below
// zero (a CHECK constraint refuses it), every transfer is on both shards' logs or on neither,
// and nothing stays prepared. Also: atomic batches across shards, and opposite-order updates
// (a deadlock across shards) resolved with a typed error for one and a commit for the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VitessError, type VitessClient } from '../../client/index.js';
import { bundleWorker, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { rng } from '../support/rng.js';
import { bankSetup, checkBank, transfer, type Bank } from './bank-support.js';

const TRANSFERS = 500;
const CLIENTS = 8;

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
  return { promise: new Promise<void>((r) => { open = r; }), open };
}

async function client(): Promise<VitessClient> {
  const c = createClient({ endpoint: w.url, keyspace: 'main', retry: { attempts: 3, baseMs: 20, maxMs: 200 } });
  open.push(c);
  return c.connect();
}

describe('cross-shard transactions', () => {
  let bank: Bank;

  beforeAll(async () => {
    bank = await bankSetup(await client(), 'accounts');
  });

  it(`${TRANSFERS} concurrent transfers between shards keep the total, never go negative, and apply on both shards or neither`, async () => {
    const random = rng(7);
    const plan = Array.from({ length: TRANSFERS }, () => bank.randomTransfer(random));
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => client()));
    let next = 0;
    const outcomes = { committed: 0, refused: 0 };
    await Promise.all(clients.map(async (c) => {
      for (let i = next++; i < plan.length; i = next++) {
        const r = await transfer(c, 'accounts', plan[i]!, { retry: 20, timeoutMs: 5_000 });
        outcomes[r]++;
      }
    }));
    // Some transfers overdraw and are refused by the CHECK constraint; most commit.
    expect(outcomes.committed + outcomes.refused).toBe(TRANSFERS);
    expect(outcomes.committed).toBeGreaterThan(TRANSFERS / 2);
    expect(outcomes.refused).toBeGreaterThan(0);
    const { transfers } = await checkBank(w, clients[0]!, bank);
    expect(transfers).toBe(outcomes.committed);
  }, 120_000);

  it('runs an atomic batch across shards: all of it, or (on a constraint error) none of it', async () => {
    const c = await client();
    const [a, b] = bank.pairOnDifferentShards();
    const before = await bank.balances(c, [a, b]);
    const ok = await c.batch([
      { sql: 'UPDATE accounts SET balance = balance - 5 WHERE id = $1', params: [a] },
      { sql: 'UPDATE accounts SET balance = balance + 5 WHERE id = $1', params: [b] },
    ], { atomic: true, retry: 5 });
    expect(ok.map((r) => r.affected)).toEqual([1, 1]);
    expect(ok[1]!.bookmark).toBeTruthy();
    const err = await c.batch([
      { sql: 'UPDATE accounts SET balance = balance + 1 WHERE id = $1', params: [a] },
      { sql: 'UPDATE accounts SET balance = balance - 1000000 WHERE id = $1', params: [b] },
    ], { atomic: true }).catch((e: unknown) => e as VitessError);
    expect(err).toMatchObject({ code: 'CONSTRAINT' });
    expect(await bank.balances(c, [a, b])).toEqual([before[0]! - 5, before[1]! + 5]);
  }, 30_000);

  it('opposite-order updates on two shards: one fails with a typed retryable error within the timeout, the other commits', async () => {
    const [c1, c2] = [await client(), await client()];
    const [a, b] = bank.pairOnDifferentShards();
    const before = await bank.balances(c1, [a, b]);
    const TIMEOUT_MS = 3_000;
    const held = [latch(), latch()];
    const bothHeld = Promise.all(held.map((l) => l.promise));
    const started = Date.now();
    // T1 holds a and then wants b; T2 holds b and then wants a. T1 begins first (it is older).
    const t1 = c1.transaction(async (tx) => {
      await tx.execute('UPDATE accounts SET balance = balance - 1 WHERE id = $1', [a]);
      held[0]!.open();
      await bothHeld;
      await tx.execute('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [b]);
    }, { timeoutMs: TIMEOUT_MS });
    await held[0]!.promise;
    const t2 = c2.transaction(async (tx) => {
      await tx.execute('UPDATE accounts SET balance = balance - 2 WHERE id = $1', [b]);
      held[1]!.open();
      await bothHeld;
      await tx.execute('UPDATE accounts SET balance = balance + 2 WHERE id = $1', [a]);
    }, { timeoutMs: TIMEOUT_MS });
    const [r1, r2] = await Promise.allSettled([t1, t2]);
    const elapsed = Date.now() - started;
    const failed = [r1, r2].filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason).toBeInstanceOf(VitessError);
    expect((failed[0]!.reason as VitessError).retryable).toBe(true);
    expect(['CONFLICT', 'TIMEOUT']).toContain((failed[0]!.reason as VitessError).code);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 2_000);
    // Exactly the committed one applied.
    const delta = r1.status === 'fulfilled' ? [-1, 1] : [2, -2];
    expect(await bank.balances(c1, [a, b])).toEqual([before[0]! + delta[0]!, before[1]! + delta[1]!]);
  }, 30_000);
});
