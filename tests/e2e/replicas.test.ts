/**
 * Read replicas end to end: the real Worker under wrangler (VTGate with one test-only route to
 * the replicas' knobs, tests/e2e/replicas-worker.ts), the real client. Keyspaces: `main` DO
 * SQLite × 4 with DO SQLite replicas in wnam and weur; `pg` PGlite × 2 with DO SQLite replicas in
 * wnam and weur; `pgpg` PGlite × 1 with a PGlite replica in weur; `geo` DO SQLite × 1 with
 * replicas in weur and enam (the region guessed from request.cf).
 *
 * - reads from a region are served by that region's replica once it streams (first use starts it);
 * - read-your-writes: 1,000 writes each followed by a read in the same session, replication
 *   deliberately delayed per shard → zero violations; a second client given the bookmark sees
 *   the write; monotonic reads never go back while regions lag differently;
 * - convergence after a seeded random workload (DML, DDL, transactions) on every engine pair,
 *   and again after the Worker is killed mid-stream and restarted on the same state;
 * - a replica cut off past the trim point re-bootstraps and converges; the log stays bounded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VitessError, type ClientOptions, type VitessClient } from '../../client/index.js';
import { decodeBookmark } from '../../rpc/bookmark.js';
import type { Row } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders, jsonPost } from '../support/auth.js';
import { caughtUp, canon, type ReplicaRow, shardsOf } from '../support/replica-status.js';
import { rng } from '../support/rng.js';

interface Ks {
  name: string;
  kind: 'do-sqlite' | 'pglite';
  shards: string[];
  regions: string[];
}
const KEYSPACES: Ks[] = [
  { name: 'main', kind: 'do-sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'], regions: ['wnam', 'weur'] },
  { name: 'pg', kind: 'pglite', shards: ['-80', '80-'], regions: ['wnam', 'weur'] },
  { name: 'pgpg', kind: 'pglite', shards: ['-'], regions: ['weur'] },
];
const VSCHEMA = {
  keyspaces: [
    { name: 'main', engine: 'sqlite', shards: KEYSPACES[0]!.shards, regions: KEYSPACES[0]!.regions },
    { name: 'pg', engine: 'pglite', shards: KEYSPACES[1]!.shards, regions: KEYSPACES[1]!.regions, replicaEngine: 'sqlite' },
    { name: 'pgpg', engine: 'pglite', shards: 1, regions: KEYSPACES[2]!.regions, replicaEngine: 'pglite' },
    // For the region guessed from request.cf (its first region is not the guess).
    { name: 'geo', engine: 'sqlite', shards: 1, regions: ['weur', 'enam'] },
  ],
};
const CONFIG = 'tests/e2e/replicas.wrangler.jsonc';
const ks = (name: string): Ks => KEYSPACES.find((k) => k.name === name)!;

let w: WranglerDev;
let persistTo: string;
const start = () => startWrangler({ config: CONFIG, persistTo, vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
beforeAll(async () => {
  persistTo = await mkdtemp(join(tmpdir(), 'vitess-replicas-'));
  w = await start();
}, 180_000);

const open: VitessClient[] = [];
afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()));
  await w?.stop();
  if (persistTo) await rm(persistTo, { recursive: true, force: true });
});

/** A client of the running Worker; `ws`: over one WebSocket (else one HTTP request per call). */
async function client(keyspace: string, opts: Partial<ClientOptions> = {}, ws = true): Promise<VitessClient> {
  const c = createClient({ endpoint: w.url, keyspace, ...opts });
  if (ws) {
    await c.connect();
    open.push(c);
  }
  return c;
}

/** The test-only route: a replica's knobs, a primary's trim and tables. */
async function knob<T = Record<string, unknown>>(body: {
  keyspace: string;
  shard: string;
  region?: string;
  op: string;
  ms?: number;
  kind?: string;
  trim?: object;
}): Promise<T> {
  const res = await fetch(`${w.url}/test/replica`, jsonPost(body));
  const json = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(`${body.op} ${body.keyspace}/${body.shard}/${body.region}: ${json.error}`);
  return json;
}

