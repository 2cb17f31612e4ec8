// Crash test: the Worker under `wrangler dev` with persistent state, writes in flight, SIGKILL
// (wrangler and workerd at once), restart on the same state. Every acknowledged write must be
// there, nothing unacknowledged half-applied, and the shard's LSNs must continue with no gap.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBookmark } from '../../rpc/bookmark.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders, jsonPost } from '../support/auth.js';

const PAIR_OFFSET = 1_000_000;
const WRITERS = 6;

async function sql(w: WranglerDev, keyspace: string, text: string, params: unknown[] = []): Promise<{ rows: Record<string, unknown>[]; bookmark: string }> {
  const res = await fetch(`${w.url}/sql`, jsonPost({ keyspace, sql: text, params }));
  const body = (await res.json()) as { rows: Record<string, unknown>[]; bookmark: string; error?: { message: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
}

type WireInt = number | { $int8: string };
interface WireRecord { lsn: number; changes: ({ ddl: string } | { key: { id: WireInt } })[] }

async function readLog(w: WranglerDev, keyspace: string, shard: string): Promise<WireRecord[]> {
  const records: WireRecord[] = [];
  for (let from = 1; ;) {
    const res = (await (await fetch(`${w.url}/log?keyspace=${keyspace}&shard=${shard}&from=${from}&max=1000`, { headers: authHeaders() })).json()) as { records: WireRecord[]; lastLsn: number };
    records.push(...res.records);
    if (!res.records.length || records.at(-1)!.lsn >= res.lastLsn) return records;
    from = records.at(-1)!.lsn + 1;
  }
}

const dirs: string[] = [];
afterAll(async () => { await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))); });

describe.each([
  ['main', 'do-sqlite', ['-40', '40-80', '80-c0', 'c0-']],
  ['pg', 'pglite', ['-80', '80-']],
])('crash and restart: keyspace %s (%s)', (keyspace, _engine, shards) => {
  it('keeps every acknowledged write, half-applies nothing, and continues the LSNs without a gap', async () => {
    const persistTo = await mkdtemp(join(tmpdir(), `vitess-crash-${keyspace}-`));
    dirs.push(persistTo);
    let w = await startWrangler({ persistTo });
    const acked: number[] = [];
    try {
      // Rows of a pair share `grp`, the sharding column (first primary-key column): one shard
      // holds both, and one statement writes them, so both or neither may survive.
      await sql(w, keyspace, 'CREATE TABLE crash (grp BIGINT, id BIGINT, part TEXT NOT NULL, PRIMARY KEY (grp, id))');
      let stop = false;
      const writers = Array.from({ length: WRITERS }, async (_, wi) => {
        for (let i = 0; !stop && i < 10_000; i++) {
          const id = wi * 100_000 + i;
          try {
            await sql(w, keyspace, "INSERT INTO crash (grp, id, part) VALUES ($1, $1, 'a'), ($1, $2, 'b')", [id, id + PAIR_OFFSET]);
            acked.push(id);
          } catch {
            return; // the process is gone: this write was not acknowledged
          }
        }
      });
      await expect.poll(() => acked.length, { timeout: 120_000, interval: 50 }).toBeGreaterThanOrEqual(150);
      await w.kill();
      stop = true;
      await Promise.all(writers);
    } finally {
      await w.stop();
    }

    w = await startWrangler({ persistTo });
    try {
      const ids = new Set((await sql(w, keyspace, 'SELECT id FROM crash')).rows.map((r) => Number(r.id)));
      for (const id of acked) expect(ids.has(id), `acknowledged write ${id}`).toBe(true);
      for (const id of ids) {
        const partner = id >= PAIR_OFFSET ? id - PAIR_OFFSET : id + PAIR_OFFSET;
        expect(ids.has(partner), `row ${id} without its pair`).toBe(true);
      }
      // Per shard: LSNs 1..n without a gap, and the log and the table agree exactly.
      const logged: number[] = [];
      const last: Record<string, number> = {};
      for (const shard of shards) {
        const log = await readLog(w, keyspace, shard);
        const lsns = log.map((r) => r.lsn);
        expect(lsns, `shard ${shard}`).toEqual(Array.from({ length: lsns.length }, (_, i) => i + 1));
        last[shard] = lsns.length;
        logged.push(...log.flatMap((r) => r.changes.flatMap((c) => ('key' in c ? [typeof c.key.id === 'object' ? Number(c.key.id.$int8) : c.key.id] : []))));
      }
      expect([...logged].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
      // The next write continues its shard's LSNs.
      const next = await sql(w, keyspace, "INSERT INTO crash (grp, id, part) VALUES (-1, -1, 'after')");
      const written = Object.entries(decodeBookmark(next.bookmark));
      expect(written).toHaveLength(1);
      const [at, lsn] = written[0]!;
      expect(lsn).toBe(last[at.split('/')[1]!]! + 1);
    } finally {
      await w.stop();
    }
  });
});
