// The bank workload shared by tests/e2e/bank*.test.ts: accounts spread over the shards of a
// keyspace, transfers between accounts on different shards, and the checks that hold after any
// number of them (and after any crash, once recovery finished). Each transfer can also set a
// mark (`<table>_marks`, one row per key, values increasing), so that a history checker
// (tests/support/history.ts) ties what clients were told to what committed.
import { expect } from 'vitest';
import { VitessError, type TransactionOptions, type VitessClient } from '../../client/index.js';
import type { WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders } from '../support/auth.js';
import type { History, OutcomeOf, Value } from '../support/history.js';
import type { rng } from '../support/rng.js';

export const ACCOUNTS = 40;
export const OPENING = 1_000;

/** The keyspaces the bank runs on (router/vschema.ts's default vschema): one per engine. */
export const BANK_KEYSPACES = [
  { keyspace: 'main', engine: 'do-sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'] },
  { keyspace: 'pg', engine: 'pglite', shards: ['-80', '80-'] },
] as const;
type BankKeyspace = (typeof BANK_KEYSPACES)[number];

export interface Transfer {
  from: number;
  to: number;
  amount: number;
}

export interface Bank {
  table: string;
  keyspace: BankKeyspace;
  /** The mark keys, ids 1…marks. */
  marks: number;
  shardOf: Map<number, string>;
  randomTransfer(random: ReturnType<typeof rng>): Transfer;
  pairOnDifferentShards(): [number, number];
  balances(c: VitessClient, ids: number[]): Promise<number[]>;
}

/**
 * Creates the table (balances may not go below zero) and the accounts, ids 1…ACCOUNTS, on the
 * client's keyspace; and `marks` mark rows at 0.
 */
