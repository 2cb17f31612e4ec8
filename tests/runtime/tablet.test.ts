// The shard primary (VTTablet) in workerd, on both engines: execution, change log, interactive
// and two-phase transactions, listeners, trim, snapshots, and restarts (DO eviction).
import { evictDurableObject } from 'cloudflare:test';
import { env, RpcTarget } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { KeyRangeFilter } from '../../changelog/snapshot.js';
import type { EngineKind } from '../../engines/engine.js';
import type { TxReply, TxStep } from '../../primary/interactive.js';
import type { LogRecord } from '../../rpc/changes.js';
import type { Stub, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';
import { asVitessError } from '../../rpc/errors.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { inRange } from '../../rpc/keyspace/keyrange.js';
import { pageRows, type Row } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';

type TabletCalls = Pick<
  TabletApi,
  | 'query'
  | 'batch'
  | 'transaction'
  | 'commitPrepared'
  | 'rollbackPrepared'
  | 'pull'
  | 'waitFor'
  | 'register'
  | 'subscribe'
  | 'ack'
  | 'trim'
  | 'snapshot'
  | 'status'
  | 'snapshotDataDir'
  | 'listPrepared'
  | 'applyDdl'
  | 'ddlHistory'
>;
type Tablet = Stub<TabletCalls>;

let seq = 0;
const tablet = (kind: EngineKind, name = `${kind}-${++seq}-${Math.random()}`) => {
  const stub = env.TABLET.get(env.TABLET.idFromName(name));
  return { t: stubOf<TabletCalls>(stub), stub, kind };
};

/** A transaction driver that replays a script of statements and then ends as told. */
class Script extends RpcTarget {
  readonly replies: TxReply[] = [];
  private i = 0;
  constructor(private readonly steps: (TxStep | ((last: TxReply) => TxStep))[]) {
    super();
  }
  async next(reply: TxReply): Promise<TxStep> {
    if (reply) this.replies.push(reply);
    const step = this.steps[this.i++];
    if (!step) return { end: 'commit' };
    return typeof step === 'function' ? step(reply) : step;
  }
}

/** Never answers: the transaction must time out. */
class Silent extends RpcTarget {
  next(): Promise<TxStep> {
    return new Promise(() => undefined);
  }
}

class Collector extends RpcTarget {
  readonly records: LogRecord[] = [];
  async push(records: LogRecord[]): Promise<void> {
    this.records.push(...records);
  }
}

/**
 * Restarts the DO (in-memory state gone, storage kept). workerd will not evict a DO that runs
 * PGlite ("active references"), so PGlite restarts are covered by the crash test instead
 * (tests/e2e/crash.test.ts), which kills the whole runtime.
 */
const restart = async (stub: DurableObjectStub, kind: EngineKind): Promise<void> => {
  if (kind === 'do-sqlite') await evictDurableObject(stub);
};

const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e) => asVitessError(e).code,
  );
const rows = async (t: Tablet, kind: EngineKind, sql: string, params?: SqlValue[]) => (await t.query(kind, sql, params)).rows;

/** Every row of `table`, read in snapshot pages of `limit`. */
async function allPages(t: Tablet, kind: EngineKind, table: string, limit: number, keyRange?: KeyRangeFilter): Promise<Row[]> {
  const out: Row[] = [];
  let after: SqlValue[] | null = null;
  do {
    const page = await t.snapshot(kind, table, after, limit, keyRange);
    out.push(...pageRows(page.columns, page.rowsJson));
    after = page.nextKey;
  } while (after);
  return out;
}

