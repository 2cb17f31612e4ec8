import { DurableObject } from 'cloudflare:workers';
import { applyChanges } from '../changelog/apply.js';
import { ChangeLog, DEFAULT_TRIM, type DdlHistory, type PullOptions, type PullResult, type TrimPolicy } from '../changelog/log.js';
import { snapshotPage, type KeyRangeFilter, type SnapshotPage } from '../changelog/snapshot.js';
import { isReadStatement } from '../engines/dialect/read-only.js';
import type { BatchOptions, CapturedUnit, CapturingEngine, EngineKind, Executor, TableInfo } from '../engines/engine.js';
import { checkBatchLength, checkStatementSize, ResultBudget } from '../engines/limits.js';
import { Mutex } from '../engines/mutex.js';
import type { AssetsBinding } from '../engines/pglite-workerd.js';
import type { Change, LogRecord } from '../rpc/changes.js';
import type { TabletApi } from '../rpc/do-api.js';
import { asVitessError, guarded, VitessError } from '../rpc/errors.js';
import type { ResultSet, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import { failpoint } from './failpoints.js';
import { LayoutFence } from './layout-fence.js';
import { pullLoop, ROLLBACK_REQUESTED, type TxDriver } from './interactive.js';
import { PgliteShard } from './pglite-shard.js';
import { PreparedStore } from './prepared.js';
import { PushQueue } from './push-queue.js';
import type { OpenShard, ShardEngine } from './shard-engine.js';
import { SqliteShard } from './sqlite-shard.js';
import { quoteIdent } from '../engines/dialect/sql-text.js';

/** A result as the tablet returns it: with the shard's LSN after the statement. */
export type TabletResult = ResultSet & { lsn: number };

/** What VTGate sends with a statement: the shard-layout version it routed it by (primary/layout-fence.ts). */
export interface QueryOptions {
  layoutVersion?: number;
  /**
   * The session's bookmark for this shard: the statement waits (up to WRITE_WAIT_MS) until the
   * shard's log reaches it. A cross-shard commit is acknowledged before its participants apply it,
   * with their commit LSNs in the bookmark (docs/transactions.md).
   */
  minLsn?: number;
}

export interface TxOutcome {
  outcome: 'committed' | 'rolled back' | 'prepared';
  /** The shard's LSN after the transaction; once `prepared`, the LSN its commit will have. */
  lsn: number;
}

/**
 * A DDL intent on this shard (`applyDdl`): applied now or before (a resend), or refused, with
 * nothing of it applied. Refusals are answered, not thrown: a thrown error leaves the outcome
 * unknown to the coordinator, which then sends the intent again.
 */
export type DdlOutcome = { outcome: 'applied' | 'already applied'; lsn: number } | { outcome: 'refused'; error: ReturnType<VitessError['toJSON']> };

export interface TransactionOptions {
  timeoutMs?: number;
  /** May end with prepare (or with commit, which then applies its captured changes at once). */
  twoPhase?: boolean;
  /**
   * Epoch ms after which a prepare is refused (TIMEOUT, rolled back): by then the coordinator
   * may have rolled the transaction back and forgotten it, and a prepare landing after that
   * would hold the shard with nobody left to decide it.
   */
  prepareBy?: number;
  /** The layout version VTGate routed the transaction's first statement here by (primary/layout-fence.ts). */
  layoutVersion?: number;
}

/** Receives records as they commit (replica DOs, gateway streams). Pull is the fallback. */
export interface LogListener {
  push(records: LogRecord[]): Promise<void>;
}

export interface TableSchema extends TableInfo {
  columns: { name: string; type: string }[];
}

export interface TabletStatus {
  engine: EngineKind | null;
  lsn: number;
  firstLsn: number;
  listeners: { id: string; ackedLsn: number; pushing: boolean }[];
  prepared: { txid: string; preparedAt: number }[];
  snapshot?: { lsn: number; bytes: number; taken: number };
}

/** Writers wait at most this long for the shard (behind a transaction or a prepared one). */
const WRITE_WAIT_MS = 10_000;
const ALARM_MS = 5_000;
/** At most this many records in one push (a listener further behind gets several). */
const PUSH_MAX_RECORDS = 1_000;
/** A write that may return rows (RETURNING, or a data-modifying WITH): see `capped`. */
const MAY_RETURN_ROWS = /^\s*\(?\s*WITH\b|\bRETURNING\b/i;

/**
 * VTTablet: the primary of one shard. Executes statements on its engine, writes one change-log
 * record per commit (in the same transaction on DO SQLite; before acknowledging on PGlite),
 * serves the log (pull, wait, push), snapshots, and takes part in two-phase commit.
 */
/** What a tablet reads from its Worker's environment. */
export interface TabletEnv {
  /** The static assets, holding PGlite's data files (engines/pglite-workerd.ts); SQLite shards need none. */
  ASSETS?: AssetsBinding;
}

export class VTTablet extends DurableObject<TabletEnv> implements TabletApi {
  private readonly log: ChangeLog;
  private readonly prepared: PreparedStore;
  private readonly fence: LayoutFence;
  /** What this shard's engine does its own way (primary/shard-engine.ts); set once its kind is known. */
  private shard: ShardEngine | undefined;
  private engine: Promise<OpenShard> | undefined;
  /** Writers take turns here. */
  private readonly writeLock = new Mutex();
  /**
   * Snapshot pages take turns here before they queue for the write lock: however many are asked
   * for at once, a writer waits behind at most one page.
   */
  private readonly snapshotTurn = new Mutex();
  /** Resolved while no transaction is prepared; writers wait on it before taking the lock. */
  private unprepared: Promise<void> = Promise.resolve();
  private releasePrepared: (() => void) | undefined;
  /** Id recorded on the log record of the unit committing now. */
  private txid: string | undefined;
  /** The DDL intent the unit committing now applies: noted as applied with its log record (`applyDdl`). */
  private ddlIntent: string | undefined;
  /**
   * Two-phase transactions running here, not prepared yet. The coordinator's rollback can reach
   * one before its prepare does (PGlite serves calls while a transaction is open): it marks it,
   * and the prepare is refused, as it would hold the shard with the decision already made.
   */
  private readonly unprepared2pc = new Map<string, { rolledBack: boolean }>();
  /** DDL intents being applied here: a resend waits for the first send instead of racing it. */
  private readonly ddlInFlight = new Map<string, Promise<DdlOutcome>>();
  private readonly waiters = new Set<{ lsn: number; wake: () => void }>();
  private readonly pushers = new Map<string, { listener: LogListener; queue: PushQueue }>();
  private trimPolicy: TrimPolicy = DEFAULT_TRIM;
  /** Set once this instance has scheduled its alarm: no storage read on every commit. */
  private alarmScheduled = false;

  constructor(ctx: DurableObjectState, env: TabletEnv) {
    super(ctx, env);
    this.log = new ChangeLog(ctx.storage.sql);
    this.prepared = new PreparedStore(ctx.storage.sql);
    this.fence = new LayoutFence(ctx.storage.sql);
    if (this.prepared.list().length) this.holdForPrepared();
    // DDL intents applied here (`applyDdl`): a row per DDL statement, kept (a resend may come long after).
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS _vt_ddl_applied (id TEXT PRIMARY KEY, lsn INTEGER NOT NULL)`);
  }

  // ---- engine -------------------------------------------------------------------------------

  /** The sink every engine commit ends in: one log record, then wake readers and listeners. */
  private readonly sink = (unit: CapturedUnit): void => {
    let lsn: number | undefined;
    try {
      lsn = this.log.record(unit, this.txid);
    } catch (e) {
      // The engine has committed already (PGlite): its memory holds a write the log lacks. It goes,
      // so the next call starts another from its saved state and the log, where it never happened.
      if (this.shard?.commitsBeforeRecord) this.dropEngine();
      throw e;
    }
    if (lsn === undefined) return;
    // A DDL intent is remembered as applied in the same step as its record: on DO SQLite in its
    // storage transaction, on PGlite in the synchronous turn that appends the record.
    if (this.ddlIntent !== undefined) this.noteDdl(this.ddlIntent, lsn);
    // Committing a prepared transaction: it stops being prepared, and is remembered as committed, in the same commit.
    if (this.txid && this.prepared.has(this.txid)) this.prepared.commit(this.txid, lsn);
    this.committed(lsn);
  };

  /** Forgets the engine; it closes once the unit running on it (the sink's caller) lets go of its lock. */
  private dropEngine(): void {
    const engine = this.engine;
    this.engine = undefined;
    void engine?.then((open) => open.engine.close()).catch(() => undefined);
  }

  /** The shard's engine, open; its kind is the one stored at the first open. */
  private open(kind: EngineKind): Promise<OpenShard> {
    this.engine ??= this.start(kind).catch((e: unknown) => {
      this.engine = undefined;
      throw e;
    });
    return this.engine.then((open) => {
      if (open.engine.kind !== kind) throw new VitessError('INVALID', `this shard runs ${open.engine.kind}, not ${kind}`);
      return open;
    });
  }

  private async start(requested: EngineKind): Promise<OpenShard> {
    const stored = await this.ctx.storage.get<EngineKind>('engine');
    if (!stored) await this.ctx.storage.put('engine', requested);
    this.shard ??= this.shardFor(stored ?? requested);
    return this.shard.open(this.sink);
  }

  private shardFor(kind: EngineKind): ShardEngine {
    if (kind !== 'pglite') return new SqliteShard(this.ctx.storage, this.log);
    return new PgliteShard({ storage: this.ctx.storage, log: this.log, prepared: this.prepared, writeLock: this.writeLock, assets: this.env.ASSETS });
  }

  /**
   * One write at a time, and none while a transaction is prepared, waiting at most
   * WRITE_WAIT_MS. The prepared hold is awaited outside the lock, so that the decision that
   * releases it (commitPrepared, which takes the lock) is never stuck behind a waiter.
   */
  private async write<T>(txid: string | undefined, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + WRITE_WAIT_MS;
    for (;;) {
      await this.untilUnprepared(deadline);
      const out = await this.writeLock.run(
        async (): Promise<{ value: T } | undefined> => {
          if (this.releasePrepared) return undefined; // prepared while we queued: wait again
          this.txid = txid;
          try {
            return { value: await fn() };
          } catch (e) {
            this.log.reload(); // an append in a rolled-back transaction did not happen
            throw e;
          } finally {
            this.txid = undefined;
          }
        },
        Math.max(1, deadline - Date.now()),
        'shard write lock',
      );
      if (out) return out.value;
    }
  }

  private async untilUnprepared(deadline: number): Promise<void> {
    if (!this.releasePrepared) return; // the common case: no timer to set and clear per write
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new VitessError('TIMEOUT', 'a prepared cross-shard transaction holds this shard; try again', { limit: 'lock wait' })),
        Math.max(0, deadline - Date.now()),
      );
    });
    await Promise.race([this.unprepared, timeout]).finally(() => clearTimeout(timer));
  }

  private holdForPrepared(): void {
    if (this.releasePrepared) return;
    this.unprepared = new Promise((resolve) => {
      this.releasePrepared = resolve;
    });
  }

  private maybeReleasePrepared(): void {
    if (this.prepared.list().length || !this.releasePrepared) return;
    this.releasePrepared();
    this.releasePrepared = undefined;
    this.unprepared = Promise.resolve();
  }

  private committed(lsn: number): void {
    for (const w of [...this.waiters]) if (lsn >= w.lsn) w.wake();
    for (const { queue } of this.pushers.values()) queue.send(lsn);
    if (!this.alarmScheduled) {
      this.alarmScheduled = true;
      void this.ctx.storage.setAlarm(Date.now() + ALARM_MS);
    }
  }

  private result(r: ResultSet): TabletResult {
    return { ...r, lsn: this.log.lastLsn };
  }

  // ---- execution ----------------------------------------------------------------------------

  query(kind: EngineKind, sql: string, params: SqlValue[] = [], opts: QueryOptions = {}): Promise<TabletResult> {
    return guarded(async () => {
      checkStatementSize(sql);
      this.fence.check(opts.layoutVersion);
      await this.reach(opts.minLsn);
      const { engine } = await this.open(kind);
      if (isReadStatement(sql)) return this.result(new ResultBudget().add(await engine.query(sql, params)));
      return this.write(undefined, async () => {
        // Again under the lock: the fence may have been raised while this write waited for it.
        this.fence.check(opts.layoutVersion);
        return this.result(await this.capped(engine, { sql, params }, new ResultBudget()));
      });
    });
  }

  /**
   * Told by the keyspace's layout keeper that its shard layout is at `version`: from now on a
   * request stamped with an older one is refused. Raised under the write lock, so that no write
   * that passed the older fence is still running once this returns. Returns the fence.
   */
  fenceLayout(version: number): Promise<number> {
    return guarded(() => this.writeLock.run(async () => this.fence.raise(version), WRITE_WAIT_MS, 'shard write lock'));
  }

  /** Statements in order under one hold of the write lock; their results together are one result for the limits. */
  batch(kind: EngineKind, statements: Statement[], opts: BatchOptions = {}): Promise<TabletResult[]> {
    return guarded(async () => {
      checkBatchLength(statements.length);
      for (const s of statements) checkStatementSize(s.sql);
      const { engine } = await this.open(kind);
      const budget = new ResultBudget("the batch's result");
      const each = async (run: (s: Statement) => Promise<ResultSet>): Promise<ResultSet[]> => {
        const out: ResultSet[] = [];
        for (const s of statements) out.push(await run(s));
        return out;
      };
      return this.write(undefined, async () => {
        // Atomic: one transaction, so that results over a limit roll every statement back.
        const results = opts.atomic
          ? await this.commitAfter(engine, (tx) => each(async (s) => budget.add(await tx.query(s.sql, s.params ?? []))))
          : await each((s) => this.capped(engine, s, budget));
        return results.map((r) => this.result(r));
      });
    });
  }

  /**
   * One statement under the write lock, its result counted into `budget`. A write that may return
   * rows runs as a transaction of its own: a result over a limit then rolls it back, rather than
   * failing a write that committed.
   */
  private async capped(engine: CapturingEngine, s: Statement, budget: ResultBudget): Promise<ResultSet> {
    if (!MAY_RETURN_ROWS.test(s.sql)) return budget.add(await engine.query(s.sql, s.params));
    return this.commitAfter(engine, async (tx) => budget.add(await tx.query(s.sql, s.params ?? [])));
  }

  /**
   * `engine.transaction(fn)` with the failpoint `tablet-capture` after `fn` applied its changes,
   * before the engine commits them and the sink writes their record. A crash there must leave
   * nothing of the unit: no record, and on a restart (PGlite: from the snapshot and the log) none
   * of its changes; a prepared transaction being committed is still prepared. (A lone statement
   * without RETURNING has no such point: on DO SQLite it is one synchronous step with its record;
   * on PGlite the engine hands its changes to the sink synchronously right after its commit.)
   */
  private commitAfter<T>(engine: CapturingEngine, fn: (tx: Executor) => Promise<T>): Promise<T> {
    return engine.transaction(async (tx) => {
      const out = await fn(tx);
      await failpoint('tablet-capture');
      return out;
    });
  }

  /**
   * An interactive transaction: statements are pulled from `driver` until it says commit,
   * rollback or (with `twoPhase`) prepare. Rolled back on error, on the driver's word, and
   * when `timeoutMs` (default 10 s) passes.
   */
  transaction(kind: EngineKind, txid: string, driver: TxDriver, opts: TransactionOptions = {}): Promise<TxOutcome> {
    return guarded(async () => {
      this.fence.check(opts.layoutVersion);
      const shard = await this.open(kind);
      const { engine } = shard;
      const body = pullLoop(driver, txid, opts.timeoutMs);
      const decision = { rolledBack: false };
      if (opts.twoPhase) this.unprepared2pc.set(txid, decision);
      try {
        const out = await this.write(txid, async (): Promise<TxOutcome> => {
          // Again under the lock, which the fence is raised under: it cannot move while the transaction holds the shard.
          this.fence.check(opts.layoutVersion);
          if (!opts.twoPhase) {
            await this.commitAfter(engine, async (tx) => {
              if ((await body(tx)) === 'prepare') throw new VitessError('INVALID', 'prepare needs a two-phase transaction');
            });
            return { outcome: 'committed', lsn: this.log.lastLsn };
          }
          const changes = await this.runTwoPhase(shard, body, opts.prepareBy ?? Infinity);
          // A two-phase transaction that stayed on one shard committed at once: no prepared state.
          if (!changes) return { outcome: 'committed', lsn: this.log.lastLsn };
          // Checked in the same synchronous step as the put: no rollback can slip in between.
          if (decision.rolledBack)
            throw new VitessError('TIMEOUT', `transaction ${txid} was rolled back by its coordinator before this shard prepared it; retry it`, {
              limit: 'commit decision',
            });
          this.prepared.put(txid, changes);
          this.holdForPrepared();
          // The LSN its commit will have: the shard holds every other write until then, and a
          // commit of no changes writes no record.
          return { outcome: 'prepared', lsn: this.log.lastLsn + (changes.length ? 1 : 0) };
        });
        // A crash here must leave the transaction prepared, holding the shard after the restart,
        // for the coordinator to decide; nothing of it applied or logged.
        if (out.outcome === 'prepared') await failpoint('tablet-prepared', () => this.ctx.storage.sync());
        return out;
      } catch (e) {
        if (e === ROLLBACK_REQUESTED) return { outcome: 'rolled back', lsn: this.log.lastLsn };
        throw e;
      } finally {
        this.unprepared2pc.delete(txid);
      }
    });
  }

  /**
   * Runs a two-phase transaction's body the shard's way (`OpenShard.twoPhase`); resolves with its
   * changes when it ended with prepare (nothing applied), or undefined when it ended with commit
   * (applied and logged). A prepare after `prepareBy` is refused.
   */
  private runTwoPhase(shard: OpenShard, body: (tx: Executor) => Promise<'commit' | 'prepare'>, prepareBy: number): Promise<Change[] | undefined> {
    return shard.twoPhase(
      async (tx) => {
        const wanted = await body(tx);
        if (wanted === 'prepare' && Date.now() > prepareBy)
          throw new VitessError('TIMEOUT', 'too late to prepare: the coordinator may have rolled the transaction back already', {
            limit: 'transaction timeout',
          });
        return wanted;
      },
      (engine, fn) => this.commitAfter(engine, fn),
    );
  }

  /**
   * Commits a prepared transaction: its changes are applied as one record carrying its txid.
   * Idempotent: a transaction committed here is answered `committed` (with its LSN) for
   * COMMITTED_RETENTION_MS. NOT_FOUND means this shard never prepared it, or lost it.
   */
  commitPrepared(txid: string): Promise<TxOutcome> {
    return guarded(async () => {
      const notPrepared = (): TxOutcome => {
        const lsn = this.prepared.committedAt(txid);
        if (lsn !== undefined) return { outcome: 'committed', lsn };
        // Committed before the tablet remembered its commits apart from the log (older code).
        if (this.log.hasTxid(txid)) return { outcome: 'committed', lsn: this.log.lastLsn };
        throw new VitessError(
          'NOT_FOUND',
          `transaction ${txid} is not prepared on this shard, nor remembered as committed: never prepared here, or its prepared state was lost`,
        );
      };
      if (!this.prepared.has(txid)) return notPrepared();
      const { engine } = await this.open((await this.shardEngine())?.kind ?? 'do-sqlite');
      // Runs under the write lock without waiting on itself: the prepared hold is for others.
      const committed = await this.writeLock.run(async () => {
        // Read under the lock: a second commitPrepared (a coordinator's resend racing its first
        // send) that waited here finds the transaction committed and must not apply it again.
        const changes = this.prepared.get(txid);
        if (!changes) return false;
        this.txid = txid;
        try {
          await this.commitAfter(engine, (tx) => applyChanges(tx, changes));
          // An empty transaction commits no record (the sink did not run); it is decided all the same.
          if (this.prepared.has(txid)) this.prepared.commit(txid, this.log.lastLsn);
        } catch (e) {
          this.log.reload();
          throw e;
        } finally {
          this.txid = undefined;
        }
        return true;
      });
      if (!committed) return notPrepared();
      // A crash here must leave the changes applied once, one record with the txid, the
      // transaction no longer prepared and remembered as committed: a resend gets `committed`.
      await failpoint('tablet-commit-prepared', () => this.ctx.storage.sync());
      this.maybeReleasePrepared();
      return { outcome: 'committed', lsn: this.log.lastLsn };
    });
  }

  /** Forgets a prepared transaction, or refuses its prepare if it is still running. Idempotent. */
  rollbackPrepared(txid: string): Promise<TxOutcome> {
    return guarded(async () => {
      const running = this.unprepared2pc.get(txid);
      if (running) running.rolledBack = true;
      this.prepared.delete(txid);
      this.maybeReleasePrepared();
      return { outcome: 'rolled back', lsn: this.log.lastLsn };
    });
  }

  // ---- DDL intents ---------------------------------------------------------------------------

  /** The LSN this shard applied DDL intent `id` at, if it did. */
  private ddlAppliedAt(id: string): number | undefined {
    const [r] = [...this.ctx.storage.sql.exec(`SELECT lsn FROM _vt_ddl_applied WHERE id = ?`, id)];
    return r ? Number(r.lsn) : undefined;
  }

  private noteDdl(id: string, lsn: number): void {
    this.ctx.storage.sql.exec(`INSERT OR IGNORE INTO _vt_ddl_applied (id, lsn) VALUES (?, ?)`, id, lsn);
  }

  /**
   * Applies a DDL intent (router/txn/coordinator.ts, `DdlIntent`): `statements` in one transaction,
   * one log record carrying the intent id as its txid, and the id remembered with that record.
   * At most once: an id applied here is answered `already applied` without running anything, and
   * a resend while the first send runs waits for it. `refused` means the statements ran and the
   * engine refused them (nothing applied); anything else (the shard busy past the lock wait, the
   * engine not opening) is thrown, an outcome the coordinator must ask about again.
   */
  applyDdl(kind: EngineKind, id: string, statements: string[]): Promise<DdlOutcome> {
    return guarded(async () => {
      if (this.ddlAppliedAt(id) !== undefined) return { outcome: 'already applied', lsn: this.log.lastLsn };
      const running = this.ddlInFlight.get(id);
      if (running) return running;
      const run = this.runDdl(kind, id, statements).finally(() => this.ddlInFlight.delete(id));
      this.ddlInFlight.set(id, run);
      return run;
    });
  }

  private async runDdl(kind: EngineKind, id: string, statements: string[]): Promise<DdlOutcome> {
    const refused = (e: unknown): DdlOutcome => ({ outcome: 'refused', error: asVitessError(e).toJSON() });
    try {
      for (const sql of statements) checkStatementSize(sql);
    } catch (e) {
      return refused(e);
    }
    const { engine } = await this.open(kind);
    return this.write(id, async (): Promise<DdlOutcome> => {
      // Checked again under the lock: applied by a send of another isolate meanwhile.
      if (this.ddlAppliedAt(id) !== undefined) return { outcome: 'already applied', lsn: this.log.lastLsn };
      this.ddlIntent = id;
      try {
        await this.commitAfter(engine, async (tx) => {
          for (const sql of statements) await tx.query(sql, []);
        });
      } catch (e) {
        return refused(e);
      } finally {
        this.ddlIntent = undefined;
      }
      // No record (nothing changed): the shard is as if applied, so it is noted as applied.
      if (this.ddlAppliedAt(id) === undefined) this.noteDdl(id, this.log.lastLsn);
      return { outcome: 'applied', lsn: this.log.lastLsn };
    });
  }

  listPrepared(): { txid: string; preparedAt: number }[] {
    return this.prepared.list();
  }

  // ---- the log ----------------------------------------------------------------------------

  pull(fromLsn: number, opts: PullOptions = {}): Promise<PullResult> {
    return guarded(async () => this.log.pull(fromLsn, opts));
  }

  /** Waits until the log reaches `lsn` (a session's bookmark); UNAVAILABLE if it does not within WRITE_WAIT_MS. */
  private async reach(lsn: number | undefined): Promise<void> {
    if (lsn === undefined || this.log.lastLsn >= lsn) return;
    if ((await this.waitFor(lsn, WRITE_WAIT_MS)) < lsn)
      throw new VitessError(
        'UNAVAILABLE',
        `this shard is at LSN ${this.log.lastLsn}, behind the session's bookmark (${lsn}): a cross-shard commit it was told of has not reached it yet; try again`,
      );
  }

  /** Resolves with the current LSN once it reaches `lsn`, or when `timeoutMs` passes. */
  async waitFor(lsn: number, timeoutMs = 5_000): Promise<number> {
    if (this.log.lastLsn >= lsn) return this.log.lastLsn;
    await new Promise<void>((resolve) => {
      const w = {
        lsn,
        wake: () => {
          this.waiters.delete(w);
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(w.wake, timeoutMs);
      this.waiters.add(w);
    });
    return this.log.lastLsn;
  }

  /** Registers a listener whose acknowledgements hold back the trim point. */
  register(id: string, fromLsn?: number): number {
    this.log.register(id, fromLsn);
    return this.log.lastLsn;
  }

  /** Registers and also pushes each new record to `listener` (while this DO lives). */
  subscribe(id: string, listener: LogListener, fromLsn?: number): number {
    this.log.register(id, fromLsn);
    // A stub passed into a call is released when the call returns: keep a duplicate.
    const kept = (listener as LogListener & { dup?: () => LogListener }).dup?.() ?? listener;
    this.dropPusher(id);
    // A listener that fails is dropped and catches up by pulling.
    const read = (from: number) => this.log.pull(from, { maxRecords: PUSH_MAX_RECORDS }).records;
    this.pushers.set(id, {
      listener: kept,
      queue: new PushQueue(
        this.log.lastLsn,
        read,
        (records) => kept.push(records),
        () => this.dropPusher(id, kept),
      ),
    });
    return this.log.lastLsn;
  }

  ack(id: string, lsn: number): void {
    this.log.ack(id, lsn);
  }

  unregister(id: string): void {
    this.log.unregister(id);
    this.dropPusher(id);
  }

  /** Stops pushing to `id`; it stays registered (its acknowledgement still holds back the trim). */
  unsubscribe(id: string): void {
    this.dropPusher(id);
  }

  /** Forgets a listener's stub (only `which`, when given) and releases it, so its object can go away. */
  private dropPusher(id: string, which?: LogListener): void {
    const listener = this.pushers.get(id)?.listener;
    if (!listener || (which && listener !== which)) return;
    this.pushers.delete(id);
    (listener as Partial<Disposable>)[Symbol.dispose]?.();
  }

  /**
   * Trims now with `policy` (kept for later trims too). A shard that restarts from a saved state
   * (PGlite's data directory) saves a fresh one first, and never trims past it.
   */
  trim(policy?: Partial<TrimPolicy>): Promise<number> {
    return guarded(async () => {
      if (policy) this.trimPolicy = { ...this.trimPolicy, ...policy };
      const open = await this.engine?.catch(() => undefined);
      await open?.beforeTrim();
      return this.trimNow(await this.shardEngine());
    });
  }

  /**
   * The shard's engine as stored at its first open: a restarted instance has not opened its
   * engine yet when a trim or its alarm comes, and must not trim a PGlite log as if it were none.
   */
  private async shardEngine(): Promise<ShardEngine | undefined> {
    const kind = this.shard ? undefined : await this.ctx.storage.get<EngineKind>('engine');
    if (kind) this.shard ??= this.shardFor(kind);
    return this.shard;
  }

  private trimNow(shard: ShardEngine | undefined): number {
    // Records after the LSN the shard restarts from must stay.
    const mustKeep = this.log.lastLsn - (shard?.restartLsn() ?? Infinity);
    return this.log.trim({
      ...this.trimPolicy,
      maxRecords: Math.max(this.trimPolicy.maxRecords, mustKeep),
      keepRecords: Math.max(this.trimPolicy.keepRecords, mustKeep),
    });
  }

  /**
   * One page of `table` in primary-key order, after `afterKey`, optionally only the rows in a
   * key range (what a new shard needs when resharding); with the LSN it was read at.
   */
  snapshot(kind: EngineKind, table: string, afterKey: SqlValue[] | null, limit = 500, keyRange?: KeyRangeFilter): Promise<SnapshotPage> {
    return guarded(async () => {
      const { engine } = await this.open(kind);
      // Under the write lock, so that no commit lands between reading the page and its LSN:
      // the page is exactly the state at that LSN (replicas rely on it while copying). A flood of
      // page requests waits its turn outside it (`snapshotTurn`), so writers get in between pages.
      const deadline = Date.now() + WRITE_WAIT_MS;
      return this.snapshotTurn.run(
        async () => {
          const page = await this.writeLock.run(
            async () => ({ ...(await snapshotPage(engine, table, afterKey, limit, keyRange)), lsn: this.log.lastLsn }),
            Math.max(1, deadline - Date.now()),
            'shard write lock',
          );
          // Reading pages takes no I/O: without a pause, requests that arrived meanwhile (a write)
          // would not be delivered until every queued page was read.
          await new Promise((resolve) => setTimeout(resolve, 0));
          return page;
        },
        WRITE_WAIT_MS,
        'turn to read a snapshot page',
      );
    });
  }

  /** Every DDL statement committed on this shard, in order, and the LSN that is current at: a new replica's schema. */
  ddlHistory(): DdlHistory {
    return this.log.ddlHistory();
  }

  /** Saves the engine's state apart from the log now, if it keeps one (PGlite's data directory; also done by the alarm). */
  snapshotDataDir(): Promise<{ lsn: number; bytes: number } | null> {
    return guarded(async () => {
      const open = await this.engine?.catch(() => undefined);
      return open ? open.saveState() : null;
    });
  }

  /** User tables with primary key and columns: what VTGate's planner learns after a restart. */
  schema(kind: EngineKind): Promise<TableSchema[]> {
    return guarded(async () => {
      const { engine } = await this.open(kind);
      return Promise.all(
        (await engine.tables()).map(async (t) => ({
          ...t,
          columns: (await engine.query(`SELECT * FROM ${quoteIdent(t.name)} LIMIT 0`)).fields.map((f) => ({ name: f.name, type: f.type })),
        })),
      );
    });
  }

  status(): TabletStatus {
    const snap = this.shard?.savedState();
    return {
      engine: this.shard?.kind ?? null,
      lsn: this.log.lastLsn,
      firstLsn: this.log.firstLsn,
      listeners: this.log.listeners().map((l) => ({ ...l, pushing: this.pushers.has(l.id) })),
      prepared: this.prepared.list(),
      ...(snap ? { snapshot: snap } : {}),
    };
  }

  override async alarm(): Promise<void> {
    this.alarmScheduled = false;
    const open = await this.engine?.catch(() => undefined);
    await open?.upkeep();
    this.trimNow(await this.shardEngine());
    this.prepared.trimCommitted();
  }
}
