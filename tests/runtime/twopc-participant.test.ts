// The two-phase-commit participant (VTTablet) under faults (issue 21):
// - the coordinator's rollback comes before the prepare (defect 8): VTGate gave up on the
//   transaction (another shard failed to prepare, or the coordinator rolled back at its decision
//   deadline) while this shard's prepare was still on its way. The prepare that lands afterwards
//   must not hold the shard.
// - a commit decision asked again after the log was trimmed past it, or after a restart: the
//   tablet remembers what it committed, and NOT_FOUND means it never prepared the transaction.
// - a crash at each of the tablet's failpoints (the DO aborted right there): what the restart
//   finds, and that the coordinator's resend finishes the transaction exactly once.
import { runInDurableObject } from 'cloudflare:test';
import { env, RpcTarget } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineKind } from '../../engines/engine.js';
import { armFailpoints, type Failpoint } from '../../primary/failpoints.js';
import type { TxReply, TxStep } from '../../primary/interactive.js';
import { COMMITTED_RETENTION_MS } from '../../primary/prepared.js';
import type { Stub, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';
import { asVitessError } from '../../rpc/errors.js';

type TabletCalls = Pick<TabletApi, 'query' | 'transaction' | 'commitPrepared' | 'rollbackPrepared' | 'listPrepared' | 'pull' | 'trim' | 'status'>;
type Tablet = Stub<TabletCalls>;

const named = (name: string): Tablet => stubOf<TabletCalls>(env.TABLET.getByName(name));
const tablet = (kind: EngineKind): Tablet => named(`twopc-${kind}-${crypto.randomUUID()}`);

/** Restarts the tablet for real: the instance is aborted, the next call gets a new one (PGlite reopens from its snapshot and log). */
async function restart(name: string): Promise<Tablet> {
  await runInDurableObject(env.TABLET.getByName(name), (_, state) => state.abort('restart')).catch(() => undefined);
  return named(name);
}

const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e) => asVitessError(e).code,
  );

/** A driver whose steps the test hands over one by one (`step`), as VTGate does. */
class Steps extends RpcTarget {
  private readonly queue: TxStep[] = [];
  private waiting: ((s: TxStep) => void) | undefined;
  readonly replies: TxReply[] = [];

  next(reply: TxReply): Promise<TxStep> {
    if (reply) this.replies.push(reply);
    const s = this.queue.shift();
    return s
      ? Promise.resolve(s)
      : new Promise((resolve) => {
          this.waiting = resolve;
        });
  }

  step(s: TxStep): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w) w(s);
    else this.queue.push(s);
  }
}

/** A driver that hands over `steps`, all at once (the last one ends the transaction). */
const script = (...steps: TxStep[]): Steps => {
  const d = new Steps();
  for (const s of steps) d.step(s);
  return d;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(['do-sqlite', 'pglite'] as const)('two-phase participant on %s', (kind) => {
  it('a prepare that arrives after the coordinator rolled the transaction back is refused: nothing stays prepared, the shard is free at once', async () => {
    const t = tablet(kind);
    await t.query(kind, 'CREATE TABLE late (id INT PRIMARY KEY, n INT)');
    await t.query(kind, 'INSERT INTO late VALUES (1, 0)');
    const driver = new Steps();
    const outcome = t.transaction(kind, 'gtx-late-prepare', driver, { twoPhase: true }).then(
      (o) => o.outcome,
      (e: unknown) => asVitessError(e).code,
    );
    driver.step({ sql: 'UPDATE late SET n = n + 1 WHERE id = 1' });
    while (!driver.replies.length) await sleep(10);
    // The coordinator's rollback. On DO SQLite it waits at the input gate while the transaction
    // is open; on PGlite it is answered at once: either way it must not be lost.
    const rolledBack = t.rollbackPrepared('gtx-late-prepare');
    await Promise.race([rolledBack, sleep(200)]);
    driver.step({ end: 'prepare' });
    // PGlite: the prepare is refused. DO SQLite: the rollback got in only after the prepare, and undid it.
    expect(await outcome).toBe(kind === 'pglite' ? 'TIMEOUT' : 'prepared');
    expect(await rolledBack).toMatchObject({ outcome: 'rolled back' });
    expect(await t.listPrepared()).toEqual([]);
    // A write gets through at once instead of waiting behind a prepared transaction nobody decides.
    const started = Date.now();
    await t.query(kind, 'UPDATE late SET n = n + 10 WHERE id = 1');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await t.query(kind, 'SELECT n FROM late')).rows).toEqual([{ n: 10 }]);
  }, 60_000);
});