describe.each(['do-sqlite', 'pglite'] as const)('VTTablet on %s', (kind) => {
  it('executes, logs one record per commit with gap-free LSNs, and returns the LSN', async () => {
    const { t } = tablet(kind);
    const r1 = await t.query(kind, 'CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty INT)');
    const r2 = await t.query(kind, "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)");
    const r3 = await t.batch(kind, [{ sql: 'UPDATE items SET qty = 5 WHERE id = 1' }, { sql: 'DELETE FROM items WHERE id = 2' }], { atomic: true });
    const read = await t.query(kind, 'SELECT * FROM items');
    expect([r1.lsn, r2.lsn, r3[1]!.lsn, read.lsn]).toEqual([1, 2, 3, 3]);
    const { records, lastLsn } = await t.pull(1);
    expect(lastLsn).toBe(3);
    expect(records.map((r) => r.lsn)).toEqual([1, 2, 3]);
    expect(records[0]!.changes).toEqual([{ ddl: 'CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty INT)' }]);
    expect(records[2]!.changes).toEqual([
      { table: 'items', op: 'update', key: { id: 1 }, row: { id: 1, name: 'a', qty: 5 } },
      { table: 'items', op: 'delete', key: { id: 2 } },
    ]);
    expect((await t.pull(3, { maxRecords: 1 })).records.map((r) => r.lsn)).toEqual([3]);
  }, 60_000);

  it('a failed statement in an atomic batch leaves no row and no log record; the shard keeps serving', async () => {
    const { t } = tablet(kind);
    await t.query(kind, 'CREATE TABLE b (id INT PRIMARY KEY, v TEXT NOT NULL)');
    expect(await code(t.batch(kind, [{ sql: "INSERT INTO b VALUES (1, 'x')" }, { sql: 'INSERT INTO b VALUES (2, NULL)' }], { atomic: true }))).toBe(
      'CONSTRAINT',
    );
    expect(await code(t.query(kind, 'SELEC 1'))).toBe('SYNTAX');
    expect(await code(t.query(kind, 'SELECT * FROM nope'))).toBe('NOT_FOUND');
    expect(await code(t.query(kind, "INSERT INTO b VALUES ('x', 'y')"))).toMatch(/INVALID|CONSTRAINT/);
    expect(await code(t.query(kind, `SELECT '${'x'.repeat(101 * 1024)}'`))).toBe('LIMIT_EXCEEDED');
    expect(await rows(t, kind, 'SELECT count(*) AS n FROM b')).toEqual([{ n: 0 }]);
    expect((await t.pull(1)).lastLsn).toBe(1);
    await t.query(kind, "INSERT INTO b VALUES (1, 'ok')");
    expect((await t.pull(1)).lastLsn).toBe(2);
  }, 60_000);

  it('refuses a table without a primary key, naming it', async () => {
    const { t } = tablet(kind);
    const err = await t.query(kind, 'CREATE TABLE loose (a INT)').catch((e) => asVitessError(e));
    expect(err).toMatchObject({ code: 'INVALID', message: expect.stringMatching(/"loose" has no primary key/) });
    expect((await t.pull(1)).lastLsn).toBe(0);
  }, 60_000);

  it('interactive transactions: own writes visible, commit, rollback on request, on error and on timeout', async () => {
    const { t } = tablet(kind);
    await t.query(kind, 'CREATE TABLE acc (id INT PRIMARY KEY, bal INT NOT NULL CHECK (bal >= 0))');
    await t.query(kind, 'INSERT INTO acc VALUES (1, 100), (2, 0)');
    const s = new Script([
      { sql: 'UPDATE acc SET bal = bal - 30 WHERE id = 1' },
      { sql: 'UPDATE acc SET bal = bal + 30 WHERE id = 2' },
      { sql: 'SELECT bal FROM acc WHERE id = 2' },
    ]);
    expect(await t.transaction(kind, 'tx-1', s)).toMatchObject({ outcome: 'committed', lsn: 3 });
    expect(s.replies.at(-1)).toMatchObject({ result: { rows: [{ bal: 30 }] } });
    expect((await t.pull(3)).records[0]!.txid).toBe('tx-1');

    expect(await t.transaction(kind, 'tx-2', new Script([{ sql: 'DELETE FROM acc' }, { end: 'rollback' }]))).toMatchObject({ outcome: 'rolled back' });
    expect(
      await code(t.transaction(kind, 'tx-3', new Script([{ sql: 'DELETE FROM acc WHERE id = 2' }, { sql: 'UPDATE acc SET bal = -1 WHERE id = 1' }]))),
    ).toBe('CONSTRAINT');
    expect(await code(t.transaction(kind, 'tx-4', new Silent(), { timeoutMs: 300 }))).toBe('TIMEOUT');
    expect(await rows(t, kind, 'SELECT * FROM acc ORDER BY id')).toEqual([
      { id: 1, bal: 70 },
      { id: 2, bal: 30 },
    ]);
    expect((await t.pull(1)).lastLsn).toBe(3);
  }, 60_000);

  it('200 concurrent read-modify-write transactions lose no update', async () => {
    const { t } = tablet(kind);
    await t.query(kind, 'CREATE TABLE counter (id INT PRIMARY KEY, n INT NOT NULL)');
    await t.query(kind, 'INSERT INTO counter VALUES (1, 0)');
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        t.transaction(
          kind,
          `inc-${i}`,
          new Script([
            { sql: 'SELECT n FROM counter WHERE id = 1' },
            (last) => ({
              sql: 'UPDATE counter SET n = $1 WHERE id = 1',
              params: [(last as unknown as { result: { rows: { n: number }[] } }).result.rows[0]!.n + 1],
            }),
          ]),
        ),
      ),
    );
    expect(await rows(t, kind, 'SELECT n FROM counter')).toEqual([{ n: 200 }]);
    expect((await t.pull(1)).lastLsn).toBe(202);
  }, 120_000);

  it('waitFor resolves once the LSN is reached, or at its timeout', async () => {
    const { t } = tablet(kind);
    await t.query(kind, 'CREATE TABLE w (id INT PRIMARY KEY)');
    expect(await t.waitFor(2, 50)).toBe(1);
    const waiting = t.waitFor(2, 10_000);
    await t.query(kind, 'INSERT INTO w VALUES (1)');
    expect(await waiting).toBe(2);
  }, 60_000);

  it('pushes committed records to a subscribed listener', async () => {
    const { t } = tablet(kind);
    const c = new Collector();
    await t.subscribe('gw-1', c);
    await t.query(kind, 'CREATE TABLE p (id INT PRIMARY KEY)');
    await t.query(kind, 'INSERT INTO p VALUES (1)');
    await t.waitFor(2, 1000);
    await expect.poll(() => c.records.map((r) => r.lsn)).toEqual([1, 2]);
  }, 60_000);

  it('trims below the listeners’ acknowledgements and the retention window; the log stays bounded', async () => {
    const { t } = tablet(kind);
    await t.query(kind, 'CREATE TABLE tr (id INT PRIMARY KEY, v INT)');
    await t.register('replica-a', 0);
    for (let i = 0; i < 60; i++) await t.query(kind, 'INSERT INTO tr VALUES ($1, $1)', [i]);
    expect(await t.trim({ keepRecords: 10, keepMs: 0, maxRecords: 1000 })).toBe(1); // replica-a acked nothing
    await t.ack('replica-a', 40);
    expect(await t.trim()).toBe(41);
    expect(await code(t.pull(5))).toBe('NOT_FOUND');
    // A listener that never acknowledges cannot hold more than maxRecords.
    for (let i = 60; i < 120; i++) await t.query(kind, 'INSERT INTO tr VALUES ($1, $1)', [i]);
    const first = await t.trim({ maxRecords: 25 });
    const status = await t.status();
    expect(status.lsn - first + 1).toBeLessThanOrEqual(25); // PGlite snapshots first, so it may trim too
    expect((await t.pull(first)).records[0]!.lsn).toBe(first);
  }, 120_000);

  it('keeps each record’s changes exact across multi-row statements, cascades, trims and restarts', async () => {
    const { t, stub } = tablet(kind);
    await t.query(kind, 'CREATE TABLE par (id INT PRIMARY KEY, r DOUBLE PRECISION, n NUMERIC, b BYTEA, at TIMESTAMPTZ)');
    await t.query(kind, 'CREATE TABLE kid (id INT PRIMARY KEY, par INT REFERENCES par (id) ON DELETE CASCADE)');
    const at = new Date('2024-05-06T07:08:09.123Z');
    await t.query(kind, 'INSERT INTO par VALUES (1, $1, $2, $3, $4), (2, $5, 7, NULL, NULL)', [0.1 + 0.2, '1.25', new Uint8Array([0, 255, 16]), at, 1e300]);
    await t.query(kind, 'INSERT INTO kid VALUES (10, 1), (11, 1), (12, 2)');
    await t.query(kind, 'DELETE FROM par WHERE id = 1'); // and, by cascade, kids 10 and 11
    const expected = async () => (await t.pull(1)).records.map((r) => r.changes);
    const all = await expected();
    expect(all[2]).toEqual([
      { table: 'par', op: 'insert', key: { id: 1 }, row: { id: 1, r: 0.1 + 0.2, n: '1.25', b: new Uint8Array([0, 255, 16]), at } },
      { table: 'par', op: 'insert', key: { id: 2 }, row: { id: 2, r: 1e300, n: '7', b: null, at: null } },
    ]);
    expect(all[4]!.map((c) => 'op' in c && `${c.op} ${c.table} ${String(c.key.id)}`).sort()).toEqual(['delete kid 10', 'delete kid 11', 'delete par 1']);
    // A page stops before it passes maxBytes, but always holds one record.
    expect((await t.pull(3, { maxBytes: 1 })).records.map((r) => r.lsn)).toEqual([3]);
    expect((await t.pull(3, { maxBytes: 10_000 })).records.map((r) => r.lsn)).toEqual([3, 4, 5]);
    // Nothing is left to a listener; trim everything but the newest 2 records, then go on writing.
    await t.trim({ keepRecords: 2, keepMs: 0, maxRecords: 1000 });
    expect((await t.pull(4)).records.map((r) => r.changes)).toEqual(all.slice(3));
    await restart(stub, kind);
    await t.query(kind, 'UPDATE kid SET par = NULL WHERE id = 12');
    await t.query(kind, 'DELETE FROM par');
    const after = (await t.pull(4)).records;
    expect(after.map((r) => r.lsn)).toEqual([4, 5, 6, 7]);
    expect(after.slice(0, 2).map((r) => r.changes)).toEqual(all.slice(3));
    expect(after[2]!.changes).toEqual([{ table: 'kid', op: 'update', key: { id: 12 }, row: { id: 12, par: null } }]);
    expect(after[3]!.changes).toEqual([{ table: 'par', op: 'delete', key: { id: 2 } }]);
    // The engine's own tables are not the user's to write.
    expect(await code(t.query(kind, "INSERT INTO _vt_meta (key, value) VALUES ('x', 'y')"))).toMatch(/INVALID|NOT_FOUND/);
    expect((await t.pull(7)).lastLsn).toBe(7);
    // Trimmed to nothing, the next record still holds just its own change.
    expect(await t.trim({ keepRecords: 0, keepMs: 0, maxRecords: 1000 })).toBe(8);
    await t.query(kind, 'INSERT INTO kid VALUES (13, NULL)');
    expect((await t.pull(8)).records.map((r) => r.changes)).toEqual([[{ table: 'kid', op: 'insert', key: { id: 13 }, row: { id: 13, par: null } }]]);
  }, 120_000);

  it('serves consistent snapshot pages in primary-key order', async () => {
    const { t } = tablet(kind);
    await t.query(kind, 'CREATE TABLE s (a INT, b TEXT, v INT, PRIMARY KEY (a, b))');
    for (let i = 0; i < 7; i++) await t.query(kind, 'INSERT INTO s VALUES ($1, $2, $3)', [i % 3, `k${i}`, i]);
    expect(await allPages(t, kind, 's', 3)).toEqual(await rows(t, kind, 'SELECT * FROM s ORDER BY a, b'));
    expect(await code(t.snapshot(kind, 'missing', null))).toBe('NOT_FOUND');
  }, 60_000);

  it('serves snapshot pages holding every type exactly as a query returns it', async () => {
    const { t } = tablet(kind);
    await t.query(
      kind,
      'CREATE TABLE ty (id INT8 PRIMARY KEY, b BOOL, i4 INT, big INT8, f FLOAT8, n NUMERIC, s TEXT, j JSONB, by BYTEA, ts TIMESTAMPTZ, d DATE, u UUID)',
    );
    const huge = 2n ** 53n + 1n;
    const values: SqlValue[][] = [
      [
        huge,
        true,
        -7,
        -(2n ** 62n),
        0.1,
        '12.5',
        'a "quoted" \\ line\nbreak ✓',
        { a: [1, 'x'], b: null },
        new Uint8Array([0, 1, 255]),
        new Date('2024-05-06T07:08:09.123Z'),
        '2024-05-06',
        '6f1c2b4e-8d3a-4c5e-9f7a-1b2c3d4e5f60',
      ],
      [-3, false, 2147483647, 42, Infinity, '100', '', [1, 2], new Uint8Array([]), new Date('1999-12-31T23:59:59Z'), '1999-12-31', null],
      [5, null, null, null, null, null, null, null, null, null, null, null],
      [huge - 2n, true, 0, 9007199254740991, -1.5e300, '0.001', 'x', { k: 'v' }, new Uint8Array([7]), new Date(0), '1970-01-01', null],
      [0, false, 1, 2, 3.25, '-4', 'zero', [], null, null, null, null],
      // Past 2^53 the next page starts after a key bound as text: it must still compare as a number.
      [huge + 2n, null, null, null, null, null, null, null, null, null, null, null],
      [huge + 4n, null, null, null, null, null, null, null, null, null, null, null],
    ];
    for (const v of values) await t.query(kind, 'INSERT INTO ty VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)', v);
    const seen = await allPages(t, kind, 'ty', 2);
    expect(seen).toEqual(await rows(t, kind, 'SELECT * FROM ty ORDER BY id'));
    expect(seen.map((r) => r.id)).toEqual([-3, 0, 5, Number(huge - 2n), huge, huge + 2n, huge + 4n]);
    const bad = await t.snapshot(kind, 'ty', [1, 2], 2).catch((e: unknown) => asVitessError(e));
    expect(bad).toMatchObject({ code: 'INVALID', message: expect.stringMatching(/afterKey has 2 values.*table "ty" has 1 columns/) });
  }, 60_000);

  it('filters snapshot pages by key range: the halves partition the table by keyspace id', async () => {
    const { t } = tablet(kind);
    await t.query(kind, 'CREATE TABLE kr (id INT PRIMARY KEY, v TEXT)');
    for (let i = 0; i < 40; i += 10)
      await t.batch(
        kind,
        Array.from({ length: 10 }, (_, j) => ({ sql: 'INSERT INTO kr VALUES ($1, $2)', params: [i + j, `v${i + j}`] })),
        { atomic: true },
      );
    const read = async (range: string) => (await allPages(t, kind, 'kr', 7, { column: 'id', vindex: 'hash', range })).map((r) => r.id as number);
    const low = await read('-80');
    const high = await read('80-');
    expect([...low, ...high].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    for (const id of low) expect(inRange(hashId(id)!, '-80')).toBe(true);
    for (const id of high) expect(inRange(hashId(id)!, '80-')).toBe(true);
    expect(low.length).toBeGreaterThan(0);
    expect(high.length).toBeGreaterThan(0);
    expect(await code(t.snapshot(kind, 'kr', null, 10, { column: 'id', vindex: 'hash', range: 'zz' }))).toBe('INVALID');
  }, 60_000);

  it('two-phase commit: prepared writes are invisible, hold the shard, survive a restart and are decidable', async () => {
    const { t, stub } = tablet(kind);
    await t.query(kind, 'CREATE TABLE tp (id INT PRIMARY KEY, v TEXT)');
    await t.query(kind, "INSERT INTO tp VALUES (1, 'before')");
    const prep = await t.transaction(
      kind,
      'gtx-1',
      new Script([{ sql: "UPDATE tp SET v = 'after' WHERE id = 1" }, { sql: "INSERT INTO tp VALUES (2, 'new')" }, { end: 'prepare' }]),
      { twoPhase: true },
    );
    expect(prep.outcome).toBe('prepared');
    expect(await rows(t, kind, 'SELECT * FROM tp ORDER BY id')).toEqual([{ id: 1, v: 'before' }]);
    // A write meanwhile waits for the decision (or, across the restart, fails and is retried below).
    const blocked = t.query(kind, "INSERT INTO tp VALUES (3, 'waits')").then(
      () => true,
      () => false,
    );
    await restart(stub, kind); // a restart while prepared
    expect((await t.listPrepared()).map((p) => p.txid)).toEqual(['gtx-1']);
    expect(await t.commitPrepared('gtx-1')).toMatchObject({ outcome: 'committed' });
    expect(await t.commitPrepared('gtx-1')).toMatchObject({ outcome: 'committed' }); // idempotent
    if (!(await blocked)) await t.query(kind, "INSERT INTO tp VALUES (3, 'waits')");
    expect(await rows(t, kind, 'SELECT * FROM tp ORDER BY id')).toEqual([
      { id: 1, v: 'after' },
      { id: 2, v: 'new' },
      { id: 3, v: 'waits' },
    ]);
    const log = (await t.pull(1)).records;
    expect(log.filter((r) => r.txid === 'gtx-1')).toHaveLength(1);

    await t.transaction(kind, 'gtx-2', new Script([{ sql: 'DELETE FROM tp' }, { end: 'prepare' }]), { twoPhase: true });
    expect(await t.rollbackPrepared('gtx-2')).toMatchObject({ outcome: 'rolled back' });
    expect(await rows(t, kind, 'SELECT count(*) AS n FROM tp')).toEqual([{ n: 3 }]);
    expect(await code(t.commitPrepared('never-prepared'))).toBe('NOT_FOUND');
  }, 120_000);

  it('two-phase commit: racing commitPrepared calls (a resend and the first send) apply it once; ending in commit writes once; no prepare after prepareBy', async () => {
    const { t } = tablet(kind);
    await t.query(kind, 'CREATE TABLE tc (id INT PRIMARY KEY, n INT)');
    await t.query(kind, 'INSERT INTO tc VALUES (1, 0)');
    await t.transaction(kind, 'gtx-race', new Script([{ sql: 'UPDATE tc SET n = n + 1 WHERE id = 1' }, { end: 'prepare' }]), { twoPhase: true });
    const outcomes = await Promise.all([1, 2, 3].map(() => t.commitPrepared('gtx-race')));
    expect(outcomes.map((o) => o.outcome)).toEqual(['committed', 'committed', 'committed']);
    await t.transaction(kind, 'gtx-one', new Script([{ sql: 'UPDATE tc SET n = n + 10 WHERE id = 1' }, { end: 'commit' }]), { twoPhase: true });
    expect(await rows(t, kind, 'SELECT n FROM tc')).toEqual([{ n: 11 }]);
    const log = (await t.pull(1)).records;
    expect(log.filter((r) => r.txid === 'gtx-race')).toHaveLength(1);
    expect(log.filter((r) => r.txid === 'gtx-one')).toHaveLength(1);
    const late = t.transaction(kind, 'gtx-late', new Script([{ sql: 'UPDATE tc SET n = n + 100 WHERE id = 1' }, { end: 'prepare' }]), {
      twoPhase: true,
      prepareBy: Date.now() - 1,
    });
    expect(await code(late)).toBe('TIMEOUT');
    expect(await t.listPrepared()).toEqual([]);
    expect(await rows(t, kind, 'SELECT n FROM tc')).toEqual([{ n: 11 }]);
  }, 60_000);

  it('applies a DDL intent at most once: a resend, racing or later or after a restart, runs nothing; a refusal applies nothing', async () => {
    const { t, stub } = tablet(kind);
    const id = crypto.randomUUID();
    const ddl = ['CREATE TABLE di (id BIGINT PRIMARY KEY, v TEXT)', 'CREATE INDEX di_v ON di (v)'];
    const [a, b] = await Promise.all([t.applyDdl(kind, id, ddl), t.applyDdl(kind, id, ddl)]);
    expect([a.outcome, b.outcome].sort()).toEqual(['already applied', 'applied']);
    expect(await t.applyDdl(kind, id, ddl)).toEqual({ outcome: 'already applied', lsn: 1 });
    await restart(stub, kind);
    expect(await t.applyDdl(kind, id, ddl)).toEqual({ outcome: 'already applied', lsn: 1 });
    // One record, carrying the intent id, holding both statements.
    const { records } = await t.pull(1);
    expect(records.map((r) => [r.lsn, r.txid])).toEqual([[1, id]]);
    expect((await t.ddlHistory()).statements).toEqual(ddl);
    // Refused (the second statement fails): answered, not thrown; nothing of it applied or logged, and not remembered.
    const bad = crypto.randomUUID();
    const refused = await t.applyDdl(kind, bad, ['ALTER TABLE di ADD COLUMN w TEXT', 'CREATE TABLE di (id BIGINT PRIMARY KEY)']);
    expect(refused.outcome).toBe('refused');
    expect((await t.query(kind, 'SELECT * FROM di')).fields.map((f) => f.name)).toEqual(['id', 'v']);
    expect((await t.pull(1)).records).toHaveLength(1);
    expect((await t.applyDdl(kind, bad, ['ALTER TABLE di ADD COLUMN w TEXT'])).outcome).toBe('applied');
    expect((await t.ddlHistory()).statements).toEqual([...ddl, 'ALTER TABLE di ADD COLUMN w TEXT']);
  });

  it('keeps every acknowledged write across a restart', async () => {
    const { t, stub } = tablet(kind);
    await t.query(kind, 'CREATE TABLE d (id INT PRIMARY KEY, v JSONB, big BIGINT)');
    for (let i = 0; i < 20; i++) await t.query(kind, 'INSERT INTO d VALUES ($1, $2, $3)', [i, { i }, 2n ** 60n + BigInt(i)]);
    if (kind === 'pglite') await t.snapshotDataDir();
    for (let i = 20; i < 30; i++) await t.query(kind, 'INSERT INTO d VALUES ($1, $2, $3)', [i, { i }, 2n ** 60n + BigInt(i)]);
    await restart(stub, kind);
    const after = await rows(t, kind, 'SELECT count(*) AS n, max(big) AS m FROM d');
    expect(after).toEqual([{ n: 30, m: 2n ** 60n + 29n }]);
    await t.query(kind, 'INSERT INTO d VALUES (30, NULL, NULL)');
    expect((await t.pull(1)).records.map((r) => r.lsn)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
  }, 120_000);
});
