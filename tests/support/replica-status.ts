// What the e2e replica tests read of `/status`, wait for, and compare: shards with their replicas,
// "every replica caught up with its primary", and rows as comparable text.
import { expect } from 'vitest';
import type { Row } from '../../rpc/results.js';
import { toWire } from '../../rpc/values.js';
import { authHeaders } from './auth.js';

export interface ReplicaRow {
  region: string;
  state: string;
  appliedLsn: number;
  lagRecords: number;
  lagMs: number;
  bootstraps: number;
  error?: string;
}

export interface ShardRow {
  shard: string;
  lsn: number;
  firstLsn: number;
  replicas: ReplicaRow[];
}

/** The keyspace's shards as `/status` shows them. */
export async function shardsOf(url: string, keyspace: string): Promise<ShardRow[]> {
  const res = (await (await fetch(`${url}/status`, { headers: authHeaders(), signal: AbortSignal.timeout(30_000) })).json()) as {
    keyspaces: { name: string; shards: ShardRow[] }[];
  };
  return res.keyspaces.find((k) => k.name === keyspace)!.shards;
}

/**
 * Waits until the keyspace's replicas (those in `region`, which must exist; or all) stream at
 * their primary's LSN (nothing is being written), and returns the shards as last seen.
 */
export async function caughtUp(url: string, keyspace: string, opts: { region?: string; timeoutMs?: number } = {}): Promise<ShardRow[]> {
  let last: ShardRow[] = [];
  await expect
    .poll(
      async () => {
        last = await shardsOf(url, keyspace);
        return last.flatMap((s) => {
          const replicas = opts.region ? s.replicas.filter((r) => r.region === opts.region) : s.replicas;
          if (opts.region && !replicas.length) return [`${keyspace}/${s.shard}: no replica in ${opts.region}`];
          return replicas
            .filter((r) => !(r.state === 'streaming' && r.appliedLsn === s.lsn && r.lagRecords === 0))
            .map((r) => `${keyspace}/${s.shard}/${r.region}: ${r.state} at ${r.appliedLsn} of ${s.lsn}${r.error ? ` (${r.error})` : ''}`);
        });
      },
      { timeout: opts.timeoutMs ?? 90_000, interval: 100 },
    )
    .toEqual([]);
  return last;
}

/** JSON with object keys sorted (jsonb may reorder keys). */
const stable = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );

/** Rows as comparable text, in a fixed order. */
export const canon = (rows: Row[]): string[] =>
  rows
    .map((row) =>
      stable(
        Object.keys(row)
          .sort()
          .map((c) => [c, toWire(row[c] ?? null)]),
      ),
    )
    .sort();
