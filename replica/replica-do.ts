// VTReplica: a read replica of one shard in one region. It bootstraps from the primary's DDL
// history and snapshot pages, then tails the change log (pushed by the primary, pulled as the
// fallback), applies it in LSN order with the applied LSN in the same transaction, and serves
// reads. See docs/replicas.md.
import { DurableObject, RpcTarget } from 'cloudflare:workers';
import { appliedLsn, applyGroup, setAppliedLsn } from '../changelog/apply.js';
import type { PullResult } from '../changelog/log.js';
import type { SnapshotPage } from '../changelog/snapshot.js';
import { isReadStatement } from '../engines/dialect/read-only.js';
import { DoSqliteEngine } from '../engines/do-sqlite.js';
import type { EngineKind, StorageEngine, TableInfo } from '../engines/engine.js';
import type { AssetsBinding } from '../engines/pglite-workerd.js';
import { openWorkerdPglite } from '../engines/workerd-pglite.js';
import type { VTTablet } from '../primary/tablet.js';
import { isDdl, type LogRecord } from '../rpc/changes.js';
import type { ReplicaApi, Stub, TabletApi } from '../rpc/do-api.js';
import { stubOf } from '../rpc/do-stub.js';
import { asVitessError, encodeError, guarded, VitessError } from '../rpc/errors.js';
import type { ResultSet } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import { LogBuffer } from './buffer.js';
import { loadPage } from './copy.js';
import { copyAtLsn, logTrimmed, resumeAt, type CopyProgress, type CopyStart, type PageSource, type RowSink, type StoredProgress } from './copy-core.js';

export type ReplicaEngine = 'do-sqlite' | 'pglite';

export interface ReplicaConfig {
  keyspace: string;
  shard: string;
  region: string;
  /** The engine of the shard's primary (the tablet's calls name it). */
  primaryEngine: EngineKind;
  /** This replica's engine; it may differ from the primary's. */
  engine: ReplicaEngine;
  /** Rows per snapshot page while copying (default 500). */
  copyPageRows?: number;
}

/**
 * - `bootstrapping`: copying a snapshot; reads are refused (UNAVAILABLE).
 * - `streaming`: following the log; reads are served at `appliedLsn`.
 * - `behind`: not following right now: cut off past the primary's trim point (a re-bootstrap
 *   follows) or failing to pull or apply (see `error`); reads are served, older and older.
 */
export type ReplicaState = 'bootstrapping' | 'streaming' | 'behind';

export interface ReplicaStatus {
  keyspace: string;
  shard: string;
  region: string;
  engine: ReplicaEngine;
  primaryEngine: EngineKind;
  state: ReplicaState;
  /** The replica holds the primary's state at this LSN (0 while bootstrapping). */
  appliedLsn: number;
  /** The primary's LSN as last heard of. */
  primaryLsn?: number;
  lagRecords: number;
  /** Age of the oldest commit not applied here (from record timestamps); 0 when caught up. */
  lagMs: number;
  /**
   * How old the data may be: time since the replica last confirmed with its primary that it had
   * caught up with the primary's LSN of that moment (`maxLagMs` bounds this). Null until it has,
   * since it started or while copying.
   */
  stalenessMs: number | null;
  /** Snapshot copies done since this replica was created (1 = the first bootstrap). */
  bootstraps: number;
  /** Whether the primary pushes records to this instance (else it pulls, on its alarm). */
  pushing: boolean;
  paused: boolean;
  applyDelayMs: number;
  error?: string;
}

/** What a read through VTGate asks of the replica (see `read`). */
export interface ReadRequest {
  minLsn?: number;
  waitMs?: number;
  maxLagMs?: number;
}

/** A read's result, with the LSN the replica had applied when it ran. */
export type ReplicaResult = ResultSet & { lsn: number };

/** The tablet calls the replica makes. */
type Primary = Pick<TabletApi, 'ddlHistory' | 'snapshot' | 'pull' | 'register' | 'subscribe' | 'ack' | 'unsubscribe' | 'unregister' | 'status'>;

export interface ReplicaEnv {
  TABLET: DurableObjectNamespace<VTTablet>;
  /** The static assets, holding PGlite's data files (engines/pglite-workerd.ts). */
  ASSETS?: AssetsBinding;
}