describe.each(['do-sqlite', 'pglite'] as const)('two-phase participant on %s: the commit LSN, known at prepare', (kind) => {
  it('a prepare answers the LSN its commit will have; a read holding that bookmark waits for the commit and sees it', async () => {
    const t = tablet(kind);
    await t.query(kind, 'CREATE TABLE early (id INT PRIMARY KEY, n INT)');
    await t.query(kind, 'INSERT INTO early VALUES (1, 0)');
    const prepared = await t.transaction(kind, 'gtx-early', script({ sql: 'UPDATE early SET n = 7 WHERE id = 1' }, { end: 'prepare' }), { twoPhase: true });
    expect(prepared).toEqual({ outcome: 'prepared', lsn: (await t.status()).lsn + 1 });
    // Without the bookmark a read sees the shard as it is; with it, it waits for the commit.
    expect((await t.query(kind, 'SELECT n FROM early')).rows).toEqual([{ n: 0 }]);
    let read: unknown;
    const waiting = t.query(kind, 'SELECT n FROM early', [], { minLsn: prepared.lsn }).then((r) => (read = r.rows));
    await sleep(100);
    expect(read).toBeUndefined();
    expect(await t.commitPrepared('gtx-early')).toEqual({ outcome: 'committed', lsn: prepared.lsn });
    await waiting;
    expect(read).toEqual([{ n: 7 }]);
    // A prepare that changed nothing commits no record: its commit LSN is the shard's LSN.
    const empty = await t.transaction(kind, 'gtx-empty', script({ sql: 'UPDATE early SET n = 1 WHERE id = 99' }, { end: 'prepare' }), { twoPhase: true });
    expect(empty.lsn).toBe((await t.status()).lsn);
    expect(await t.commitPrepared('gtx-empty')).toEqual({ outcome: 'committed', lsn: empty.lsn });
  }, 60_000);

  it('a bookmark the shard never reaches: UNAVAILABLE, naming both LSNs', async () => {
    const t = tablet(kind);
    await t.query(kind, 'CREATE TABLE ahead (id INT PRIMARY KEY)');
    const { lsn } = await t.status();
    const e = await t.query(kind, 'SELECT 1 AS x', [], { minLsn: lsn + 5 }).catch((x: unknown) => asVitessError(x));
    expect(e).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`behind the session's bookmark (${lsn + 5})`) });
  }, 60_000);
});

describe.each(['do-sqlite', 'pglite'] as const)('two-phase participant on %s: what it remembers of its commits', (kind) => {
  it('answers committed for a transaction it committed after the log was trimmed past it and after a restart; NOT_FOUND for one it never prepared', async () => {
    const name = `twopc-done-${kind}-${crypto.randomUUID()}`;
    let t = named(name);
    await t.query(kind, 'CREATE TABLE done (id INT PRIMARY KEY, n INT)');
    expect((await t.transaction(kind, 'gtx-done', script({ sql: 'INSERT INTO done VALUES (1, 1)' }, { end: 'prepare' }), { twoPhase: true })).outcome).toBe(
      'prepared',
    );
    const { lsn } = await t.commitPrepared('gtx-done');
    for (let id = 2; id <= 4; id++) await t.query(kind, 'INSERT INTO done VALUES ($1, $1)', [id]);
    await t.trim({ keepRecords: 0, keepMs: 0, maxRecords: 0 });
    expect((await t.status()).firstLsn).toBeGreaterThan(lsn);
    expect(await t.commitPrepared('gtx-done')).toEqual({ outcome: 'committed', lsn });
    t = await restart(name);
    expect(await t.commitPrepared('gtx-done')).toEqual({ outcome: 'committed', lsn });
    expect(await code(t.commitPrepared('gtx-never-prepared'))).toBe('NOT_FOUND');
    expect((await t.query(kind, 'SELECT id FROM done ORDER BY id')).rows.map((r) => r.id)).toEqual([1, 2, 3, 4]);
  }, 60_000);

  it('forgets a committed transaction once it is older than the retention (on its alarm)', async () => {
    const name = `twopc-retention-${kind}-${crypto.randomUUID()}`;
    const t = named(name);
    await t.query(kind, 'CREATE TABLE r (id INT PRIMARY KEY)');
    for (const [id, txid] of ['gtx-old', 'gtx-new'].entries()) {
      await t.transaction(kind, txid, script({ sql: 'INSERT INTO r VALUES ($1)', params: [id] }, { end: 'prepare' }), { twoPhase: true });
      await t.commitPrepared(txid);
    }
    await t.trim({ keepRecords: 0, keepMs: 0, maxRecords: 0 });
    await runInDurableObject(env.TABLET.getByName(name), async (instance, state) => {
      state.storage.sql.exec(`UPDATE _vt_2pc_done SET at = at - ? WHERE txid = 'gtx-old'`, COMMITTED_RETENTION_MS + 1);
      await (instance as unknown as { alarm(): Promise<void> }).alarm();
    });
    expect(await code(t.commitPrepared('gtx-old'))).toBe('NOT_FOUND');
    expect((await t.commitPrepared('gtx-new')).outcome).toBe('committed');
  }, 60_000);
});

