// Cross-shard transactions under crashes, on both engines: the bank (bank-support.ts) on one
// persisted state directory, the whole Worker process (wrangler and workerd) SIGKILLed 10 times
// (20 in `npm run test:faults`)
// while a few transfers run — at an exact step (coordinator: after every participant prepared,
// after the decision, between two participants' commits; tablet: a participant's prepared state
// durable but not answered, a commitPrepared applied but not answered, a write applied but its
// log record not yet durable; tests/e2e/twopc-worker.ts stops the n-th time a step is reached)
// or at a random moment — and restarted. After every restart, before any new transaction could
// wake a coordinator, recovery must finish on its own (the coordinators' alarms survive the
// kill): nothing prepared anywhere, every coordinator record decided and acknowledged; then the
// total is unchanged, no balance is negative, and every transfer is on both shards' logs or on
// neither.
//
// Outcomes, not only sums: every transfer also sets a mark, and each client records what it was
// told (committed, refused, or unknown when the process died under it) and reads its marks back
// (session consistency) in a history (tests/support/history.ts). At the end the checker finds no
// acknowledged transfer missing, no refused one applied, no read missing its session's writes.
//
// The first round also checks what docs/transactions.md says readers see while a cross-shard
// transaction commits: between two shards' commits, a strong read sees the first shard's
// write (the debit) and not yet the second's (the credit); after recovery both.
//
// The Worker is bundled once (wrangler deploy --dry-run) and every start runs that bundle
// (--no-bundle): a start does not bundle again, and edits to the sources while the test runs
// do not reload the Worker under it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type VitessClient } from '../../client/index.js';
import { bundleWorker, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders } from '../support/auth.js';
import { check, History } from '../support/history.js';
import { rng } from '../support/rng.js';
import {
  ACCOUNTS,
  BANK_KEYSPACES,
  bankOutcome,
  bankSetup,
  checkBank,
  finalMarks,
  inDoubt,
  OPENING,
  recordedMarksRead,
  recordedTransfer,
  transfer,
  type Bank,
} from './bank-support.js';

const KILLS = Number(process.env.VITESS_KILLS ?? 10);
const CLIENTS = 3;
const MARKS_PER_CLIENT = 4;
const STEPS = ['after-prepare', 'tablet-prepared', 'after-decision', 'tablet-commit-prepared', 'during-commit', 'tablet-capture', 'random'] as const;
const CONFIG = 'tests/e2e/twopc.wrangler.jsonc';

const dirs: string[] = [];
let bundle: Awaited<ReturnType<typeof bundleWorker>> | undefined;
const starts: number[] = [];
const recoveries: number[] = [];

