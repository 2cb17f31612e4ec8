// Cross-shard transactions under crashes: the bank (bank-support.ts) on persisted state, the
// whole Worker process (wrangler and workerd) SIGKILLed 20 times while transfers run — at an
// exact two-phase-commit step (after every participant prepared, after the decision, between
// two participants' commits; tests/e2e/twopc-worker.ts stops the first transaction there) or
// at a random moment — and restarted. After recovery: the total is unchanged, no balance is
// negative, every transfer is on both shards' logs or neither, nothing is prepared anywhere and
// every coordinator record is decided and acknowledged.
//
// The first round also checks what docs/transactions.md says readers see while a cross-shard
// transaction commits: between two shards' commits, a strong read sees the first shard's
// write and not yet the second's; after recovery both.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createClient, type VitessClient } from '../../client/index.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { rng } from '../support/rng.js';
import { ACCOUNTS, bankSetup, checkBank, inDoubt, OPENING, transfer, type Bank } from './bank-support.js';

const KILLS = 20;
const CLIENTS = 4;
const STEPS = ['after-prepare', 'after-decision', 'during-commit', 'random'] as const;

const dirs: string[] = [];
afterAll(async () => { await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))); });

const start = (persistTo: string, failpoint?: string) =>
  startWrangler({ config: 'tests/e2e/twopc.wrangler.jsonc', persistTo, ...(failpoint && { vars: { FAILPOINT: failpoint } }) });

const connect = (w: WranglerDev): Promise<VitessClient> =>
  createClient({ endpoint: w.url, keyspace: 'main', retry: { attempts: 2, baseMs: 20, maxMs: 100 } }).connect();

const reached = async (w: WranglerDev): Promise<string[]> => ((await (await fetch(`${w.url}/test/failpoint`)).json()) as { reached: string[] }).reached;

/** Recovery is done when nothing is prepared and every coordinator record is decided and acknowledged by all. */
async function recovered(w: WranglerDev): Promise<boolean> {
  const d = await inDoubt(w);
  return !Object.keys(d.prepared).length && d.records.every((r) => r.decision !== null && r.acked.length === r.participants.length);
}

it(`the bank survives ${KILLS} kills at two-phase-commit steps and at random moments`, async () => {
  const persistTo = await mkdtemp(join(tmpdir(), 'vitess-bank-'));
  dirs.push(persistTo);
  const random = rng(11);
  let w = await start(persistTo, 'during-commit');
  let bank: Bank;
  try {
    const c = await connect(w);
    bank = await bankSetup(c, 'accounts');
    // Round 1: one transfer stopped between its two shards' commits.
    const [a, b] = bank.pairOnDifferentShards();
    void transfer(c, 'accounts', { from: a, to: b, amount: 100 }, {}).catch(() => undefined);
    await expect.poll(() => reached(w), { timeout: 30_000, interval: 50 }).toEqual(['during-commit']);
    const reader = await connect(w);
    // The debit's shard committed, the credit's is prepared: its reads show the state before.
    expect(await bank.balances(reader, [a, b])).toEqual([OPENING - 100, OPENING]);
    await reader.disconnect();
    await w.kill();
  } finally {
    await w.stop();
  }

  for (let round = 2; round <= KILLS; round++) {
    const step = STEPS[round % STEPS.length]!;
    w = await start(persistTo, step === 'random' ? undefined : step);
    try {
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(w)));
      let stop = false;
      let committed = 0;
      const load = clients.map(async (c) => {
        while (!stop) {
          const r = await transfer(c, 'accounts', bank.randomTransfer(random), { retry: 3, timeoutMs: 5_000 }).catch(() => 'failed');
          if (r === 'committed') committed++;
          if (r === 'failed' && stop) return;
        }
      });
      if (step === 'random') {
        const target = committed + 1 + random.int(6);
        await expect.poll(() => committed, { timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(target);
      } else {
        await expect.poll(() => reached(w), { timeout: 60_000, interval: 50 }).toEqual([step]);
      }
      await w.kill();
      stop = true;
      await Promise.all(load);
    } finally {
      await w.stop();
    }
  }

  w = await start(persistTo);
  try {
    await expect.poll(() => recovered(w), { timeout: 60_000, interval: 250 }).toBe(true);
    const c = await connect(w);
    const { transfers } = await checkBank(w, c, bank!);
    expect(transfers).toBeGreaterThan(KILLS / 2);
    // The first round's transfer was finished by recovery: on both shards.
    const rows = await c.query<{ total: number }>('SELECT sum(balance) AS total FROM accounts', [], { consistency: 'strong' });
    expect(Number(rows.rows[0]!.total)).toBe(ACCOUNTS * OPENING);
    await c.disconnect();
  } finally {
    await w.stop();
  }
}, 900_000);