/** Alarm period: pull (the fallback when pushes are lost), re-subscribe, acknowledge. */
const TAIL_MS = 2_000;
const PULL_RECORDS = 500;
const PULL_BYTES = 1024 * 1024;
/** Records applied in one transaction at most. */
const GROUP_RECORDS = 200;
const SNAPSHOT_ROWS = 500;
/** Acknowledge after this many records, besides on each alarm. */
const ACK_EVERY = 500;
/** Copies started in a row (a DDL during the copy restarts it) before leaving it to the alarm. */
const BOOTSTRAP_TRIES = 3;
/** A bounded read asks for a fresh confirmation (a pull) at most this often. */
const CONFIRM_EVERY_MS = 200;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the primary holds to push records here; lives as long as this DO instance. */
class PushListener extends RpcTarget {
  constructor(private readonly onPush: (records: LogRecord[]) => void) {
    super();
  }
  async push(records: LogRecord[]): Promise<void> {
    this.onPush(records);
  }
}

/**
 * One read replica of one shard in one region, named `${keyspace}/${shard}/${region}`. Started
 * by `start()` (idempotent; the config is kept in storage and an alarm keeps it tailing).
 */
export class VTReplica extends DurableObject<ReplicaEnv> implements ReplicaApi {
  private config: ReplicaConfig | undefined;
  private db: StorageEngine | undefined;
  private opening: Promise<void> | undefined;
  private state: ReplicaState = 'bootstrapping';
  private readonly buffer = new LogBuffer();
  private readonly waiters = new Set<{ lsn: number; wake: () => void }>();
  private loop: Promise<void> | undefined;
  private again = false;
  private needBootstrap = false;
  private needPull = false;
  private subscribed = false;
  /** Ask the primary whether it still pushes here (after records had to be pulled). */
  private checkPush = false;
  private pushCheckedAt = 0;
  /** When the primary was last asked for its LSN (pull or subscribe). */
  private askedAt = 0;
  private ackedLsn = 0;
  private applyDelayMs = 0;
  private paused = false;
  private bootstraps = 0;
  private error: string | undefined;
  private readonly listener = new PushListener((records) => this.onPush(records));

