// VTReplica in workerd, against a real VTTablet: bootstrap, tailing (push and pull), apply,
// convergence after a random workload on each engine pair, re-bootstrap past the trim point,
// read-only refusals, waitFor and deliberately delayed replication.
import { evictDurableObject } from 'cloudflare:test';
import { env, RpcTarget } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { EngineKind } from '../../engines/engine.js';
import type { TxReply, TxStep } from '../../primary/interactive.js';
import type { ReplicaConfig, ReplicaEngine } from '../../replica/replica-do.js';
import type { ReplicaApi, Stub, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';
import { asVitessError } from '../../rpc/errors.js';
import type { Row, Statement } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import { toWire } from '../../rpc/values.js';
import { rng } from '../support/rng.js';

type TabletCalls = Pick<TabletApi, 'query' | 'batch' | 'transaction' | 'pull' | 'trim' | 'status' | 'ddlHistory' | 'unregister'>;
type Tablet = Stub<TabletCalls>;
type ReplicaCalls = Pick<ReplicaApi, 'start' | 'query' | 'status' | 'waitFor' | 'tables' | 'setApplyDelay' | 'pause' | 'resume' | 'destroy'>;
type Replica = Stub<ReplicaCalls>;

let seq = 0;
/** A fresh keyspace with one shard (`-`): its primary, and replicas by region. */
const shard = (primaryEngine: EngineKind) => {
  const keyspace = `ks${++seq}x${Math.floor(Math.random() * 1e9)}`;
  const t = stubOf<TabletCalls>(env.TABLET.getByName(`${keyspace}/-`));
  const replica = (region: string, engine: ReplicaEngine, extra: Partial<ReplicaConfig> = {}) => {
    const r = stubOf<ReplicaCalls>(env.REPLICA.getByName(`${keyspace}/-/${region}`));
    return { r, start: () => r.start({ keyspace, shard: '-', region, primaryEngine, engine, ...extra }) };
  };
  return { keyspace, t, kind: primaryEngine, replica };
};

/** A transaction driver that replays a script of statements and then ends as told. */
class Script extends RpcTarget {
  private i = 0;
  constructor(private readonly steps: TxStep[]) {
    super();
  }
  async next(_reply: TxReply): Promise<TxStep> {
    return this.steps[this.i++] ?? { end: 'commit' };
  }
}

const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e) => asVitessError(e).code,
  );

/**
 * A random workload on one primary: inserts, updates (also of the key), deletes, atomic
 * batches, interactive transactions (committed and rolled back), and DDL (new columns, new and
 * dropped tables, indexes). Statements may fail (duplicate keys, the unique index): a failure
 * leaves nothing behind, which is part of what is checked. Returns the tables that exist.
 */
class Workload {
  readonly tables = new Map<string, string[]>([
    ['acct', ['id']],
    ['pair', ['a', 'b']],
  ]);
  private cols = 0;
  private extras = 0;
  constructor(
    private readonly t: Tablet,
    private readonly kind: EngineKind,
    private readonly rand: ReturnType<typeof rng>,
  ) {}

  async setup(): Promise<void> {
    await this.t.query(
      this.kind,
      'CREATE TABLE acct (id INT PRIMARY KEY, owner TEXT NOT NULL, bal BIGINT NOT NULL, flag BOOLEAN, meta JSONB, score DOUBLE PRECISION, amount NUMERIC(12,2), at TIMESTAMPTZ)',
    );
    await this.t.query(this.kind, 'CREATE UNIQUE INDEX acct_owner ON acct (owner)');
    await this.t.query(this.kind, 'CREATE TABLE pair (a INT, b TEXT, v BYTEA, PRIMARY KEY (a, b))');
    // Enough rows for a copy to take several pages.
    for (let i = 0; i < 120; i += 40) {
      await this.t.batch(
        this.kind,
        Array.from({ length: 40 }, (_, j) => ({
          sql: 'INSERT INTO pair VALUES ($1, $2, $3)',
          params: [(i + j) % 17, `k${i + j}`, new Uint8Array([i + j, 7])],
        })),
        { atomic: true },
      );
    }
  }

