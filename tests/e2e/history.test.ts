/**
 * Read-your-writes under concurrency, end to end, checked after the fact (tests/support/history.ts).
 * The real Worker (replicas-worker.ts: VTGate plus a knob to delay replication) serves `main`,
 * DO SQLite × 2, with replicas in weur (not delayed) and wnam (a second behind). Four sessions, two
 * over HTTP batch and two over a WebSocket (one of them cut now and then), each run rounds of
 * concurrent writes, transactions across shards (some rolled back) and `consistency: 'session'`
 * reads from either region. Every operation goes into the history; the keyspace's final state is
 * read from the primaries; `check` finds no lost write, no rolled-back write, no read missing its
 * session's writes, no read going back, no session bookmark going back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VitessError, type VitessClient } from '../../client/index.js';
import { bundleWorker, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { jsonPost } from '../support/auth.js';
import { check, History, type OutcomeOf, type Value } from '../support/history.js';
import { rng } from '../support/rng.js';

const SHARDS = ['-80', '80-'];
const REGIONS = ['weur', 'wnam'];
const VSCHEMA = { keyspaces: [{ name: 'main', engine: 'sqlite', shards: SHARDS, regions: REGIONS }] };
const ROUNDS = 12;
const KEYS_PER_SESSION = 6;

let w: WranglerDev;
let bundle: Awaited<ReturnType<typeof bundleWorker>> | undefined;
const open: VitessClient[] = [];
beforeAll(async () => {
  // Bundled once and run as is: edits to the sources meanwhile do not reload the Worker (and drop its sockets).
  bundle = await bundleWorker('tests/e2e/replicas.wrangler.jsonc');
  w = await startWrangler({ config: bundle.config, vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()));
  await w?.stop();
  bundle?.remove();
});

/** Each instance of the global WebSocket kept, so the test can cut the connection. */
function trackedWebSocket(): { sockets: WebSocket[]; WebSocket: typeof WebSocket } {
  const sockets: WebSocket[] = [];
  return {
    sockets,
    WebSocket: class extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    },
  };
}

/** Aborts a transaction on purpose. */
class Rollback extends Error {}

interface Session {
  name: string;
  client: VitessClient;
  keys: number[];
  /** Cut the WebSocket before every other round (the connection drops between calls). */
  sockets?: WebSocket[];
}