  constructor(ctx: DurableObjectState, env: ReplicaEnv) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.config = await ctx.storage.get<ReplicaConfig>('config');
      this.paused = (await ctx.storage.get<boolean>('paused')) ?? false;
      this.applyDelayMs = (await ctx.storage.get<number>('applyDelayMs')) ?? 0;
      this.bootstraps = (await ctx.storage.get<number>('bootstraps')) ?? 0;
    });
  }

  // ---- public API -----------------------------------------------------------------------------

  /**
   * Starts replicating (idempotent): registers with the primary `${keyspace}/${shard}`,
   * bootstraps, then tails. Returns at once; `waitFor` tells when it has caught up.
   */
  start(config: ReplicaConfig): Promise<ReplicaStatus> {
    return guarded(async () => {
      const c: ReplicaConfig = {
        keyspace: config.keyspace,
        shard: config.shard,
        region: config.region,
        primaryEngine: config.primaryEngine,
        engine: config.engine,
        ...(config.copyPageRows ? { copyPageRows: config.copyPageRows } : {}),
      };
      if (c.engine !== 'do-sqlite' && c.engine !== 'pglite') throw new VitessError('INVALID', `a replica runs do-sqlite or pglite, not ${String(c.engine)}`);
      if (this.config) {
        const fixed = ['keyspace', 'shard', 'region', 'primaryEngine', 'engine'] as const;
        const differs = fixed.filter((k) => c[k] !== this.config![k]);
        if (differs.length) throw new VitessError('INVALID', `this replica was started with a different ${differs.join(', ')}; destroy() it first`);
      } else {
        this.config = c;
        await this.ctx.storage.put('config', c);
      }
      await this.ensureAlarm();
      this.kick();
      return this.snapshotStatus();
    });
  }

  /** A read (SELECT, VALUES, or WITH of SELECTs) at the applied LSN. Writes are refused: UNSUPPORTED. */
  query(sql: string, params: SqlValue[] = []): Promise<ReplicaResult> {
    return guarded(async () => {
      if (!isReadStatement(sql)) {
        throw new VitessError('UNSUPPORTED', 'a read replica serves reads only (SELECT, VALUES, WITH … SELECT); send writes to the primary', {
          construct: 'write on a read replica',
        });
      }
      const db = await this.ready();
      if (this.state === 'bootstrapping') throw new VitessError('UNAVAILABLE', `replica ${this.name()} is bootstrapping; read the primary meanwhile`);
      // Read before the query: what it returns is at least this far along (never less).
      const lsn = this.buffer.applied;
      return { ...(await db.query(sql, params)), lsn };
    });
  }

  /**
   * VTGate's read, in one round trip: waits up to `waitMs` for `minLsn` (the session's bookmark
   * for this shard), refuses with UNAVAILABLE when still short of it or when its data may be
   * older than `maxLagMs` (`stalenessMs`; VTGate then reads the primary), else runs the query.
   */
  read(sql: string, params: SqlValue[], opts: ReadRequest = {}): Promise<ReplicaResult> {
    return guarded(async () => {
      if (!this.config) throw new VitessError('UNAVAILABLE', 'replica not started');
      const need = opts.minLsn ?? 0;
      if (need > 0 && !this.caughtUpTo(need)) {
        const applied = await this.waitFor(need, opts.waitMs ?? 0);
        if (applied < need) throw new VitessError('UNAVAILABLE', `replica ${this.name()} has applied LSN ${applied}, the session needs ${need}`);
      }
      if (opts.maxLagMs !== undefined) {
        const now = Date.now();
        const stale = this.buffer.staleness(now);
        // Confirm again in the background before the bound runs out, so steady reads stay here.
        if (stale > opts.maxLagMs / 2 && now - this.askedAt >= CONFIRM_EVERY_MS) {
          this.needPull = true;
          this.kick();
        }
        if (stale > opts.maxLagMs) {
          const age = stale === Infinity ? 'has not confirmed its position with the primary since it started' : `may be ${stale} ms behind its primary`;
          throw new VitessError('UNAVAILABLE', `replica ${this.name()} ${age}, more than the ${opts.maxLagMs} ms allowed`);
        }
      }
      return this.query(sql, params);
    });
  }

  /** Resolves with the applied LSN once it reaches `lsn` (a bookmark's), or when `timeoutMs` passes. */
  async waitFor(lsn: number, timeoutMs = 5_000): Promise<number> {
    if (!this.config) throw encodeError(new VitessError('UNAVAILABLE', 'replica not started'));
    if (this.caughtUpTo(lsn)) return this.buffer.applied;
    // The caller has seen the primary at `lsn`: if this replica has not heard of it, pull now.
    this.buffer.heard(lsn);
    this.kick();
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
    return this.state === 'bootstrapping' ? 0 : this.buffer.applied;
  }

  /** The tables this replica holds, with their primary keys (refused while bootstrapping). */
  tables(): Promise<TableInfo[]> {
    return guarded(async () => {
      const db = await this.ready();
      if (this.state === 'bootstrapping') throw new VitessError('UNAVAILABLE', `replica ${this.name()} is bootstrapping`);
      return db.tables();
    });
  }

  /** Where this replica is. Wakes it after a restart (opens its database, resumes tailing). */
  status(): Promise<ReplicaStatus> {
    return guarded(async () => {
      await this.ready();
      return this.snapshotStatus();
    });
  }

  private snapshotStatus(): ReplicaStatus {
    const c = this.config!;
    const lag = this.buffer.lag(Date.now());
    const bootstrapping = this.state === 'bootstrapping';
    const stale = bootstrapping ? Infinity : this.buffer.staleness(Date.now());
    return {
      keyspace: c.keyspace,
      shard: c.shard,
      region: c.region,
      engine: c.engine,
      primaryEngine: c.primaryEngine,
      state: this.paused && this.state === 'streaming' ? 'behind' : this.state,
      appliedLsn: bootstrapping ? 0 : this.buffer.applied,
      ...(this.buffer.primaryLsn !== undefined ? { primaryLsn: this.buffer.primaryLsn } : {}),
      lagRecords: bootstrapping ? (this.buffer.primaryLsn ?? 0) : lag.lagRecords,
      lagMs: lag.lagMs,
      stalenessMs: stale === Infinity ? null : stale,
      bootstraps: this.bootstraps,
      pushing: this.subscribed,
      paused: this.paused,
      applyDelayMs: this.applyDelayMs,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** Applies each record no sooner than `ms` after its commit: replication deliberately delayed (tests). */
  async setApplyDelay(ms: number): Promise<void> {
    this.applyDelayMs = Math.max(0, ms);
    await this.ctx.storage.put('applyDelayMs', this.applyDelayMs);
    this.kick();
  }

  /**
   * Stops following the log (no pull, no push, no apply) while staying registered with the
   * primary: to the primary this replica is down. Reads are still served, staler and staler.
   */
  async pause(): Promise<void> {
    this.paused = true;
    await this.ctx.storage.put('paused', true);
    await this.loop; // stops at its next step
    if (!this.config) return;
    await this.tablet()
      .unsubscribe(this.listenerId())
      .catch(() => undefined);
    this.subscribed = false;
  }

  async resume(): Promise<void> {
    this.paused = false;
    await this.ctx.storage.put('paused', false);
    this.needPull = true;
    await this.ensureAlarm();
    this.kick();
  }

  /** Stops replicating for good: unregisters from the primary and deletes everything here. */
  async destroy(): Promise<void> {
    const config = this.config;
    this.paused = true;
    await this.loop;
    if (config)
      await this.tablet()
        .unregister(this.listenerId())
        .catch(() => undefined);
    this.config = undefined;
    this.subscribed = false;
    await this.db?.close().catch(() => undefined);
    this.db = undefined;
    this.opening = undefined;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  override async alarm(): Promise<void> {
    if (!this.config || this.paused) return; // resume() sets it again
    await this.ctx.storage.setAlarm(Date.now() + TAIL_MS);
    this.needPull = true;
    this.kick();
    // Stay with the work for a while (it continues after, as long as the object lives).
    await Promise.race([this.loop, sleep(TAIL_MS)]);
    if (this.state !== 'bootstrapping') this.ack(true);
  }

  // ---- internals ------------------------------------------------------------------------------

  private name(): string {
    const c = this.config!;
    return `${c.keyspace}/${c.shard}/${c.region}`;
  }

  private listenerId(): string {
    return `replica:${this.name()}`;
  }

  private tablet(): Stub<Primary> {
    const c = this.config!;
    return stubOf<Primary>(this.env.TABLET.getByName(`${c.keyspace}/${c.shard}`));
  }

  private async ensureAlarm(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + TAIL_MS);
  }

  private caughtUpTo(lsn: number): boolean {
    return this.state !== 'bootstrapping' && this.buffer.applied >= lsn;
  }

  /** The engine, opened. */
  private async engine(): Promise<StorageEngine> {
    if (!this.config) throw new VitessError('UNAVAILABLE', 'replica not started');
    this.opening ??= this.open().catch((e: unknown) => {
      this.opening = undefined;
      throw e;
    });
    await this.opening;
    return this.db!;
  }

  /** The engine, opened, and the loop running (after a restart the first call may come before the alarm). */
  private async ready(): Promise<StorageEngine> {
    const db = await this.engine();
    if (!this.loop) this.kick();
    return db;
  }

  private async open(): Promise<void> {
    const c = this.config!;
    if (c.engine === 'do-sqlite') {
      this.db = new DoSqliteEngine(this.ctx.storage);
      // A copy cut short (a restart midway) is not a state of the primary: copy again.
      const phase = await this.ctx.storage.get<StoredProgress['phase']>('phase');
      const at = resumeAt({ phase, lsns: phase === 'streaming' ? { [c.shard]: await appliedLsn(this.db) } : {} });
      if (at) {
        this.buffer.reset(at[c.shard]!);
        this.state = 'streaming';
        this.needPull = true;
        return;
      }
    } else {
      // PGlite's data lives in memory: a new instance starts empty and copies the primary.
      this.db = await openWorkerdPglite({ assets: this.env.ASSETS });
    }
    this.needBootstrap = true;
  }

  /** Runs the loop, or asks the running one to go round again. */
  private kick(): void {
    this.again = true;
    if (this.loop || this.paused || !this.config) return;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
    });
  }

  private async run(): Promise<void> {
    while (this.again && !this.paused && this.config) {
      this.again = false;
      try {
        await this.engine();
        if (this.needBootstrap) {
          this.again = true;
          await this.bootstrap();
          continue;
        }
        if (this.checkPush) await this.verifyPush();
        if (!this.subscribed) await this.subscribe();
        const waitMs = await this.applyDue();
        if (this.needPull || this.buffer.needsPull()) {
          this.again = true;
          await this.pull();
          continue;
        }
        this.ack(false);
        this.state = 'streaming';
        this.error = undefined;
        if (waitMs > 0) {
          this.again = true;
          await sleep(waitMs);
        }
      } catch (e) {
        const err = asVitessError(e);
        this.error = `${err.code}: ${err.message}`;
        if (this.state === 'streaming') this.state = 'behind';
        return; // the alarm tries again
      }
    }
  }

  private onPush(records: LogRecord[]): void {
    if (this.paused) return;
    this.buffer.offer(records);
    // The primary was at the last record when it committed it (never later than now, whatever the clocks).
    const last = records.at(-1);
    if (last) this.buffer.confirm(last.lsn, Math.min(last.ts, Date.now()));
    this.kick();
  }

  private async subscribe(): Promise<void> {
    const at = (this.askedAt = Date.now());
    const lsn = await this.tablet().subscribe(this.listenerId(), this.listener, this.buffer.applied);
    this.subscribed = true;
    this.buffer.heard(lsn);
    this.buffer.confirm(lsn, at);
  }

  private async verifyPush(): Promise<void> {
    this.checkPush = false;
    this.pushCheckedAt = Date.now();
    const id = this.listenerId();
    const { listeners } = await this.tablet().status();
    if (!listeners.some((l) => l.id === id && l.pushing)) this.subscribed = false;
  }

  /** Pulls the next records; below the trim point this replica is cut off and copies again. */
  private async pull(): Promise<void> {
    this.needPull = false;
    const from = this.buffer.applied + 1;
    const at = (this.askedAt = Date.now());
    let got: PullResult;
    try {
      got = await this.tablet().pull(from, { maxRecords: PULL_RECORDS, maxBytes: PULL_BYTES });
    } catch (e) {
      if (!logTrimmed(e)) throw e;
      // Never skip: the records between are gone, so the state is rebuilt from a snapshot.
      this.state = 'behind';
      this.needBootstrap = true;
      return;
    }
    this.buffer.offer(got.records);
    this.buffer.primaryIs(got.lastLsn);
    // The primary was at lastLsn no earlier than the call: once applied, the data is that fresh.
    this.buffer.confirm(got.lastLsn, at);
    // Records had to be pulled: maybe pushes are not arriving (the primary restarted, or dropped us).
    if (got.records.length && this.subscribed && Date.now() - this.pushCheckedAt > TAIL_MS) this.checkPush = true;
  }

  /** Applies the records that are due, in groups, each group in one transaction with its LSN. */
  private async applyDue(): Promise<number> {
    const db = this.db!;
    for (;;) {
      if (this.paused) return 0;
      const { records, waitMs } = this.buffer.due(Date.now(), this.applyDelayMs, GROUP_RECORDS);
      if (!records.length) return waitMs;
      const last = records.at(-1)!;
      await applyGroup(db, records);
      this.buffer.advance(last.lsn, last.ts);
      this.error = undefined;
      this.wake();
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) if (this.caughtUpTo(w.lsn)) w.wake();
  }

  /** Tells the primary how far this replica is, so that its log can be trimmed up to there. */
  private ack(always: boolean): void {
    const lsn = this.buffer.applied;
    if (!always && lsn - this.ackedLsn < ACK_EVERY) return;
    this.ackedLsn = lsn;
    this.tablet()
      .ack(this.listenerId(), lsn)
      .catch(() => undefined);
  }

  /**
   * Copies the primary at one LSN (replica/copy-core.ts): its DDL history, then every table page
   * by page, the log applied up to each page's LSN before the page is loaded. A DDL in between, a
   * table gone or the log trimmed past the copy starts it over (then the alarm tries again).
   */
  private async bootstrap(): Promise<void> {
    const c = this.config!;
    const source: PageSource<SnapshotPage & { at: number }, LogRecord[]> = {
      page: async (_shard, table, afterKey) => {
        const at = Date.now();
        return { ...(await this.tablet().snapshot(c.primaryEngine, table, afterKey, c.copyPageRows ?? SNAPSHOT_ROWS)), at };
      },
      log: (_shard, from, to) => {
        let pos = from;
        return async () => {
          const got = await this.tablet().pull(pos + 1, { maxRecords: Math.min(PULL_RECORDS, to - pos), maxBytes: PULL_BYTES });
          this.buffer.heard(got.lastLsn);
          const records = got.records.filter((r) => r.lsn <= to);
          const moved = records.length > 0;
          if (moved) pos = records.at(-1)!.lsn;
          return { records, reached: pos, moved, ddl: records.some((r) => r.changes.some(isDdl)) };
        };
      },
    };
    const sink: RowSink<SnapshotPage & { at: number }, LogRecord[]> = {
      reset: () => this.emptyWithSchema(),
      load: async (_shard, { name, primaryKey }, page) => {
        this.buffer.confirm(page.lsn, page.at); // the copy ends at least as fresh as its last page
        await loadPage(this.db!, name, primaryKey, { columns: page.columns, json: page.rowsJson });
        // The log is applied through the page's LSN: the primary may trim below it.
        if (page.lsn > this.ackedLsn) {
          this.ackedLsn = page.lsn;
          this.tablet()
            .ack(this.listenerId(), page.lsn)
            .catch(() => undefined);
        }
      },
      apply: (_shard, step) => applyGroup(this.db!, step.records),
    };
    const progress: CopyProgress = {
      copying: async () => {
        if (this.paused) throw new VitessError('UNAVAILABLE', 'the replica was paused while copying; it copies again once resumed');
        this.state = 'bootstrapping';
        this.subscribed = false;
        this.buffer.clear();
        this.bootstraps++;
        await this.ctx.storage.put({ phase: 'copying', bootstraps: this.bootstraps });
      },
      copied: () => this.ctx.storage.put('phase', 'streaming'),
    };
    const lsns = await copyAtLsn(source, sink, progress, { tries: BOOTSTRAP_TRIES, what: `shard ${c.keyspace}/${c.shard}` });
    this.buffer.reset(lsns[c.shard]!);
    this.needBootstrap = false;
    this.needPull = true;
    this.state = 'streaming';
    this.error = undefined;
    this.ack(true);
    this.wake();
  }

  /** Empties the database and replays the primary's DDL history: the copy starts at its LSN. */
  private async emptyWithSchema(): Promise<CopyStart> {
    const db = await this.wipe();
    const tablet = this.tablet();
    const id = this.listenerId();
    const asked = Date.now();
    const history = await tablet.ddlHistory();
    if (!history.complete)
      throw new VitessError(
        'UNAVAILABLE',
        `the primary's DDL history is incomplete (its log was trimmed before it was kept); this replica cannot build its schema`,
      );
    const pos = history.lsn;
    this.buffer.confirm(pos, asked);
    // Hold the log from here on while copying (register keeps an old registration; ack only moves forward).
    await tablet.register(id, pos);
    await tablet.ack(id, pos);
    this.ackedLsn = pos;
    for (const ddl of history.statements) await db.query(ddl);
    await appliedLsn(db); // creates the table
    await db.transaction((tx) => setAppliedLsn(tx, pos));
    return { tables: await db.tables(), lsns: { [this.config!.shard]: pos } };
  }

  /** An empty database to copy into. */
  private async wipe(): Promise<StorageEngine> {
    if (this.config!.engine === 'pglite') {
      const db = this.db!;
      // Everything user DDL made lives in the public schema (the applied-LSN table too).
      await db.query('DROP SCHEMA public CASCADE');
      await db.query('CREATE SCHEMA public');
      return db;
    }
    // DO SQLite: drop everything, keep the settings.
    const keep = await this.ctx.storage.get(['config', 'paused', 'applyDelayMs', 'bootstraps', 'phase']);
    await this.ctx.storage.deleteAll();
    await this.ctx.storage.put(Object.fromEntries(keep));
    await this.ctx.storage.setAlarm(Date.now() + TAIL_MS);
    this.db = new DoSqliteEngine(this.ctx.storage);
    return this.db;
  }
}