beforeAll(async () => {
  bundle = await bundleWorker(CONFIG);
}, 180_000);
afterAll(async () => {
  bundle?.remove();
  console.log(
    `bank-faults: wrangler starts ${starts.map((ms) => (ms / 1000).toFixed(1)).join(' ')} s; recovery after restart ${recoveries.map((ms) => (ms / 1000).toFixed(1)).join(' ')} s`,
  );
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function start(persistTo: string): Promise<WranglerDev> {
  const t = Date.now();
  const w = await startWrangler({ config: bundle!.config, persistTo, timeoutMs: 300_000 });
  starts.push(Date.now() - t);
  return w;
}

/** Arms a failpoint (after recovery: armed earlier, recovery's own resends would stop there). */
async function arm(w: WranglerDev, failpoint: string): Promise<void> {
  expect((await fetch(`${w.url}/test/arm?failpoint=${failpoint}`, { method: 'POST', headers: authHeaders() })).ok).toBe(true);
}

const connect = (w: WranglerDev, keyspace: string): Promise<VitessClient> =>
  createClient({ endpoint: w.url, keyspace, retry: { attempts: 2, baseMs: 20, maxMs: 100 } }).connect();

const reached = async (w: WranglerDev): Promise<string[]> =>
  ((await (await fetch(`${w.url}/test/failpoint`, { headers: authHeaders() })).json()) as { reached: string[] }).reached;

type InDoubt = Awaited<ReturnType<typeof inDoubt>>;

/** Recovery is done when nothing is prepared and every coordinator record is decided and acknowledged by all. */
const isRecovered = (d: InDoubt): boolean =>
  !Object.keys(d.prepared).length && d.records.every((r) => r.decision !== null && r.acked.length === r.participants.length);

/** Waits for recovery with no transaction of our own in flight: only the coordinators' alarms can do it. */
async function awaitRecovery(w: WranglerDev, keyspace: string): Promise<void> {
  const t = Date.now();
  let last: InDoubt | string = 'no answer';
  while (Date.now() - t < 30_000) {
    last = await inDoubt(w, keyspace).catch((e: unknown) => `no answer: ${String(e)}`);
    if (typeof last !== 'string' && isRecovered(last)) {
      recoveries.push(Date.now() - t);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`recovery did not finish within 30 s; in doubt: ${JSON.stringify(last)}\n--- wrangler output ---\n${w.output().slice(-4000)}`);
}

describe.each(BANK_KEYSPACES)('keyspace $keyspace ($engine)', ({ keyspace }) => {
  it(`the bank survives ${KILLS} kills at two-phase-commit steps and at random moments, and every client was told the truth`, async () => {
    const persistTo = await mkdtemp(join(tmpdir(), `vitess-bank-${keyspace}-`));
    dirs.push(persistTo);
    const random = rng(11);
    let bank!: Bank;
    let firstTransfer: [number, number] = [0, 0];
    const history = new History();
    // Each client slot owns its marks and writes them one at a time: each mark's values increase in time.
    const written = new Map<number, number>();
    const nextMark = (slot: number, n: number): { id: number; value: number } => {
      const id = slot * MARKS_PER_CLIENT + 1 + (n % MARKS_PER_CLIENT);
      written.set(id, (written.get(id) ?? 0) + 1);
      return { id, value: written.get(id)! };
    };

    // Round 1: one transfer stopped between its two shards' commits.
    let w = await start(persistTo);
    try {
      await arm(w, 'during-commit');
      const c = await connect(w, keyspace);
      const marks = CLIENTS * MARKS_PER_CLIENT;
      await history.record(
        { name: 'setup', bookmark: () => c.bookmark },
        { kind: 'write', keys: Array.from({ length: marks }, (_, i) => `mark${i + 1}`), values: Array.from({ length: marks }, () => 0) },
        async () => {
          bank = await bankSetup(c, 'accounts', marks);
        },
        bankOutcome,
      );
      firstTransfer = bank.pairOnDifferentShards();
      const [a, b] = firstTransfer;
      void transfer(c, 'accounts', { from: a, to: b, amount: 100 }, {}).catch(() => undefined);
      await expect.poll(() => reached(w), { timeout: 30_000, interval: 50 }).toEqual(['during-commit']);
      const reader = await connect(w, keyspace);
      // The debit's shard committed; the credit's is prepared, and its reads show the state before.
      expect(await bank.balances(reader, [a, b])).toEqual([OPENING - 100, OPENING]);
      await reader.disconnect();
      await w.kill();
    } finally {
      await w.stop();
    }

    for (let round = 2; round <= KILLS; round++) {
      const step = STEPS[round % STEPS.length]!;
      w = await start(persistTo);
      try {
        await awaitRecovery(w, keyspace);
        if (step !== 'random') await arm(w, `${step}:${1 + random.int(3)}`);
        const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(w, keyspace)));
        await checkBank(w, clients[0]!, bank);
        if (round === 2) {
          // Recovery finished the first round's transfer: the credit is there too.
          expect(await bank.balances(clients[0]!, firstTransfer)).toEqual([OPENING - 100, OPENING + 100]);
        }
        let stop = false;
        let committed = 0;
        const load = clients.map(async (client, slot) => {
          const session = { name: `round${round}/client${slot}`, client };
          for (let n = 0; !stop; n++) {
            const mark = nextMark(slot, n);
            // The first of every five would overdraw any account: refused, so the history holds failures to check too.
            const t = bank.randomTransfer(random);
            const op = await recordedTransfer(history, session, bank, n % 5 === 0 ? { ...t, amount: ACCOUNTS * OPENING + 1 } : t, mark, {
              retry: 3,
              timeoutMs: 5_000,
            });
            if (op.outcome === 'ok') committed++;
            if (op.outcome === 'unknown') break; // the process is going down
            const read = await recordedMarksRead(
              history,
              session,
              bank,
              Array.from({ length: MARKS_PER_CLIENT }, (_, i) => slot * MARKS_PER_CLIENT + 1 + i),
            );
            if (read.outcome === 'unknown') break;
          }
        });
        if (step === 'random') {
          const target = 1 + random.int(4);
          await expect.poll(() => committed, { timeout: 60_000, interval: 10 }).toBeGreaterThanOrEqual(target);
        } else {
          await expect.poll(() => reached(w), { timeout: 60_000, interval: 50 }).toEqual([step]);
        }
        stop = true;
        await w.kill();
        await Promise.all(load);
        await Promise.all(clients.map((c) => c.disconnect()));
      } finally {
        await w.stop();
      }
    }

    w = await start(persistTo);
    try {
      await awaitRecovery(w, keyspace);
      const c = await connect(w, keyspace);
      const { transfers } = await checkBank(w, c, bank);
      expect(transfers).toBeGreaterThan(KILLS / 2);
      const rows = await c.query<{ total: number }>('SELECT sum(balance) AS total FROM accounts', [], { consistency: 'strong' });
      expect(Number(rows.rows[0]!.total)).toBe(ACCOUNTS * OPENING);
      expect(check(history.ops, await finalMarks(c, bank))).toEqual([]);
      // The history holds what is at stake: transfers acknowledged, refused, and cut off by a kill.
      const outcomes = new Set(history.ops.filter((o) => o.kind === 'tx').map((o) => o.outcome));
      expect(outcomes).toEqual(new Set(['ok', 'failed', 'unknown']));
      await c.disconnect();
    } finally {
      await w.stop();
    }
  }, 1_800_000);
});