describe('concurrent sessions, replicas lagging', () => {
  it('keep every guarantee the history checker knows', async () => {
    const admin = createClient({ endpoint: w.url, consistency: 'strong' });
    await admin.execute('CREATE TABLE kv (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)');
    // Replicas start on first use: read until each region's serve the table, then delay wnam's.
    for (const region of REGIONS) {
      await expect
        .poll(async () => (await admin.query('SELECT count(*) AS n FROM kv', [], { consistency: 'eventual', region })).servedBy.role, { timeout: 60_000 })
        .toBe('replica');
    }
    for (const shard of SHARDS) {
      const res = await fetch(`${w.url}/test/replica`, jsonPost({ keyspace: 'main', shard, region: 'wnam', op: 'delay', ms: 1_000 }));
      expect(res.ok).toBe(true);
    }

    const history = new History();
    const unexpected: unknown[] = [];
    const outcomeOf: OutcomeOf = (e) => {
      // Rolled back: on purpose, or by a conflict the transaction's retries did not get past.
      if (e instanceof Rollback || (e instanceof VitessError && (e.code === 'CONFLICT' || e.code === 'TIMEOUT'))) return 'failed';
      unexpected.push(e);
      return 'unknown';
    };

    const sessions: Session[] = await Promise.all(
      ['http-1', 'http-2', 'ws-cut', 'ws'].map(async (name, s) => {
        const tracked = trackedWebSocket();
        const client = createClient({ endpoint: w.url, consistency: 'session', WebSocket: tracked.WebSocket });
        open.push(client);
        if (name.startsWith('ws')) await client.connect();
        const keys = Array.from({ length: KEYS_PER_SESSION }, (_, j) => (s + 1) * 100 + j);
        return { name, client, keys, ...(name === 'ws-cut' && { sockets: tracked.sockets }) };
      }),
    );
    const allKeys = sessions.flatMap((s) => s.keys);
    const setup = { name: 'setup', bookmark: () => admin.bookmark };
    await history.record(
      setup,
      { kind: 'write', keys: allKeys.map(String), values: allKeys.map(() => 0) },
      async () => {
        await admin.execute(`INSERT INTO kv (id, v) VALUES ${allKeys.map((k) => `(${k}, 0)`).join(', ')}`);
      },
      outcomeOf,
    );

    // Each key is written by its session only, at most once a round: its values increase in time.
    const last = new Map(allKeys.map((k) => [k, 0]));
    const next = (k: number): number => {
      last.set(k, last.get(k)! + 1);
      return last.get(k)!;
    };
    let replicaReads = 0;

    async function run(s: Session, seed: number): Promise<void> {
      const r = rng(seed);
      const me = { name: s.name, bookmark: () => s.client.bookmark };
      for (let round = 0; round < ROUNDS; round++) {
        if (s.sockets && round % 2 === 1) s.sockets.at(-1)!.close();
        const keys = s.keys
          .map((k) => ({ k, at: r.next() }))
          .sort((x, y) => x.at - y.at)
          .map((x) => x.k); // shuffled
        const ops: Promise<unknown>[] = [];
        if (round % 2 === 1) {
          // Two keys in one transaction (often on both shards: two-phase commit); every other one rolled back.
          const [a, b] = [keys.pop()!, keys.pop()!];
          const values = [next(a), next(b)];
          const rollback = round % 4 === 3;
          ops.push(
            history.record(
              me,
              { kind: 'tx', keys: [String(a), String(b)], values },
              () =>
                s.client.transaction(
                  async (tx) => {
                    await tx.execute('UPDATE kv SET v = $2 WHERE id = $1', [a, values[0]!]);
                    await tx.execute('UPDATE kv SET v = $2 WHERE id = $1', [b, values[1]!]);
                    if (rollback) throw new Rollback();
                  },
                  { retry: 3 },
                ),
              outcomeOf,
            ),
          );
        }
        for (const k of keys.splice(0, 2)) {
          const v = next(k);
          ops.push(
            history.record(
              me,
              { kind: 'write', keys: [String(k)], values: [v] },
              async () => {
                await s.client.execute('UPDATE kv SET v = $2 WHERE id = $1', [k, v]);
              },
              outcomeOf,
            ),
          );
        }
        for (let i = 0; i < 3; i++) {
          // Mostly the session's own keys; sometimes another session's.
          const read = [0, 1].map(() => (r.next() < 0.7 ? r.pick(s.keys) : r.pick(allKeys)));
          ops.push(
            history.record(
              me,
              { kind: 'read', keys: read.map(String) },
              async () => {
                const res = await s.client.query<{ id: number; v: number }>('SELECT id, v FROM kv WHERE id IN ($1, $2)', read, { region: r.pick(REGIONS) });
                if (res.servedBy.role === 'replica') replicaReads++;
                const seen = new Map(res.rows.map((row) => [Number(row.id), Number(row.v)]));
                return read.map((k): Value => seen.get(k) ?? null);
              },
              outcomeOf,
            ),
          );
        }
        await Promise.all(ops);
      }
    }
    await Promise.all(sessions.map((s, i) => run(s, 21 + i)));

    const rows = (await admin.query<{ id: number; v: number }>('SELECT id, v FROM kv')).rows;
    const final = Object.fromEntries(rows.map((row) => [String(row.id), Number(row.v)]));
    expect(unexpected).toEqual([]);
    expect(check(history.ops, final)).toEqual([]);
    // The run went where the guarantees are at stake: replicas answered, transactions rolled back, a socket was reopened.
    expect(replicaReads).toBeGreaterThan(0);
    expect(history.ops.filter((o) => o.kind === 'tx' && o.outcome === 'failed').length).toBeGreaterThan(0);
    expect(sessions.find((s) => s.sockets)!.client.reconnects).toBeGreaterThan(0);
  });
});
