// Read replicas killed with DDL in flight: the Worker (VTGate with the test route to the
// replicas' knobs, tests/e2e/replicas-worker.ts) under `wrangler dev` with persistent state.
// Keyspaces: `rs` DO SQLite × 2 with DO SQLite replicas, `rp` PGlite × 2 with DO SQLite
// replicas, `rpp` PGlite × 1 with a PGlite replica; one region (weur).
//
// Writers insert, update and delete rows while DDL runs (CREATE TABLE and rows in it, ALTER TABLE
// ADD COLUMN on the table the writers update — which then write the new column —, CREATE INDEX,
// DROP TABLE), every replica applying each record 2 s after its commit. The process (wrangler
// and workerd) is SIGKILLed while every replica is applying that stream with DDL on both sides of
// its position: some DDL records applied, the newest acknowledged DDL not yet. After the restart
// (apply delay back to 0) every replica must catch up to its primary exactly: streaming at the
// primary's LSN, the same tables, and every table read through VTGate from the replica
// (`consistency: 'eventual'` with the region: served by the replica however far behind, never
// by the primary) has the primary's columns and rows (read with `strong`). A DO SQLite replica
// resumes where it was (no second copy); a PGlite replica (data in memory) copies again. Then
// one more DDL statement and writes, and the replicas converge again.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, type VitessClient } from '../../client/index.js';
import { decodeBookmark } from '../../rpc/bookmark.js';
import { bundleWorker, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { jsonPost } from '../support/auth.js';
import { caughtUp, canon, shardsOf } from '../support/replica-status.js';
import { rng } from '../support/rng.js';

const REGION = 'weur';
interface Ks {
  name: string;
  kind: 'do-sqlite' | 'pglite';
  shards: string[];
  replica: 'sqlite' | 'pglite';
}
const KEYSPACES: Ks[] = [
  { name: 'rs', kind: 'do-sqlite', shards: ['-80', '80-'], replica: 'sqlite' },
  { name: 'rp', kind: 'pglite', shards: ['-80', '80-'], replica: 'sqlite' },
  { name: 'rpp', kind: 'pglite', shards: ['-'], replica: 'pglite' },
];
const VSCHEMA = {
  keyspaces: KEYSPACES.map((k) => ({
    name: k.name,
    engine: k.kind === 'pglite' ? 'pglite' : 'sqlite',
    shards: k.shards.length,
    regions: [REGION],
    replicaEngine: k.replica,
  })),
};
const CONFIG = 'tests/e2e/replicas.wrangler.jsonc';
const APPLY_DELAY_MS = 2_000;
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

let bundle: Awaited<ReturnType<typeof bundleWorker>> | undefined;
let persistTo = '';
beforeAll(async () => {
  bundle = await bundleWorker(CONFIG);
  persistTo = await mkdtemp(join(tmpdir(), 'vitess-replica-crash-'));
}, 180_000);
afterAll(async () => {
  bundle?.remove();
  if (persistTo) await rm(persistTo, { recursive: true, force: true });
});

const start = (): Promise<WranglerDev> => startWrangler({ config: bundle!.config, persistTo, timeoutMs: 240_000, vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The test route to a replica's knobs and its primary's tables. */
async function knob<T = Record<string, unknown>>(
  w: WranglerDev,
  body: { keyspace: string; shard: string; region?: string; op: string; ms?: number; kind?: string },
): Promise<T> {
  const res = await fetch(`${w.url}/test/replica`, { ...jsonPost({ region: REGION, ...body }), signal: AbortSignal.timeout(30_000) });
  const json = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(`${body.op} ${body.keyspace}/${body.shard}: ${json.error}`);
  return json;
}

/** Every replica of the keyspace holds exactly its primary's tables, columns and rows. */
async function expectSame(w: WranglerDev, k: Ks): Promise<number> {
  await caughtUp(w.url, k.name, { region: REGION, timeoutMs: 120_000 });
  const tables = new Set<string>();
  for (const shard of k.shards) {
    const t = await knob<{ primary: string[]; replica: string[] }>(w, { keyspace: k.name, shard, op: 'tables', kind: k.kind });
    expect(t.replica, `${k.name}/${shard}: tables of the replica`).toEqual(t.primary);
    for (const n of t.primary) tables.add(n);
  }
  const c = createClient({ endpoint: w.url, keyspace: k.name, consistency: 'strong' });
  for (const table of tables) {
    const want = await c.query(`SELECT * FROM ${table}`);
    const got = await c.query(`SELECT * FROM ${table}`, [], { consistency: 'eventual', region: REGION });
    expect(got.servedBy, `${k.name} ${table}`).toMatchObject({ role: 'replica', region: REGION });
    expect(
      got.fields.map((f) => f.name),
      `${k.name} ${table}: columns on the replica`,
    ).toEqual(want.fields.map((f) => f.name));
    expect(canon(got.rows), `${k.name} ${table}: rows on the replica`).toEqual(canon(want.rows));
  }
  return tables.size;
}

it('replicas killed while applying DDL and writes catch up to their primaries exactly after the restart', async () => {
  let w = await start();
  const unexpected: string[] = [];
  let killing = false;
  let stop = false;
  /** Per keyspace/shard: the LSN of the first and of the newest acknowledged DDL of the run. */
  const firstDdl: Record<string, number> = {};
  const lastDdl: Record<string, number> = {};
  const clients: VitessClient[] = [];
  try {
    // Tables, rows, and replicas started (by a read from the region) and caught up.
    for (const k of KEYSPACES) {
      const c = createClient({ endpoint: w.url, keyspace: k.name });
      await c.execute('CREATE TABLE items (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note TEXT)');
      await c.execute(`INSERT INTO items (id, v, note) VALUES ${Array.from({ length: 40 }, (_, i) => `(${i}, ${i}, 'n${i}')`).join(', ')}`);
      expect(Number((await c.query('SELECT count(*) AS n FROM items', [], { consistency: 'eventual', region: REGION })).rows[0]!.n)).toBe(40);
    }
    for (const k of KEYSPACES) await caughtUp(w.url, k.name, { region: REGION, timeoutMs: 120_000 });
    for (const k of KEYSPACES) for (const shard of k.shards) await knob(w, { keyspace: k.name, shard, op: 'delay', ms: APPLY_DELAY_MS });

    let ddlStop = false;
    const columns: Record<string, string[]> = {};
    const connect = async (k: Ks) => {
      const c = await createClient({ endpoint: w.url, keyspace: k.name, retry: { attempts: 1 }, timeoutMs: 20_000 }).connect();
      clients.push(c);
      return c;
    };
    const fail = (what: string) => (e: unknown) => {
      if (!killing) unexpected.push(`${what}: ${String(e)}`);
      return 'stop' as const;
    };
    const writer = async (k: Ks, wi: number) => {
      const r = rng(SEED + wi);
      const c = await connect(k);
      const live = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 2 === wi);
      let next = 1_000 + wi;
      while (!stop) {
        const p = r.next();
        const col = columns[k.name]!.at(-1);
        let s: { sql: string; params: (number | string)[] };
        if (p < 0.35 || live.length < 5) {
          const id = (next += 2);
          live.push(id);
          s = { sql: 'INSERT INTO items (id, v, note) VALUES ($1, $2, $3)', params: [id, r.int(1e6), `w${wi}`] };
        } else if (p < 0.85) {
          // Once a column has been added, updates write it too.
          const id = r.pick(live);
          s = col
            ? { sql: `UPDATE items SET v = v + 1, ${col} = $2 WHERE id = $1`, params: [id, `x${r.int(1e6)}`] }
            : { sql: 'UPDATE items SET v = v + 1 WHERE id = $1', params: [id] };
        } else {
          s = { sql: 'DELETE FROM items WHERE id = $1', params: [live.splice(r.int(live.length), 1)[0]!] };
        }
        if ((await c.execute(s.sql, s.params).catch(fail(`${k.name} writer ${wi} ${s.sql}`))) === 'stop') return;
      }
    };
    const ddlRunner = async (k: Ks) => {
      const c = await connect(k);
      // Stops at the next statement once told to (all keyspaces' DDL stops within one statement).
      const ran = async (sql: string, params: number[] = []): Promise<boolean> => {
        if (ddlStop) return false;
        const res = await c.execute(sql, params).catch(fail(`${k.name} ${sql}`));
        if (res === 'stop') return false;
        if (/^(CREATE|ALTER|DROP) /.test(sql)) {
          for (const [at, lsn] of Object.entries(decodeBookmark(res.bookmark))) {
            firstDdl[at] ??= lsn;
            lastDdl[at] = lsn;
          }
        }
        return true;
      };
      for (let d = 1; ; d++) {
        if (!(await ran(`CREATE TABLE e${d} (id BIGINT PRIMARY KEY, v TEXT)`))) return;
        if (!(await ran(`INSERT INTO e${d} (id, v) VALUES ($1, 'a'), ($2, 'b'), ($3, 'c')`, [d, d + 100, d + 200]))) return;
        if (!(await ran(`ALTER TABLE items ADD COLUMN a${d} TEXT`))) return;
        columns[k.name]!.push(`a${d}`);
        if (!(await ran(`CREATE INDEX items_a${d} ON items (a${d})`))) return;
        if (d >= 3 && !(await ran(`DROP TABLE e${d - 2}`))) return;
        await sleep(100);
      }
    };
    for (const k of KEYSPACES) columns[k.name] = [];
    const writers = KEYSPACES.flatMap((k) => [writer(k, 0), writer(k, 1)]);
    const ddlRunners = KEYSPACES.map((k) => ddlRunner(k));
    const settled = Promise.allSettled([...writers, ...ddlRunners]);
    const stopped = settled.then(() => {
      throw new Error(`the workload stopped before the kill: ${unexpected.join('; ')}`);
    });
    stopped.catch(() => undefined); // raced below

    const replicaLsns = async () =>
      Object.fromEntries(
        (
          await Promise.all(
            KEYSPACES.map(async (k) =>
              (await shardsOf(w.url, k.name)).map((s) => [`${k.name}/${s.shard}`, s.replicas.find((r) => r.region === REGION)?.appliedLsn ?? 0] as const),
            ),
          )
        ).flat(),
      );
    const allShards = KEYSPACES.flatMap((k) => k.shards.map((s) => `${k.name}/${s}`));
    // Every replica has applied DDL of this run (after the delay)...
    await Promise.race([
      stopped,
      expect
        .poll(
          async () => {
            const at = await replicaLsns();
            return allShards.filter((s) => !(firstDdl[s] !== undefined && at[s]! >= firstDdl[s]!));
          },
          { timeout: 120_000, interval: 100 },
        )
        .toEqual([]),
    ]);
    // ... then the DDL stops; its newest statements wait in every replica's delay while the writers go on.
    ddlStop = true;
    await Promise.race([stopped, Promise.all(ddlRunners)]);
    expect(unexpected).toEqual([]);
    let atKill: Record<string, number> = {};
    await Promise.race([
      stopped,
      expect
        .poll(
          async () => {
            atKill = await replicaLsns();
            return allShards.filter((s) => !(atKill[s]! >= firstDdl[s]! && atKill[s]! < lastDdl[s]!));
          },
          { timeout: 30_000, interval: 20 },
        )
        .toEqual([]),
    ]);
    killing = true;
    await w.kill();
    stop = true;
    await settled;
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    console.log(
      `replica-crash (seed ${SEED}): at the kill, replicas applied ${JSON.stringify(atKill)}; DDL of the run from ${JSON.stringify(firstDdl)} to ${JSON.stringify(lastDdl)}`,
    );
  } finally {
    await w.stop();
  }
  expect(unexpected, `seed ${SEED}: errors before the kill`).toEqual([]);

  w = await start();
  try {
    for (const k of KEYSPACES) for (const shard of k.shards) await knob(w, { keyspace: k.name, shard, op: 'delay', ms: 0 });
    for (const k of KEYSPACES) {
      const tables = await expectSame(w, k);
      expect(tables).toBeGreaterThan(2);
    }
    // A DO SQLite replica went on from where it was; a PGlite replica copied again.
    for (const k of KEYSPACES) {
      for (const s of await shardsOf(w.url, k.name)) {
        const r = s.replicas.find((x) => x.region === REGION)!;
        if (k.replica === 'sqlite') expect(r.bootstraps, `${k.name}/${s.shard}: copies`).toBe(1);
        else expect(r.bootstraps, `${k.name}/${s.shard}: copies`).toBeGreaterThanOrEqual(2);
      }
    }
    // And they keep following: DDL and writes after the restart.
    for (const k of KEYSPACES) {
      const c = createClient({ endpoint: w.url, keyspace: k.name });
      await c.execute('ALTER TABLE items ADD COLUMN after_restart TEXT');
      await c.execute("UPDATE items SET after_restart = 'yes', v = v + 1 WHERE id < 20");
      await c.execute('CREATE TABLE later (id BIGINT PRIMARY KEY, v TEXT)');
      await c.execute("INSERT INTO later (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    }
    for (const k of KEYSPACES) await expectSame(w, k);
  } finally {
    await w.stop();
  }
});