  private dml(): Statement {
    const r = this.rand;
    const id = r.int(40);
    switch (r.int(10)) {
      case 0:
      case 1:
      case 2:
        return {
          sql: 'INSERT INTO acct (id, owner, bal, flag, meta, score, amount, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          params: [
            id,
            `o${r.int(60)}`,
            2n ** 60n + BigInt(r.int(1000)),
            r.next() < 0.5,
            { n: r.int(100), tags: ['x', r.int(5)] },
            r.int(1000) / 8,
            `${r.int(10000)}.${r.int(100)}`,
            new Date(1_700_000_000_000 + r.int(1e9)),
          ],
        };
      case 3:
        return { sql: 'UPDATE acct SET bal = bal + $2, flag = NOT flag, meta = $3 WHERE id = $1', params: [id, r.int(50), { n: r.int(100) }] };
      case 4:
        return { sql: 'UPDATE acct SET owner = $2 WHERE id = $1', params: [id, `o${r.int(60)}`] };
      case 5:
        return { sql: 'UPDATE acct SET id = $2 WHERE id = $1', params: [id, 40 + r.int(40)] };
      case 6:
        return { sql: 'DELETE FROM acct WHERE id = $1 OR id = $2', params: [id, 40 + r.int(40)] };
      case 7:
        return { sql: 'INSERT INTO pair VALUES ($1, $2, $3)', params: [r.int(17), `n${r.int(50)}`, new Uint8Array([r.int(256)])] };
      case 8:
        return { sql: 'UPDATE pair SET v = $2 WHERE a = $1', params: [r.int(17), new Uint8Array([r.int(256), r.int(256)])] };
      default:
        return { sql: 'DELETE FROM pair WHERE a = $1 AND b > $2', params: [r.int(17), `k${r.int(120)}`] };
    }
  }

  private async ddl(): Promise<void> {
    const r = this.rand;
    const extra = [...this.tables.keys()].filter((n) => n.startsWith('extra'));
    const choice = r.int(4);
    if (choice === 0) {
      await this.t.query(this.kind, `ALTER TABLE acct ADD COLUMN c${++this.cols} TEXT`);
    } else if (choice === 1 || !extra.length) {
      const name = `extra${++this.extras}`;
      await this.t.query(this.kind, `CREATE TABLE ${name} (id INT PRIMARY KEY, v TEXT)`);
      this.tables.set(name, ['id']);
    } else if (choice === 2) {
      const name = r.pick(extra);
      await this.t.query(this.kind, `DROP TABLE ${name}`);
      this.tables.delete(name);
    } else {
      await this.t.query(this.kind, `CREATE INDEX IF NOT EXISTS pair_v${r.int(3)} ON pair (v)`);
    }
  }

  async step(): Promise<void> {
    const r = this.rand;
    const p = r.next();
    const swallow = (e: unknown) => {
      const c = asVitessError(e).code;
      if (c !== 'CONSTRAINT') throw e; // duplicate key, unique owner: expected now and then
    };
    if (p < 0.06) return this.ddl();
    if (p < 0.12) {
      const extra = [...this.tables.keys()].filter((n) => n.startsWith('extra'));
      if (extra.length)
        await this.t.query(this.kind, `INSERT INTO ${r.pick(extra)} VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v`, [
          r.int(20),
          `v${r.int(100)}`,
        ]);
      return;
    }
    if (p < 0.2) {
      await this.t
        .batch(
          this.kind,
          Array.from({ length: 2 + r.int(3) }, () => this.dml()),
          { atomic: true },
        )
        .catch(swallow);
      return;
    }
    if (p < 0.28) {
      const steps: TxStep[] = Array.from({ length: 1 + r.int(3) }, () => this.dml());
      steps.push({ end: r.next() < 0.7 ? 'commit' : 'rollback' });
      await this.t.transaction(this.kind, crypto.randomUUID(), new Script(steps)).catch(swallow);
      return;
    }
    const s = this.dml();
    await this.t.query(this.kind, s.sql, s.params).catch(swallow);
  }
}

