// The bank workload shared by tests/e2e/bank*.test.ts: accounts spread over the shards of
// keyspace `main`, transfers between accounts on different shards, and the checks that hold
// after any number of them (and after any crash, once recovery finished).
import { expect } from 'vitest';
import { VitessError, type TransactionOptions, type VitessClient } from '../../client/index.js';
import type { WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders } from '../support/auth.js';
import type { rng } from '../support/rng.js';

export const ACCOUNTS = 40;
export const OPENING = 1_000;
const SHARDS = ['-40', '40-80', '80-c0', 'c0-'];

export interface Transfer {
  from: number;
  to: number;
  amount: number;
}

export interface Bank {
  table: string;
  shardOf: Map<number, string>;
  randomTransfer(random: ReturnType<typeof rng>): Transfer;
  pairOnDifferentShards(): [number, number];
  balances(c: VitessClient, ids: number[]): Promise<number[]>;
}

/** Creates the table (balances may not go below zero) and the accounts, ids 1…ACCOUNTS. */
export async function bankSetup(c: VitessClient, table: string): Promise<Bank> {
  await c.execute(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL CHECK (balance >= 0))`);
  const shardOf = new Map<number, string>();
  for (let id = 1; id <= ACCOUNTS; id++) {
    const r = await c.query(`INSERT INTO ${table} (id, balance) VALUES ($1, $2) RETURNING id`, [id, OPENING]);
    shardOf.set(id, r.servedBy.shard);
  }
  expect(new Set(shardOf.values())).toEqual(new Set(SHARDS));
  const ids = [...shardOf.keys()];
  return {
    table,
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
      const r = await cl.query<{ id: number; balance: number }>(`SELECT id, balance FROM ${table} WHERE id IN (${list.map((_, i) => `$${i + 1}`).join(', ')})`, list, { consistency: 'strong' });
      return list.map((id) => Number(r.rows.find((row) => Number(row.id) === id)!.balance));
    },
  };
}

/** One transfer as an interactive transaction: `committed`, or `refused` (it would overdraw). */
export async function transfer(c: VitessClient, table: string, t: Transfer, opts: TransactionOptions): Promise<'committed' | 'refused'> {
  try {
    await c.transaction(async (tx) => {
      await tx.execute(`UPDATE ${table} SET balance = balance - $2 WHERE id = $1`, [t.from, t.amount]);
      await tx.execute(`UPDATE ${table} SET balance = balance + $2 WHERE id = $1`, [t.to, t.amount]);
    }, opts);
    return 'committed';
  } catch (e) {
    if (e instanceof VitessError && e.code === 'CONSTRAINT') return 'refused';
    throw e;
  }
}

type WireInt = number | { $int8: string };
const int = (v: WireInt): number => (typeof v === 'object' ? Number(v.$int8) : v);
interface WireRecord { lsn: number; txid: string; changes: ({ ddl: string } | { table: string; op: string; key: { id: WireInt }; row?: { balance: WireInt } })[] }

async function readLog(w: WranglerDev, shard: string): Promise<WireRecord[]> {
  const records: WireRecord[] = [];
  for (let from = 1; ;) {
    const res = (await (await fetch(`${w.url}/log?keyspace=main&shard=${shard}&from=${from}&max=1000`, { headers: authHeaders() })).json()) as { records: WireRecord[]; lastLsn: number };
    records.push(...res.records);
    if (!res.records.length || records.at(-1)!.lsn >= res.lastLsn) return records;
    from = records.at(-1)!.lsn + 1;
  }
}

/** What is prepared on any shard, and the coordinators' unfinished records (twopc-worker.ts). */
export async function inDoubt(w: WranglerDev): Promise<{ prepared: Record<string, string[]>; records: { txid: string; decision: string | null; acked: string[]; participants: string[] }[] }> {
  return (await fetch(`${w.url}/test/in-doubt?keyspace=main`, { headers: authHeaders(), signal: AbortSignal.timeout(20_000) })).json() as never;
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
  expect((await inDoubt(w)).prepared).toEqual({});

  const byTxid = new Map<string, { shard: string; delta: number }[]>();
  for (const shard of SHARDS) {
    const balance = new Map<number, number>();
    for (const rec of await readLog(w, shard)) {
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