async function sqlHttp(
  body: object,
  headers: Record<string, string> = {},
): Promise<{ rows: Record<string, unknown>[]; servedBy: { shard: string; role: string; region: string }; bookmark: string }> {
  const res = await fetch(`${w.url}/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(), ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as never as { error?: { message: string } };
  if (!res.ok) throw new Error(json.error?.message ?? `HTTP ${res.status}`);
  return json as never;
}

type Rng = ReturnType<typeof rng>;

/** Aborts a client transaction (rolled back, as the workload intends). */
class Rollback extends Error {}

/**
 * A random workload through VTGate: inserts, updates, deletes (single-shard and scatter),
 * multi-row inserts split across shards, atomic batches and interactive transactions on one
 * shard (committed and rolled back), DDL on every shard (new columns, new and dropped tables,
 * indexes). Duplicate keys and the (per-shard) unique index make some statements fail: a failure
 * leaves nothing behind. The model changes only when a statement succeeded.
 */
class Workload {
  readonly extras: string[] = [];
  readonly cols: string[] = [];
  private made = 0;
  constructor(
    public c: VitessClient,
    private readonly r: Rng,
    private readonly tag: string,
  ) {}

  async setup(): Promise<void> {
    await this.c.execute(
      'CREATE TABLE acct (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, bal BIGINT NOT NULL, flag BOOLEAN, meta JSONB, score DOUBLE PRECISION, amount NUMERIC(12,2), at TIMESTAMPTZ)',
    );
    await this.c.execute('CREATE UNIQUE INDEX acct_owner ON acct (owner)');
    await this.c.execute('CREATE TABLE pair (a INT NOT NULL, b TEXT NOT NULL, v BYTEA, PRIMARY KEY (a, b))');
    for (let from = 0; from < 60; from += 30) {
      const rows = Array.from({ length: 30 }, (_, i) => [(from + i) % 17, `k${from + i}`, new Uint8Array([from + i, 7])] as SqlValue[]);
      await this.c.execute(`INSERT INTO pair (a, b, v) VALUES ${rows.map((_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`).join(', ')}`, rows.flat());
    }
  }

  get tables(): string[] {
    return ['acct', 'pair', ...this.extras];
  }

  /** A statement touching only key `k` (acct.id = k or pair.a = k: the same hash, so the same shard). */
  private keyed(k: number): { sql: string; params: SqlValue[] } {
    const r = this.r;
    switch (r.int(8)) {
      case 0:
      case 1:
        return {
          sql: 'INSERT INTO acct (id, owner, bal, flag, meta, score, amount, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          params: [
            k,
            `o${r.int(60)}`,
            2n ** 60n + BigInt(r.int(1000)),
            r.next() < 0.5,
            { n: r.int(100), tags: ['x', r.int(5)] },
            r.int(1000) / 8,
            `${r.int(10000)}.${r.int(100)}`,
            new Date(1_700_000_000_000 + r.int(1e9)),
          ],
        };
      case 2:
        return { sql: 'UPDATE acct SET bal = bal + $2, flag = NOT flag, meta = $3 WHERE id = $1', params: [k, r.int(50), { n: r.int(100), z: null }] };
      case 3:
        return this.cols.length
          ? { sql: `UPDATE acct SET ${r.pick(this.cols)} = $2 WHERE id = $1`, params: [k, `c${r.int(1000)}`] }
          : { sql: 'UPDATE acct SET owner = $2 WHERE id = $1', params: [k, `o${r.int(60)}`] };
      case 4:
        return { sql: 'DELETE FROM acct WHERE id = $1', params: [k] };
      case 5:
        return { sql: 'INSERT INTO pair (a, b, v) VALUES ($1, $2, $3)', params: [k, `n${r.int(50)}`, new Uint8Array([r.int(256)])] };
      case 6:
        return { sql: 'UPDATE pair SET v = $2 WHERE a = $1', params: [k, new Uint8Array([r.int(256), r.int(256)])] };
      default:
        return { sql: 'DELETE FROM pair WHERE a = $1 AND b > $2', params: [k, `k${r.int(60)}`] };
    }
  }

  private async ddl(): Promise<void> {
    const r = this.r;
    const choice = r.int(4);
    if (choice === 0) {
      const col = `c${this.tag}${++this.made}`;
      await this.c.execute(`ALTER TABLE acct ADD COLUMN ${col} TEXT`);
      this.cols.push(col);
    } else if (choice === 1 || !this.extras.length) {
      const name = `extra${this.tag}${++this.made}`;
      await this.c.execute(`CREATE TABLE ${name} (id INT PRIMARY KEY, v TEXT)`);
      this.extras.push(name);
    } else if (choice === 2) {
      const name = this.extras.splice(r.int(this.extras.length), 1)[0]!;
      await this.c.execute(`DROP TABLE ${name}`);
    } else {
      await this.c.execute(`CREATE INDEX IF NOT EXISTS pair_v${r.int(3)} ON pair (v)`);
    }
  }

  /** One random step; `ddl: false` leaves the schema alone (while the process may be killed). */
  async step(ddl = true): Promise<void> {
    const r = this.r;
    const p = r.next();
    const k = r.int(40);
    try {
      if (p < 0.05) {
        if (ddl) await this.ddl();
      } else if (p < 0.12) {
        if (this.extras.length)
          await this.c.execute(`INSERT INTO ${r.pick(this.extras)} (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v`, [
            r.int(20),
            `v${r.int(100)}`,
          ]);
      } else if (p < 0.18) {
        // A multi-row insert, split by row across shards (each shard's part commits alone).
        const rows = Array.from({ length: 2 + r.int(4) }, () => [r.int(40), `m${r.int(30)}`, null] as SqlValue[]);
        await this.c.execute(
          `INSERT INTO pair (a, b, v) VALUES ${rows.map((_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`).join(', ')} ON CONFLICT (a, b) DO NOTHING`,
          rows.flat(),
        );
      } else if (p < 0.22) {
        // Scatter writes.
        if (r.next() < 0.5) await this.c.execute('UPDATE acct SET score = score + 1 WHERE score > $1', [r.int(120)]);
        else await this.c.execute('DELETE FROM pair WHERE b = $1', [`n${r.int(50)}`]);
      } else if (p < 0.3) {
        await this.c.batch(
          Array.from({ length: 2 + r.int(3) }, () => this.keyed(k)),
          { atomic: true },
        );
      } else if (p < 0.38) {
        const steps = Array.from({ length: 1 + r.int(3) }, () => this.keyed(k));
        const rollback = r.next() < 0.3;
        await this.c
          .transaction(async (tx) => {
            for (const s of steps) await tx.execute(s.sql, s.params);
            if (rollback) throw new Rollback();
          })
          .catch((e: unknown) => {
            if (!(e instanceof Rollback)) throw e;
          });
      } else {
        const s = this.keyed(k);
        await this.c.execute(s.sql, s.params);
      }
    } catch (e) {
      // Duplicate keys and the unique owner: expected now and then, and nothing is written.
      if (!(e instanceof VitessError && e.code === 'CONSTRAINT')) throw e;
    }
  }
}

/**
 * Every replica of the keyspace holds exactly its primary's tables and rows: tables compared
 * shard by shard, rows read through VTGate with `strong` (primaries) and with `eventual` from
 * each region (served by that region's replicas).
 */
async function expectConverged(keyspace: string): Promise<void> {
  const k = ks(keyspace);
  await caughtUp(w.url, keyspace);
  const tables = new Set<string>();
  for (const shard of k.shards) {
    for (const region of k.regions) {
      const t = await knob<{ primary: string[]; replica: string[] }>({ keyspace, shard, region, op: 'tables', kind: k.kind });
      expect(t.replica, `${keyspace}/${shard}/${region} tables`).toEqual(t.primary);
      for (const n of t.primary) tables.add(n);
    }
  }
  const strong = await client(keyspace, { consistency: 'strong' }, false);
  for (const table of tables) {
    const want = canon((await strong.query(`SELECT * FROM ${table}`)).rows);
    for (const region of k.regions) {
      const got = await strong.query(`SELECT * FROM ${table}`, [], { consistency: 'eventual', region });
      expect(got.servedBy, `${keyspace} ${table} from ${region}`).toMatchObject({ role: 'replica', region });
      expect(canon(got.rows), `${keyspace}: table ${table}, replicas in ${region}`).toEqual(want);
    }
  }
}

/** Sets the apply delay of the keyspace's replicas in `region` (per shard, or one for all). */
async function delay(keyspace: string, region: string, ms: number | Record<string, number>): Promise<void> {
  await Promise.all(ks(keyspace).shards.map((shard) => knob({ keyspace, shard, region, op: 'delay', ms: typeof ms === 'number' ? ms : (ms[shard] ?? 0) })));
}

const workloads = new Map<string, Workload>();
const seed = Math.floor(Math.random() * 2 ** 31);

describe.sequential('read replicas end to end', () => {
  it("serves reads from the asked region's replicas once they stream; strong, and /sql without a bookmark, read primaries", async () => {
    for (const k of KEYSPACES) {
      const c = await client(k.name);
      await c.execute('CREATE TABLE items (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
      const ids = Array.from({ length: 40 }, (_, i) => i + 1);
      await c.execute(`INSERT INTO items (id, v) VALUES ${ids.map((i) => `(${i}, 'v${i}')`).join(', ')}`);
      // Replicas start on first use: a scatter read from each region starts that region's.
      for (const region of k.regions) {
        const first = await c.query('SELECT count(*) AS n FROM items', [], { region, consistency: 'eventual' });
        expect(Number(first.rows[0]!.n)).toBe(40);
      }
    }
    for (const k of KEYSPACES) {
      const shards = await caughtUp(w.url, k.name);
      for (const s of shards) {
        expect(s.replicas.map((r) => r.region)).toEqual(k.regions);
        for (const r of s.replicas) expect(r).toMatchObject({ state: 'streaming', appliedLsn: s.lsn, lagRecords: 0, lagMs: 0, bootstraps: 1 });
      }
      for (const region of k.regions) {
        const c = await client(k.name, { region }, false);
        // session (the default): nothing written in this session, so the replica covers it.
        const scatter = await c.query<{ id: number; v: string }>('SELECT id, v FROM items ORDER BY id');
        expect(scatter.servedBy).toEqual({ shard: k.shards.join(','), role: 'replica', region });
        expect(scatter.rows.map((r) => [Number(r.id), r.v])).toEqual(Array.from({ length: 40 }, (_, i) => [i + 1, `v${i + 1}`]));
        const one = await c.query('SELECT v FROM items WHERE id = $1', [7]);
        expect(one.servedBy).toMatchObject({ role: 'replica', region });
        expect(one.servedBy.shard.split(',')).toHaveLength(1);
        expect(one.rows).toEqual([{ v: 'v7' }]);
        expect((await c.query('SELECT v FROM items WHERE id = $1', [7], { consistency: 'strong' })).servedBy.role).toBe('primary');
      }
    }
    // Region defaults: the client's option, else the keyspace's first region.
    const dflt = await client('main', {}, false);
    expect((await dflt.query('SELECT v FROM items WHERE id = 3', [], { consistency: 'eventual' })).servedBy).toMatchObject({ role: 'replica', region: 'wnam' });
    expect((await dflt.query('SELECT v FROM items WHERE id = 3', [], { consistency: 'eventual', region: 'apac' })).servedBy).toMatchObject({
      role: 'replica',
      region: 'wnam',
    });
    // No region asked: a guess from request.cf (locally, wrangler's placeholder: Austin, NA,
    // longitude -97.7 → enam) when the keyspace has replicas there, else its first region.
    const geo = await client('geo', {}, false);
    await geo.execute('CREATE TABLE g (id BIGINT PRIMARY KEY, v TEXT)');
    await geo.execute("INSERT INTO g (id, v) VALUES (1, 'one')");
    await expect
      .poll(async () => (await geo.query('SELECT v FROM g WHERE id = 1', [], { consistency: 'eventual' })).servedBy, { timeout: 60_000, interval: 100 })
      .toEqual({ shard: '-', role: 'replica', region: 'enam' });
    const asked = await sqlHttp({ keyspace: 'geo', sql: 'SELECT v FROM g WHERE id = 1', consistency: 'eventual' }, { 'x-vitess-region': 'weur' });
    expect(asked.servedBy.region).toBe('weur'); // asked for: started by this read, served once it streams
    // HTTP /sql: without a bookmark it reads primaries; x-vitess-region or "region" picks replicas.
    expect((await sqlHttp({ keyspace: 'main', sql: 'SELECT v FROM items WHERE id = 3' })).servedBy.role).toBe('primary');
    const hdr = await sqlHttp({ keyspace: 'main', sql: 'SELECT v FROM items WHERE id = 3', consistency: 'eventual' }, { 'x-vitess-region': 'weur' });
    expect(hdr.servedBy).toMatchObject({ role: 'replica', region: 'weur' });
    expect(hdr.rows).toEqual([{ v: 'v3' }]);
    const field = await sqlHttp(
      { keyspace: 'pg', sql: 'SELECT count(*) AS n FROM items', consistency: 'eventual', region: 'wnam' },
      { 'x-vitess-region': 'weur' },
    );
    expect(field.servedBy).toEqual({ shard: '-80,80-', role: 'replica', region: 'wnam' });
    // client.status() shows the replicas too.
    const st = (await dflt.status()).keyspaces.find((x) => x.name === 'pg')!;
    for (const s of st.shards)
      expect((s.replicas as ReplicaRow[]).map((r) => [r.region, r.state])).toEqual([
        ['wnam', 'streaming'],
        ['weur', 'streaming'],
      ]);
  });

  it('maxStalenessMs: a replica lagging more than allowed leaves the read to the primary; without it, the stale replica answers', async () => {
    const c = await client('main', { region: 'weur' });
    const shard = (await c.query('SELECT v FROM items WHERE id = 9', [], { consistency: 'strong' })).servedBy.shard;
    await knob({ keyspace: 'main', shard, region: 'weur', op: 'delay', ms: 5_000 });
    try {
      await c.execute("UPDATE items SET v = 'fresh' WHERE id = 9");
      await expect
        .poll(async () => (await shardsOf(w.url, 'main')).find((s) => s.shard === shard)!.replicas.find((r) => r.region === 'weur')!.lagMs, {
          timeout: 10_000,
          interval: 50,
        })
        .toBeGreaterThan(300);
      const bounded = await c.query('SELECT v FROM items WHERE id = 9', [], { consistency: 'eventual', maxStalenessMs: 200 });
      expect(bounded).toMatchObject({ rows: [{ v: 'fresh' }], servedBy: { role: 'primary' } });
      const stale = await c.query('SELECT v FROM items WHERE id = 9', [], { consistency: 'eventual' });
      expect(stale).toMatchObject({ rows: [{ v: 'v9' }], servedBy: { role: 'replica', region: 'weur' } });
      // session: the replica does not have this session's write, so the primary answers.
      expect(await c.query('SELECT v FROM items WHERE id = 9')).toMatchObject({ rows: [{ v: 'fresh' }], servedBy: { role: 'primary' } });
      // and another region's replica, caught up, may answer it.
      expect(await c.query('SELECT v FROM items WHERE id = 9', [], { region: 'wnam' })).toMatchObject({ rows: [{ v: 'fresh' }] });
    } finally {
      await knob({ keyspace: 'main', shard, region: 'weur', op: 'delay', ms: 0 });
    }
    await caughtUp(w.url, 'main');
  });

  it('read-your-writes: 1,000 writes each followed by a read in one session, replication delayed: zero violations', async () => {
    const rand = rng(seed);
    const c = await client('main', { region: 'weur' });
    await c.execute('CREATE TABLE ryw (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)');
    await c.query('SELECT count(*) FROM ryw', [], { consistency: 'eventual' });
    await caughtUp(w.url, 'main');
    // weur replicas: one not delayed, two delayed less than VTGate waits (50 ms), one more.
    await delay('main', 'weur', { '-40': 0, '40-80': 15, '80-c0': 35, 'c0-': 250 });
    const model = new Map<number, number | undefined>();
    const violations: string[] = [];
    const served = { replica: 0, primary: 0 };
    const check = (i: number, id: number, rows: Row[], role: 'replica' | 'primary') => {
      served[role]++;
      const want = model.get(id);
      const got = rows.length ? Number(rows[0]!.v) : undefined;
      if (got !== want) violations.push(`#${i} id ${id}: wrote ${want}, read ${got} (${role})`);
    };
    try {
      for (let i = 0; i < 1000; i++) {
        const id = rand.int(64);
        const write =
          i % 10 === 9 && model.get(id) !== undefined
            ? { sql: 'DELETE FROM ryw WHERE id = $1', params: [id] }
            : { sql: 'INSERT INTO ryw (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v', params: [id, i] };
        const read = { sql: 'SELECT v FROM ryw WHERE id = $1', params: [id] };
        if (i % 2) {
          // Write and read in one batch (one call).
          const [, r] = await c.batch([write, read]);
          model.set(id, write.sql.startsWith('DELETE') ? undefined : i);
          check(i, id, r!.rows, r!.servedBy.role);
        } else {
          await c.execute(write.sql, write.params);
          model.set(id, write.sql.startsWith('DELETE') ? undefined : i);
          const r = await c.query(read.sql, read.params);
          check(i, id, r.rows, r.servedBy.role);
        }
        if (i % 20 === 19) {
          // A multi-shard read of the ids written lately: every shard's part must cover the session.
          const ids = [...new Set(Array.from({ length: 8 }, () => rand.int(64)))];
          const r = await c.query<{ id: number; v: number }>(`SELECT id, v FROM ryw WHERE id IN (${ids.join(', ')})`);
          const got = new Map(r.rows.map((x) => [Number(x.id), Number(x.v)]));
          for (const id of ids)
            if (got.get(id) !== model.get(id)) violations.push(`#${i} multi-shard id ${id}: wrote ${model.get(id)}, read ${got.get(id)} (${r.servedBy.role})`);
        }
      }
    } finally {
      await delay('main', 'weur', 0);
    }
    expect(violations, `seed ${seed}`).toEqual([]);
    // Both paths were taken: replicas that caught up within the wait, and the primary for the one delayed longer.
    expect(served.replica).toBeGreaterThan(0);
    expect(served.primary).toBeGreaterThan(0);
  });

  it('a second client given the bookmark sees the write (over HTTP batch and /sql)', async () => {
    const a = await client('main', { region: 'weur' });
    await a.execute('CREATE TABLE handoff (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
    await a.query('SELECT count(*) FROM handoff', [], { consistency: 'eventual' });
    await caughtUp(w.url, 'main');
    await delay('main', 'weur', { '-40': 0, '40-80': 30, '80-c0': 200, 'c0-': 1_000 });
    const misses: string[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const id = i % 12;
        await a.execute('INSERT INTO handoff (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v', [id, `w${i}`]);
        // A new client (one HTTP request per call) starting from A's bookmark.
        const b = await client('main', { region: 'weur', bookmark: a.bookmark }, false);
        const r = await b.query('SELECT v FROM handoff WHERE id = $1', [id]);
        if (r.rows[0]?.v !== `w${i}`) misses.push(`#${i}: client read ${String(r.rows[0]?.v)} (${r.servedBy.role})`);
        if (i % 5 === 0) {
          const h = await sqlHttp({ keyspace: 'main', sql: 'SELECT v FROM handoff WHERE id = $1', params: [id], bookmark: a.bookmark, region: 'weur' });
          if (h.rows[0]?.v !== `w${i}`) misses.push(`#${i}: /sql read ${String(h.rows[0]?.v)} (${h.servedBy.role})`);
        }
      }
    } finally {
      await delay('main', 'weur', 0);
    }
    expect(misses).toEqual([]);
  });

  it('monotonic reads: a session reading one counter from two regions that lag differently never goes back', async () => {
    const setup = await client('main', {}, false);
    await setup.execute('CREATE TABLE mono (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)');
    await setup.execute('INSERT INTO mono (id, n) VALUES (1, 0)');
    const shard = (await setup.query('SELECT n FROM mono WHERE id = 1', [], { consistency: 'strong' })).servedBy.shard;
    for (const region of ['wnam', 'weur']) await setup.query('SELECT n FROM mono WHERE id = 1', [], { region, consistency: 'eventual' });
    await caughtUp(w.url, 'main');
    await knob({ keyspace: 'main', shard, region: 'weur', op: 'delay', ms: 400 });
    let done = false;
    const writer = (async () => {
      const c = await client('main');
      while (!done) {
        await c.execute('UPDATE mono SET n = n + 1 WHERE id = 1');
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    writer.catch(() => undefined); // awaited below
    const reader = await client('main');
    const back: string[] = [];
    const by = new Map<string, number>();
    let n = -1;
    let lsn = 0;
    try {
      for (let i = 0; i < 100; i++) {
        const region = i % 2 ? 'weur' : 'wnam';
        const r = await reader.query('SELECT n FROM mono WHERE id = 1', [], { region });
        const got = Number(r.rows[0]!.n);
        const at = decodeBookmark(reader.bookmark)[`main/${shard}`] ?? 0;
        if (got < n || at < lsn) back.push(`#${i} from ${region} (${r.servedBy.role}): n ${n} → ${got}, LSN ${lsn} → ${at}`);
        n = Math.max(n, got);
        lsn = Math.max(lsn, at);
        by.set(`${r.servedBy.role} ${r.servedBy.region}`, (by.get(`${r.servedBy.role} ${r.servedBy.region}`) ?? 0) + 1);
      }
    } finally {
      done = true;
      await writer;
      await knob({ keyspace: 'main', shard, region: 'weur', op: 'delay', ms: 0 });
    }
    expect(back).toEqual([]);
    expect(by.get('replica wnam') ?? 0, JSON.stringify([...by])).toBeGreaterThan(0);
    expect(n).toBeGreaterThan(0);
  });

  it('converges after a random workload: sqlite→sqlite, pglite→sqlite, pglite→pglite', async () => {
    await Promise.all(
      KEYSPACES.map(async (k, i) => {
        const wl = new Workload(await client(k.name), rng(seed + i), 'a');
        workloads.set(k.name, wl);
        await wl.setup();
        for (let s = 0; s < (k.kind === 'pglite' ? 100 : 160); s++) await wl.step();
      }),
    );
    try {
      for (const k of KEYSPACES) await expectConverged(k.name);
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`);
    }
  });

  it('converges again after the Worker is killed mid-stream and restarted on the same state', async () => {
    // Delay one region's replicas so they are behind when the process dies.
    for (const k of KEYSPACES) await delay(k.name, k.regions.at(-1)!, 300);
    let killed = false;
    const steps = new Map<string, number>();
    const runners = KEYSPACES.map(async (k) => {
      const wl = workloads.get(k.name)!;
      wl.c = await client(k.name);
      for (let s = 0; ; s++) {
        steps.set(k.name, s);
        try {
          await wl.step(false); // no DDL in flight at the kill: a DDL runs shard after shard
        } catch (e) {
          if (killed) return;
          throw e;
        }
      }
    });
    const failed = Promise.race(runners).then(() => {
      if (!killed) throw new Error('a workload stopped before the kill');
    });
    failed.catch(() => undefined); // raced below
    // Mid-stream: every workload under way and a replica behind.
    await Promise.race([
      failed,
      expect
        .poll(
          async () => {
            if (KEYSPACES.some((k) => (steps.get(k.name) ?? 0) < 30)) return false;
            const behind = await Promise.all(KEYSPACES.map(async (k) => (await shardsOf(w.url, k.name)).some((s) => s.replicas.some((r) => r.lagRecords > 0))));
            return behind.every(Boolean);
          },
          { timeout: 120_000, interval: 50 },
        )
        .toBe(true),
    ]);
    killed = true;
    await w.kill();
    await Promise.all(runners);
    await w.stop();

    w = await start();
    for (const k of KEYSPACES) {
      const wl = workloads.get(k.name)!;
      wl.c = await client(k.name);
      for (let s = 0; s < 25; s++) await wl.step();
    }
    try {
      for (const k of KEYSPACES) await expectConverged(k.name);
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`);
    }
    // DO SQLite replicas resumed where they were; a PGlite replica (data in memory) copied again.
    for (const s of await shardsOf(w.url, 'main')) for (const r of s.replicas) expect(r.bootstraps, `main/${s.shard}/${r.region}`).toBe(1);
    for (const s of await shardsOf(w.url, 'pgpg')) for (const r of s.replicas) expect(r.bootstraps).toBeGreaterThanOrEqual(2);
    for (const k of KEYSPACES) await delay(k.name, k.regions.at(-1)!, 0);
  });

  it('a replica cut off past the trim point re-bootstraps and converges; the log stays bounded while it is down', async () => {
    const c = await client('main', { region: 'wnam' });
    await c.execute('CREATE TABLE cut (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
    const shard = (await c.query('SELECT count(*) FROM cut WHERE id = 1', [], { consistency: 'strong' })).servedBy.shard;
    await caughtUp(w.url, 'main');
    const before = await knob<ReplicaRow>({ keyspace: 'main', shard, region: 'wnam', op: 'pause' });
    expect(before.state).toBe('behind'); // paused: not following
    // Rows of that shard only: the same vindex value, so one record each on the paused replica's shard.
    for (let i = 0; i < 100; i++) await c.execute('INSERT INTO cut (id, v) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v', [`v${i}`]);
    const { firstLsn, status } = await knob<{ firstLsn: number; status: { lsn: number } }>({
      keyspace: 'main',
      shard,
      op: 'trim',
      trim: { keepRecords: 10, keepMs: 0, maxRecords: 40 },
    });
    expect(status.lsn - firstLsn + 1).toBeLessThanOrEqual(40); // bounded, whatever the paused replica acknowledged
    expect(firstLsn).toBeGreaterThan(before.appliedLsn + 1); // its next record is gone
    // Paused, it still serves (stale).
    expect((await c.query('SELECT v FROM cut WHERE id = 1', [], { consistency: 'eventual' })).servedBy).toMatchObject({ role: 'replica', region: 'wnam' });
    await knob({ keyspace: 'main', shard, region: 'wnam', op: 'resume' });
    await expectConverged('main');
    const r = (await shardsOf(w.url, 'main')).find((s) => s.shard === shard)!.replicas.find((x) => x.region === 'wnam')!;
    expect(r.bootstraps).toBe(before.bootstraps + 1);
    expect((await c.query('SELECT v FROM cut WHERE id = 1', [], { consistency: 'eventual' })).rows).toEqual([{ v: 'v99' }]);
  });
});