export async function bankSetup(c: VitessClient, table: string, marks = 0): Promise<Bank> {
  const keyspace = BANK_KEYSPACES.find((k) => k.keyspace === c.keyspace)!;
  await c.execute(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL CHECK (balance >= 0))`);
  await c.execute(`CREATE TABLE ${table}_marks (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)`);
  if (marks) await c.execute(`INSERT INTO ${table}_marks (id, v) VALUES ${Array.from({ length: marks }, (_, i) => `(${i + 1}, 0)`).join(', ')}`);
  const shardOf = new Map<number, string>();
  for (let id = 1; id <= ACCOUNTS; id++) {
    const r = await c.query(`INSERT INTO ${table} (id, balance) VALUES ($1, $2) RETURNING id`, [id, OPENING]);
    shardOf.set(id, r.servedBy.shard);
  }
  expect(new Set(shardOf.values())).toEqual(new Set(keyspace.shards));
  const ids = [...shardOf.keys()];
  return {
    table,
    keyspace,
    marks,
    shardOf,
    randomTransfer(random) {
      const from = random.pick(ids);
      const others = ids.filter((id) => shardOf.get(id) !== shardOf.get(from));
      return { from, to: random.pick(others), amount: 1 + random.int(400) };
    },
    pairOnDifferentShards() {
      const a = ids[0]!;
      return [a, ids.find((id) => shardOf.get(id) !== shardOf.get(a))!];
    },
    async balances(cl, list) {
      const r = await cl.query<{ id: number; balance: number }>(
        `SELECT id, balance FROM ${table} WHERE id IN (${list.map((_, i) => `$${i + 1}`).join(', ')})`,
        list,
        { consistency: 'strong' },
      );
      return list.map((id) => Number(r.rows.find((row) => Number(row.id) === id)!.balance));
    },
  };
}

/**
 * One transfer as an interactive transaction: `committed`, or `refused` (it would overdraw).
 * With `mark`, the transaction also sets that mark row to that value.
 */
export async function transfer(
  c: VitessClient,
  table: string,
  t: Transfer,
  opts: TransactionOptions,
  mark?: { id: number; value: number },
): Promise<'committed' | 'refused'> {
  try {
    await c.transaction(async (tx) => {
      await tx.execute(`UPDATE ${table} SET balance = balance - $2 WHERE id = $1`, [t.from, t.amount]);
      await tx.execute(`UPDATE ${table} SET balance = balance + $2 WHERE id = $1`, [t.to, t.amount]);
      if (mark) await tx.execute(`UPDATE ${table}_marks SET v = $2 WHERE id = $1`, [mark.id, mark.value]);
    }, opts);
    return 'committed';
  } catch (e) {
    if (e instanceof VitessError && e.code === 'CONSTRAINT') return 'refused';
    throw e;
  }
}

type WireInt = number | { $int8: string };
const int = (v: WireInt): number => (typeof v === 'object' ? Number(v.$int8) : v);
interface WireRecord {
  lsn: number;
  txid: string;
  changes: ({ ddl: string } | { table: string; op: string; key: { id: WireInt }; row?: { balance: WireInt } })[];
}

/** A refused transfer: it changed nothing. */
class Refused extends Error {}

/** What the bank tests take as a definite failure: the transaction was rolled back (the client's own retry rule). */
export const bankOutcome: OutcomeOf = (e) =>
  e instanceof Refused || (e instanceof VitessError && ['CONSTRAINT', 'CONFLICT', 'TIMEOUT'].includes(e.code)) ? 'failed' : 'unknown';

/**
 * A transfer that also sets mark `id` to `value`, recorded in `history` as one transaction of
 * `session` (a refusal is a failure; a connection lost midway, unknown).
 */
export function recordedTransfer(
  history: History,
  session: { name: string; client: VitessClient },
  bank: Bank,
  t: Transfer,
  mark: { id: number; value: number },
  opts: TransactionOptions,
) {
  return history.record(
    { name: session.name, bookmark: () => session.client.bookmark },
    { kind: 'tx', keys: [`mark${mark.id}`], values: [mark.value] },
    async () => {
      if ((await transfer(session.client, bank.table, t, opts, mark)) === 'refused') throw new Refused();
    },
    bankOutcome,
  );
}

/** A session read of marks `ids`, recorded in `history`. */
export function recordedMarksRead(history: History, session: { name: string; client: VitessClient }, bank: Bank, ids: number[]) {
  return history.record(
    { name: session.name, bookmark: () => session.client.bookmark },
    { kind: 'read', keys: ids.map((id) => `mark${id}`) },
    async () => {
      const r = await session.client.query<{ id: number; v: number }>(
        `SELECT id, v FROM ${bank.table}_marks WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`,
        ids,
        { consistency: 'session' },
      );
      const seen = new Map(r.rows.map((row) => [Number(row.id), Number(row.v)]));
      return ids.map((id): Value => seen.get(id) ?? null);
    },
    bankOutcome,
  );
}

/** The marks as they are at the end (strong reads), keyed as the history names them. */
export async function finalMarks(c: VitessClient, bank: Bank): Promise<Record<string, Value>> {
  const rows = (await c.query<{ id: number; v: number }>(`SELECT id, v FROM ${bank.table}_marks`, [], { consistency: 'strong' })).rows;
  return Object.fromEntries(rows.map((r) => [`mark${Number(r.id)}`, Number(r.v)]));
}

async function readLog(w: WranglerDev, keyspace: string, shard: string): Promise<WireRecord[]> {
  const records: WireRecord[] = [];
  for (let from = 1; ; ) {
    const res = (await (await fetch(`${w.url}/log?keyspace=${keyspace}&shard=${shard}&from=${from}&max=1000`, { headers: authHeaders() })).json()) as {
      records: WireRecord[];
      lastLsn: number;
    };
    records.push(...res.records);
    if (!res.records.length || records.at(-1)!.lsn >= res.lastLsn) return records;
    from = records.at(-1)!.lsn + 1;
  }
}

/** What is prepared on any shard, the coordinators' unfinished records, and the DDL intents not on every shard yet (twopc-worker.ts). */
export async function inDoubt(
  w: WranglerDev,
  keyspace: string,
): Promise<{
  prepared: Record<string, string[]>;
  records: { txid: string; decision: string | null; acked: string[]; participants: string[] }[];
  ddl: { id: string; statements: string[]; applied: string[]; shards: string[] }[];
}> {
  return (await fetch(`${w.url}/test/in-doubt?keyspace=${keyspace}`, { headers: authHeaders(), signal: AbortSignal.timeout(20_000) })).json() as never;
}

/**
 * The bank's invariants: the total is unchanged, no balance is negative, nothing is prepared,
 * and, from the shards' change logs, every transfer is on exactly two shards (one record each,
 * same txid) and moves money from one to the other (its debit and credit sum to zero).
 * Returns the number of transfers the logs hold.
 */
export async function checkBank(w: WranglerDev, c: VitessClient, bank: Bank): Promise<{ transfers: number }> {
  const rows = (await c.query<{ id: number; balance: number }>(`SELECT id, balance FROM ${bank.table} ORDER BY id`, [], { consistency: 'strong' })).rows;
  expect(rows).toHaveLength(ACCOUNTS);
  expect(rows.reduce((s, r) => s + Number(r.balance), 0)).toBe(ACCOUNTS * OPENING);
  expect(rows.filter((r) => Number(r.balance) < 0)).toEqual([]);
  expect((await inDoubt(w, bank.keyspace.keyspace)).prepared).toEqual({});

  const byTxid = new Map<string, { shard: string; delta: number }[]>();
  for (const shard of bank.keyspace.shards) {
    const balance = new Map<number, number>();
    for (const rec of await readLog(w, bank.keyspace.keyspace, shard)) {
      for (const ch of rec.changes) {
        if ('ddl' in ch || ch.table !== bank.table || !ch.row) continue;
        const id = int(ch.key.id);
        const now = int(ch.row.balance);
        const before = balance.get(id);
        balance.set(id, now);
        if (before === undefined) continue; // the account's opening
        byTxid.set(rec.txid, [...(byTxid.get(rec.txid) ?? []), { shard, delta: now - before }]);
      }
    }
    // The log replays to the table.
    for (const [id, b] of balance) expect(b, `account ${id} on ${shard}`).toBe(Number(rows.find((r) => Number(r.id) === id)!.balance));
  }
  for (const [txid, parts] of byTxid) {
    expect(parts.length, `transfer ${txid} half-applied: ${JSON.stringify(parts)}`).toBe(2);
    expect(parts[0]!.shard).not.toBe(parts[1]!.shard);
    expect(parts[0]!.delta + parts[1]!.delta, `transfer ${txid}`).toBe(0);
  }
  return { transfers: byTxid.size };
}