describe.each(['do-sqlite', 'pglite'] as const)('two-phase participant on %s: a crash at each tablet failpoint', (kind) => {
  afterEach(() => armFailpoints(undefined));

  /**
   * Arms `at` to crash the tablet (its instance aborted inside the call, as a killed process
   * would leave it) the `nth` time it is reached; returns the steps reached, in order.
   */
  const crashAt = async (name: string, at: Failpoint, nth = 1): Promise<Failpoint[]> => {
    const state = await runInDurableObject(env.TABLET.getByName(name), (_, s) => s);
    const reached: Failpoint[] = [];
    armFailpoints(async (step) => {
      reached.push(step);
      if (step === at && reached.filter((s) => s === at).length === nth) state.abort(`crash at ${step}`);
    });
    return reached;
  };

  const setup = async () => {
    const name = `twopc-crash-${kind}-${crypto.randomUUID()}`;
    const t = named(name);
    await t.query(kind, 'CREATE TABLE c (id INT PRIMARY KEY, n INT)');
    await t.query(kind, 'INSERT INTO c VALUES (1, 0)');
    return { name, t };
  };
  const prepare = (t: Tablet, txid: string) =>
    t.transaction(kind, txid, script({ sql: 'UPDATE c SET n = n + 1 WHERE id = 1' }, { sql: 'INSERT INTO c VALUES (2, 0)' }, { end: 'prepare' }), {
      twoPhase: true,
    });
  /** After the coordinator's resend (commitPrepared, twice): applied once, one record with the txid. */
  const appliedOnce = async (t: Tablet, txid: string) => {
    expect((await t.commitPrepared(txid)).outcome).toBe('committed');
    expect((await t.commitPrepared(txid)).outcome).toBe('committed');
    expect(await t.listPrepared()).toEqual([]);
    expect((await t.query(kind, 'SELECT id, n FROM c ORDER BY id')).rows).toEqual([
      { id: 1, n: 1 },
      { id: 2, n: 0 },
    ]);
    expect((await t.pull(1)).records.filter((r) => r.txid === txid)).toHaveLength(1);
  };

  it('tablet-prepared: the restart finds it prepared, holding the shard; the resend commits it once', async () => {
    const { name, t } = await setup();
    const reached = await crashAt(name, 'tablet-prepared');
    expect(await code(prepare(t, 'gtx-crash-prepared'))).not.toBe('resolved');
    expect(reached).toEqual(['tablet-prepared']);
    armFailpoints(undefined);
    const after = named(name);
    expect((await after.listPrepared()).map((p) => p.txid)).toEqual(['gtx-crash-prepared']);
    await appliedOnce(after, 'gtx-crash-prepared');
  }, 60_000);

  it('tablet-capture inside commitPrepared: the restart finds it still prepared and nothing applied; the resend commits it once', async () => {
    const { name, t } = await setup();
    await prepare(t, 'gtx-crash-capture');
    const reached = await crashAt(name, 'tablet-capture');
    expect(await code(t.commitPrepared('gtx-crash-capture'))).not.toBe('resolved');
    expect(reached).toEqual(['tablet-capture']);
    armFailpoints(undefined);
    const after = named(name);
    expect((await after.listPrepared()).map((p) => p.txid)).toEqual(['gtx-crash-capture']);
    expect((await after.pull(1)).records.filter((r) => r.txid === 'gtx-crash-capture')).toEqual([]);
    await appliedOnce(after, 'gtx-crash-capture');
  }, 60_000);

  it('tablet-commit-prepared: the restart finds it committed and remembered; the resend is answered committed and applies nothing again', async () => {
    const { name, t } = await setup();
    await prepare(t, 'gtx-crash-commit');
    const reached = await crashAt(name, 'tablet-commit-prepared');
    expect(await code(t.commitPrepared('gtx-crash-commit'))).not.toBe('resolved');
    expect(reached).toEqual(['tablet-capture', 'tablet-commit-prepared']);
    armFailpoints(undefined);
    await appliedOnce(named(name), 'gtx-crash-commit');
  }, 60_000);

  it('tablet-capture in an ordinary one-shard transaction: the restart finds neither its rows nor a record', async () => {
    const { name, t } = await setup();
    const lsn = (await t.status()).lsn;
    const reached = await crashAt(name, 'tablet-capture');
    const driver = script({ sql: 'UPDATE c SET n = 100 WHERE id = 1' }, { end: 'commit' });
    expect(await code(t.transaction(kind, 'tx-crash-capture', driver, { twoPhase: true }))).not.toBe('resolved');
    expect(reached).toEqual(['tablet-capture']);
    armFailpoints(undefined);
    const after = named(name);
    expect((await after.query(kind, 'SELECT n FROM c')).rows).toEqual([{ n: 0 }]);
    expect((await after.status()).lsn).toBe(lsn);
    // The shard goes on from there: the next write gets the next LSN.
    expect((await after.query(kind, 'UPDATE c SET n = 5 WHERE id = 1')).lsn).toBe(lsn + 1);
  }, 60_000);
});