/** Rows of a table as comparable text (wire-encoded values), in key order. */
const canon = (rows: Row[], key: string[]): string[] =>
  rows
    .map((row) => ({
      k: JSON.stringify(key.map((k) => toWire(row[k] ?? null))),
      v: JSON.stringify(
        Object.keys(row)
          .sort()
          .map((c) => [c, toWire(row[c] ?? null)]),
      ),
    }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.v);

/** The replica holds exactly the primary's tables and rows. */
async function expectSameData(t: Tablet, kind: EngineKind, r: Replica, tables: Map<string, string[]>): Promise<void> {
  const lsn = (await t.status()).lsn;
  expect(await r.waitFor(lsn, 30_000)).toBeGreaterThanOrEqual(lsn);
  expect((await r.tables()).map((x) => x.name).sort()).toEqual([...tables.keys()].sort());
  for (const [name, key] of tables) {
    const sql = `SELECT * FROM ${name}`;
    const want = canon((await t.query(kind, sql)).rows, key);
    const got = canon((await r.query(sql)).rows, key);
    expect(got, `table ${name}`).toEqual(want);
  }
}

const PAIRS: [EngineKind, ReplicaEngine][] = [
  ['do-sqlite', 'do-sqlite'],
  ['pglite', 'pglite'],
  ['pglite', 'do-sqlite'],
];

describe.each(PAIRS)('replica: %s primary → %s replica', (primaryEngine, replicaEngine) => {
  it('converges after a random workload: one replica from the start, one started midway', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const { t, kind, replica } = shard(primaryEngine);
    const w = new Workload(t, kind, rng(seed));
    await w.setup();
    const early = replica('east', replicaEngine, { copyPageRows: 25 });
    await early.start();
    for (let i = 0; i < 80; i++) await w.step();
    const late = replica('west', replicaEngine, { copyPageRows: 25 });
    await late.start(); // copies while the workload goes on
    for (let i = 0; i < 80; i++) await w.step();
    try {
      await expectSameData(t, kind, early.r, w.tables);
      await expectSameData(t, kind, late.r, w.tables);
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`);
    }
    const s = await early.r.status();
    expect(s).toMatchObject({ state: 'streaming', region: 'east', engine: replicaEngine, primaryEngine, lagRecords: 0, lagMs: 0 });
    expect(s.appliedLsn).toBe((await t.status()).lsn);
  }, 180_000);

  it('a replica cut off past the trim point re-bootstraps and converges; the log stays bounded while it is down', async () => {
    const { t, kind, replica } = shard(primaryEngine);
    const w = new Workload(t, kind, rng(7));
    await w.setup();
    const { r, start } = replica('east', replicaEngine);
    await start();
    await expectSameData(t, kind, r, w.tables);
    await r.pause(); // down: registered with the primary, acknowledging nothing more
    const downAt = (await r.status()).appliedLsn;
    for (let i = 0; i < 100; i++) await t.query(kind, 'INSERT INTO pair VALUES ($1, $2, NULL) ON CONFLICT (a, b) DO UPDATE SET v = NULL', [i % 17, `d${i}`]);
    const first = await t.trim({ keepRecords: 10, keepMs: 0, maxRecords: 40 });
    const primary = await t.status();
    expect(primary.lsn - first + 1).toBeLessThanOrEqual(40); // bounded, whatever the replica acknowledged
    expect(first).toBeGreaterThan(downAt + 1); // the replica's next record is gone
    expect(await code(t.pull(downAt + 1))).toBe('NOT_FOUND');
    expect((await r.query('SELECT count(*) AS n FROM pair')).lsn).toBe(downAt); // still serves, stale
    await r.resume();
    await expectSameData(t, kind, r, w.tables);
    expect(await r.status()).toMatchObject({ state: 'streaming', bootstraps: 2 });
  }, 180_000);
});

describe('replica reads', () => {
  it('refuses writes with a typed error, and reads before it is started or while it copies', async () => {
    const { t, kind, replica } = shard('do-sqlite');
    const { r, start } = replica('east', 'do-sqlite');
    expect(await code(r.query('SELECT 1'))).toBe('UNAVAILABLE'); // not started
    await t.query(kind, 'CREATE TABLE ro (id INT PRIMARY KEY, v TEXT)');
    await t.query(kind, "INSERT INTO ro VALUES (1, 'a')");
    await start();
    expect(await r.waitFor(2, 30_000)).toBe(2);
    for (const sql of [
      "INSERT INTO ro VALUES (2, 'b')",
      "UPDATE ro SET v = 'x'",
      'DELETE FROM ro',
      'CREATE TABLE x (id INT PRIMARY KEY)',
      'DROP TABLE ro',
      'WITH d AS (DELETE FROM ro RETURNING id) SELECT * FROM d',
    ]) {
      const err = await r.query(sql).catch((e) => asVitessError(e));
      expect(err, sql).toMatchObject({ code: 'UNSUPPORTED', details: { construct: 'write on a read replica' } });
    }
    const read = await r.query('SELECT * FROM ro WHERE id = $1', [1]);
    expect(read).toMatchObject({ rows: [{ id: 1, v: 'a' }], lsn: 2 });
    expect((await r.query('WITH x AS (SELECT id FROM ro) SELECT count(*) AS n FROM x')).rows).toEqual([{ n: 1 }]);
    expect(await code(start().then(() => r.start({ keyspace: 'other', shard: '-', region: 'east', primaryEngine: 'do-sqlite', engine: 'do-sqlite' })))).toBe(
      'INVALID',
    );
  }, 120_000);

  it('waitFor resolves once applied, or at its timeout; delayed replication shows as lag', async () => {
    const { t, kind, replica } = shard('do-sqlite');
    const { r, start } = replica('east', 'pglite');
    await t.query(kind, 'CREATE TABLE w (id INT PRIMARY KEY)');
    await start();
    expect(await r.waitFor(1, 60_000)).toBe(1);
    await r.setApplyDelay(1_500);
    const { lsn } = await t.query(kind, 'INSERT INTO w VALUES (1)');
    expect(await r.waitFor(lsn, 50)).toBe(lsn - 1); // not applied before 1.5 s
    await expect.poll(async () => (await r.status()).lagRecords).toBe(1);
    await expect.poll(async () => (await r.status()).lagMs).toBeGreaterThan(0);
    expect((await r.query('SELECT count(*) AS n FROM w')).rows).toEqual([{ n: 0 }]);
    expect(await r.waitFor(lsn, 10_000)).toBe(lsn);
    expect((await r.query('SELECT count(*) AS n FROM w')).rows).toEqual([{ n: 1 }]);
    await r.setApplyDelay(0);
    // Read-your-writes, as VTGate will do it: write, wait for the write's LSN, read.
    for (let i = 2; i < 12; i++) {
      const wrote = await t.query(kind, 'INSERT INTO w VALUES ($1)', [i]);
      expect(await r.waitFor(wrote.lsn, 10_000)).toBeGreaterThanOrEqual(wrote.lsn);
      expect((await r.query('SELECT count(*) AS n FROM w')).rows).toEqual([{ n: i }]);
    }
    expect(await r.status()).toMatchObject({ state: 'streaming', pushing: true, lagRecords: 0 });
  }, 120_000);

  it('keeps up by pulling when pushes stop, and subscribes again', async () => {
    const { t, kind, keyspace, replica } = shard('do-sqlite');
    const { r, start } = replica('east', 'do-sqlite');
    await t.query(kind, 'CREATE TABLE p (id INT PRIMARY KEY)');
    await start();
    await r.waitFor(1, 30_000);
    const id = `replica:${keyspace}/-/east`;
    const pushing = async () => (await t.status()).listeners.find((l) => l.id === id)?.pushing;
    await expect.poll(pushing).toBe(true);
    await t.unregister(id); // as when the primary restarts: it no longer pushes here
    const { lsn } = await t.query(kind, 'INSERT INTO p VALUES (1)');
    // No waitFor (it would pull at once): the alarm's pull brings the record.
    await expect.poll(async () => (await r.status()).appliedLsn, { timeout: 15_000, interval: 200 }).toBe(lsn);
    await expect.poll(pushing, { timeout: 15_000, interval: 200 }).toBe(true);
    const again = await t.query(kind, 'INSERT INTO p VALUES (2)');
    await expect.poll(async () => (await r.status()).appliedLsn, { timeout: 5_000, interval: 50 }).toBe(again.lsn);
  }, 60_000);

  it('a do-sqlite replica restarted resumes from its applied LSN, without copying again', async () => {
    const { t, kind, keyspace, replica } = shard('do-sqlite');
    const { r, start } = replica('east', 'do-sqlite');
    await t.query(kind, 'CREATE TABLE rs (id INT PRIMARY KEY, v TEXT)');
    await start();
    for (let i = 0; i < 5; i++) await t.query(kind, 'INSERT INTO rs VALUES ($1, $2)', [i, `v${i}`]);
    expect(await r.waitFor(6, 30_000)).toBe(6);
    // While the primary holds its push stub the object cannot be evicted: pause drops it.
    await r.pause();
    await evictDurableObject(env.REPLICA.getByName(`${keyspace}/-/east`));
    for (let i = 5; i < 10; i++) await t.query(kind, 'INSERT INTO rs VALUES ($1, $2)', [i, `v${i}`]);
    expect(await r.status()).toMatchObject({ paused: true, appliedLsn: 6 }); // kept across the restart
    await r.resume();
    expect(await r.waitFor(11, 30_000)).toBe(11);
    expect((await r.query('SELECT count(*) AS n FROM rs')).rows).toEqual([{ n: 10 }]);
    expect(await r.status()).toMatchObject({ state: 'streaming', bootstraps: 1 });
  }, 60_000);

  it('destroy() unregisters from the primary and forgets everything', async () => {
    const { t, kind, replica } = shard('do-sqlite');
    const { r, start } = replica('east', 'do-sqlite');
    await t.query(kind, 'CREATE TABLE g (id INT PRIMARY KEY)');
    await start();
    await r.waitFor(1, 30_000);
    expect((await t.status()).listeners.map((l) => l.id)).toContain(`replica:${(await r.status()).keyspace}/-/east`);
    await r.destroy();
    expect((await t.status()).listeners).toEqual([]);
    expect(await code(r.query('SELECT 1'))).toBe('UNAVAILABLE');
  }, 60_000);
});

// Keep the value helpers honest: rows compared as wire text keep types apart (1 vs '1').
it('canon tells types apart', () => {
  expect(canon([{ id: 1 }], ['id'])).not.toEqual(canon([{ id: '1' as SqlValue }], ['id']));
});
