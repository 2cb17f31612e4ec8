/**
 * VTCoordinator: the two-phase-commit coordinator, one DO per partition of transaction ids
 * (`coordinator/<n>`, router/topology.ts). It keeps one durable record per cross-shard
 * transaction (router/txn/coordinator.ts decides what each record needs), tells participants the
 * decision, and on its alarm finishes whatever a crash left: undecided transactions past their
 * deadline are rolled back, decisions not acknowledged by every participant are sent again.
 * The instance named `locks` also keeps the keyspaces' waits-for graph (coordinator-locks.ts),
 * in memory: it only needs to know about transactions in flight. The instance named
 * `ddl/<keyspace>` records the keyspace's DDL statements as intents before they reach the
 * shards, sends them, and on its alarm resends them to the shards that have not applied them
 * (`DdlIntent`, router/txn/coordinator.ts). The instance named `topology/<keyspace>` keeps the
 * keyspace's shard layout (router/layout/layout-store.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import type { CoordinatorApi, Stub, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';
import { asVitessError, guarded, VitessError } from '../../rpc/errors.js';
import { Mutex } from '../../engines/mutex.js';
import { failpoint } from '../../primary/failpoints.js';
import { WaitsForGraph } from './coordinator-locks.js';
import {
  acknowledge,
  ddlApplied,
  ddlWakeAt,
  decide,
  newDdlIntent,
  enlist,
  newRecord,
  nextAction,
  nextDdlStep,
  RETRY_DELAYS_MS,
  unacked,
  wakeAt,
  type DdlIntent,
  type Decision,
  type TxRecord,
} from './coordinator.js';
import { configuredVSchema, type Env } from '../topology.js';
import { shardNames, type ShardLayout } from '../layout/layout.js';
import { LayoutStore } from '../layout/layout-store.js';
import { keyspaceOf } from '../vschema.js';

/** What the coordinator asks of each shard. */
type Participant = Pick<TabletApi, 'commitPrepared' | 'rollbackPrepared'>;

export interface CommitResult {
  outcome: 'committed' | 'rolled back';
  /** Each acknowledging participant's LSN after the commit (`keyspace/shard` → LSN). */
  lsns: Record<string, number>;
  /**
   * Participants that have not taken the decision yet: after retries (a rollback), or not told yet
   * (a commit, answered once decided). Recovery resends it every RESEND_MS.
   */
  pending: string[];
  /** Of those, the ones that answered a commit with NOT_FOUND: their prepared state is lost (docs/transactions.md). */
  lost: string[];
}

/** A DDL statement for every shard of a keyspace, as VTGate hands it to the keyspace's DDL coordinator. */
export type DdlRequest = Pick<DdlIntent, 'id' | 'keyspace' | 'engine' | 'statements' | 'shards'>;

export interface DdlResult {
  /**
   * `applied`: on every shard. `refused`: the first shard refused it (`error`), so no shard has
   * it and the intent is dropped. `pending`: recorded, not on every shard yet (`pending`);
   * recovery sends it until it is, or drops it should the first shard, not reached yet, refuse it.
   */
  outcome: 'applied' | 'refused' | 'pending';
  /** The LSN of each shard that applied it (shard → LSN). */
  lsns: Record<string, number>;
  pending: string[];
  /** `refused`: the first shard's refusal; `pending`: the last failure seen. */
  error?: ReturnType<VitessError['toJSON']>;
}

/** How long a DDL statement waits for the one before it on the same keyspace. */
const DDL_LOCK_WAIT_MS = 30_000;
/** How long one shard may take to answer one DDL send before it counts as failed (sent again later). */
const DDL_SEND_MS = 60_000;

/** Outcome counts of this coordinator since it started (for /metrics). */
export interface CoordinatorCounters {
  committed: number;
  rolledBack: number;
  /** Rolled back by the coordinator because no decision came in time (a VTGate crashed or stalled). */
  presumedAbort: number;
  /** Decisions sent again by recovery. */
  resent: number;
  /**
   * Commit decisions a participant answered NOT_FOUND: it neither holds the transaction prepared
   * nor remembers committing it, so its prepared state was lost (or it committed longer ago than
   * it remembers, primary/prepared.ts). Never taken as applied: the participant stays pending and
   * is resent every second, each answer counted again, until an operator steps in.
   */
  lost: number;
  /** Waits refused because they would have closed a cycle. */
  deadlocks: number;
}

export class VTCoordinator extends DurableObject<Env> implements CoordinatorApi {
  private readonly counters: CoordinatorCounters = { committed: 0, rolledBack: 0, presumedAbort: 0, resent: 0, deadlocks: 0, lost: 0 };
  private readonly graph = new WaitsForGraph();
  /** One DDL statement of the keyspace at a time (live or recovery): every shard applies them in the same order. */
  private readonly ddlLock = new Mutex();
  #layouts: LayoutStore | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS _vt_2pc (txid TEXT PRIMARY KEY, record TEXT NOT NULL)');
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS _vt_ddl_intents (id TEXT PRIMARY KEY, record TEXT NOT NULL)');
  }

  private get(txid: string): TxRecord | undefined {
    const [row] = [...this.ctx.storage.sql.exec('SELECT record FROM _vt_2pc WHERE txid = ?', txid)];
    return row ? (JSON.parse(String(row.record)) as TxRecord) : undefined;
  }

  private put(rec: TxRecord): void {
    this.ctx.storage.sql.exec('INSERT OR REPLACE INTO _vt_2pc (txid, record) VALUES (?, ?)', rec.txid, JSON.stringify(rec));
  }

  private forget(txid: string): void {
    this.ctx.storage.sql.exec('DELETE FROM _vt_2pc WHERE txid = ?', txid);
  }

  // ---- shard layouts (instance `topology/<keyspace>`) ------------------------------------------

  private get layouts(): LayoutStore {
    return (this.#layouts ??= new LayoutStore(this.ctx.storage.sql));
  }

  /** The keyspace's shard layout, seeded from the VSCHEMA on first read. */
  layout(keyspace: string): Promise<ShardLayout> {
    return guarded(async () => {
      const seed = keyspaceOf(configuredVSchema(this.env), keyspace).shards;
      const { stored, now } = this.layouts.peek(keyspace, seed);
      // An edited VSCHEMA is a new version: every old and new tablet is fenced before it is stored
      // and anyone routes by it (a tablet not reached: not stored, and the next read tries again).
      if (stored && now.version !== stored.version) await this.fence(keyspace, stored, now, 'read the layout again');
      return this.layouts.read(keyspace, seed);
    });
  }

  /** Fences every tablet of `before` and `after` at `after`'s version; UNAVAILABLE naming those not reached. */
  private async fence(keyspace: string, before: ShardLayout, after: ShardLayout, retry: string): Promise<void> {
    const tablets = [...new Set([...shardNames(before), ...shardNames(after)])];
    const fenced = await Promise.allSettled(
      tablets.map((s) => stubOf<Pick<TabletApi, 'fenceLayout'>>(this.env.TABLET.getByName(`${keyspace}/${s}`)).fenceLayout(after.version)),
    );
    const failed = tablets.filter((_, i) => fenced[i]!.status === 'rejected');
    if (failed.length) {
      throw new VitessError(
        'UNAVAILABLE',
        `keyspace "${keyspace}" moves to layout version ${after.version}, but shard(s) ${failed.join(', ')} were not told: ${retry}`,
        {
          shards: failed,
        },
      );
    }
  }

  /**
   * An operator's (and later resharding's) change of the layout: the next version, with the same
   * shards or `shards`. Every tablet of the old and new shards is fenced at it before this
   * returns: from then on, none runs a request routed by an older version. A tablet that cannot
   * be reached fails the call (UNAVAILABLE, naming it); calling again bumps again and fences all.
   */
  bumpLayout(keyspace: string, shards?: string[]): Promise<ShardLayout> {
    return guarded(async () => {
      const seed = keyspaceOf(configuredVSchema(this.env), keyspace).shards;
      const before = this.layouts.read(keyspace, seed);
      const after = this.layouts.bump(keyspace, seed, shards);
      await this.fence(keyspace, before, after, 'bump the layout again');
      return after;
    });
  }

  /** Every record (tests, status). */
  list(): TxRecord[] {
    return [...this.ctx.storage.sql.exec('SELECT record FROM _vt_2pc')].map((r) => JSON.parse(String(r.record)) as TxRecord);
  }

  /** Pending DDL intents, oldest first (tests, status). */
  ddlIntents(): DdlIntent[] {
    return [...this.ctx.storage.sql.exec('SELECT record FROM _vt_ddl_intents ORDER BY rowid')].map((r) => JSON.parse(String(r.record)) as DdlIntent);
  }

  private getDdl(id: string): DdlIntent | undefined {
    const [row] = [...this.ctx.storage.sql.exec('SELECT record FROM _vt_ddl_intents WHERE id = ?', id)];
    return row ? (JSON.parse(String(row.record)) as DdlIntent) : undefined;
  }

  /** Keeps the row (and its rowid: intents are resent oldest first). */
  private putDdl(i: DdlIntent): void {
    this.ctx.storage.sql.exec(
      'INSERT INTO _vt_ddl_intents (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record',
      i.id,
      JSON.stringify(i),
    );
  }

  private forgetDdl(id: string): void {
    this.ctx.storage.sql.exec('DELETE FROM _vt_ddl_intents WHERE id = ?', id);
  }

  /**
   * Records a DDL statement for every shard of its keyspace, then sends it: to the first shard
   * alone (its answer decides), then to the others at once. Statements of the keyspace take
   * turns: one still pending on some shard is sent again first, and while it stays pending a
   * new one is refused (UNAVAILABLE), so that every shard applies them in the same order.
   */
  ddl(req: DdlRequest): Promise<DdlResult> {
    return guarded(() =>
      this.ddlLock.run(
        async () => {
          if (this.getDdl(req.id)) throw new VitessError('INVALID', `DDL intent ${req.id} is already known to this coordinator`);
          for (const older of this.ddlIntents().filter((i) => i.keyspace === req.keyspace)) {
            const r = await this.driveDdl(older, true);
            if (r.outcome === 'pending') {
              await this.schedule();
              throw new VitessError(
                'UNAVAILABLE',
                `an earlier DDL statement on keyspace "${req.keyspace}" (intent ${older.id}) is not applied on shard(s) ${r.pending.join(', ')} yet; recovery keeps sending it there; run this statement once it is`,
                { shards: r.pending },
              );
            }
          }
          this.putDdl(newDdlIntent(req.id, req.keyspace, req.engine, req.statements, req.shards));
          await this.schedule();
          // On disk before any shard sees it.
          await this.ctx.storage.sync();
          const out = await this.driveDdl(this.getDdl(req.id)!, true);
          await this.schedule();
          return out;
        },
        DDL_LOCK_WAIT_MS,
        `turn of the DDL statement before this one on keyspace "${req.keyspace}"`,
      ),
    );
  }

  /**
   * Sends `i.statements` to one shard: its LSN, a refusal (nothing applied there), or a failure
   * (unknown). A shard that does not answer within DDL_SEND_MS counts as failed, so that it
   * cannot hold the keyspace's DDL turn (`ddlLock`) for good; the tablet applies an intent once
   * however many sends reach it.
   */
  private async applyOn(i: DdlIntent, shard: string): Promise<{ lsn: number } | { refused: VitessError } | { failed: VitessError }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new VitessError('TIMEOUT', `shard ${i.keyspace}/${shard} did not answer DDL intent ${i.id} within ${DDL_SEND_MS} ms`)),
        DDL_SEND_MS,
      );
    });
    try {
      const send = stubOf<Pick<TabletApi, 'applyDdl'>>(this.env.TABLET.getByName(`${i.keyspace}/${shard}`)).applyDdl(i.engine, i.id, i.statements);
      const out = await Promise.race([send, late]);
      return out.outcome === 'refused' ? { refused: VitessError.fromJSON(out.error) } : { lsn: out.lsn };
    } catch (e) {
      return { failed: asVitessError(e) };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Carries an intent as far as it goes now (under `ddlLock`): the first shard decides, then
   * the others. `retry`: a send that failed (not refused) is tried again after each of
   * RETRY_DELAYS_MS, as VTGate waits for the answer.
   */
  private async driveDdl(intent: DdlIntent, retry: boolean): Promise<DdlResult> {
    const delays = retry ? [0, ...RETRY_DELAYS_MS] : [0];
    const lsns: Record<string, number> = {};
    let error: VitessError | undefined;
    let step = nextDdlStep(intent);
    if (step.kind === 'decide') {
      const first = step.shard;
      let r: Awaited<ReturnType<VTCoordinator['applyOn']>> | undefined;
      for (const d of delays) {
        if (d) await new Promise((resolve) => setTimeout(resolve, d));
        r = await this.applyOn(intent, first);
        if (!('failed' in r)) break;
      }
      if (r && 'refused' in r) {
        this.forgetDdl(intent.id);
        return { outcome: 'refused', lsns, pending: [], error: r.refused.toJSON() };
      }
      if (!r || 'failed' in r) return { outcome: 'pending', lsns, pending: [...intent.shards], ...(r && { error: r.failed.toJSON() }) };
      lsns[first] = r.lsn;
      this.putDdl((intent = ddlApplied(intent, first)));
      step = nextDdlStep(intent);
    }
    let to = step.kind === 'apply' ? step.to : [];
    for (const d of delays) {
      if (!to.length) break;
      if (d) await new Promise((resolve) => setTimeout(resolve, d));
      const failed: string[] = [];
      await Promise.all(
        to.map(async (shard) => {
          const r = await this.applyOn(intent, shard);
          // Read again: the other sends note their answers meanwhile.
          const now = this.getDdl(intent.id);
          if ('lsn' in r) {
            lsns[shard] = r.lsn;
            if (now) this.putDdl(ddlApplied(now, shard));
            return;
          }
          error = 'refused' in r ? r.refused : r.failed;
          if ('refused' in r && now) this.putDdl({ ...now, refusals: { ...now.refusals, [shard]: `[${r.refused.code}] ${r.refused.message}` } });
          // Refused after the first shard applied it: its schema differs, or it is busy; recovery sends again.
          if ('failed' in r) failed.push(shard);
        }),
      );
      to = failed;
    }
    const now = this.getDdl(intent.id);
    const pending = now ? now.shards.filter((s) => !now.applied.includes(s)) : [];
    if (now && !pending.length) this.forgetDdl(intent.id);
    return pending.length ? { outcome: 'pending', lsns, pending, ...(error && { error: error.toJSON() }) } : { outcome: 'applied', lsns, pending };
  }

  /** Recovery of DDL intents: each pending one is sent again, oldest first (skipped while a live `ddl` call runs). */
  private async recoverDdl(): Promise<void> {
    await this.ddlLock
      .run(
        async () => {
          for (const i of this.ddlIntents()) {
            const again = { ...i, resends: i.resends + 1 };
            this.putDdl(again);
            await this.driveDdl(again, false);
          }
        },
        1,
        'DDL lock',
      )
      .catch(() => undefined);
  }

  stats(): CoordinatorCounters {
    return { ...this.counters };
  }

  /**
   * A transaction holding `holds` is about to wait for shard `wants`: the cycle this would close
   * (the transaction must roll back), or null (it may wait).
   */
  waitFor(txid: string, holds: string[], wants: string, expiresAt: number): string[] | null {
    const cycle = this.graph.wait(txid, holds, wants, expiresAt, Date.now());
    if (cycle) this.counters.deadlocks++;
    return cycle ?? null;
  }

  /** The transaction ended: it holds and waits for nothing. */
  release(txid: string): void {
    this.graph.release(txid);
  }

  /** Records the participants; must return before any of them is asked to prepare. */
  async begin(txid: string, participants: string[], opts: { decideWithinMs: number; participantTimeoutMs: number }): Promise<void> {
    if (this.get(txid)) throw new VitessError('INVALID', `transaction ${txid} is already known to this coordinator`);
    this.put(newRecord(txid, participants, Date.now(), opts.decideWithinMs, opts.participantTimeoutMs));
    await this.schedule();
    await this.ctx.storage.sync();
  }

  /** Adds a participant to a transaction begun here; must return before it is asked to prepare. */
  enlist(txid: string, participant: string): Promise<void> {
    return guarded(async () => {
      const rec = this.get(txid);
      const next = rec && enlist(rec, participant);
      if (!next) {
        throw new VitessError('TIMEOUT', `transaction ${txid} was rolled back by its coordinator before ${participant} joined it; retry it`, {
          limit: 'commit decision',
        });
      }
      if (next === rec) return;
      this.put(next);
      await this.ctx.storage.sync();
    });
  }

  /**
   * VTGate ended the transaction before its commit: no participant was asked to prepare, so an
   * undecided record goes, with nothing to tell anyone (a rollback would queue a call on every
   * participant, behind whatever transaction holds it).
   */
  abandon(txid: string): void {
    if (this.get(txid)?.decision === null) this.forget(txid);
  }

  /**
   * Every participant prepared: commit, unless the transaction was already rolled back. Answered
   * once the decision is durable: the participants are told right after, and by the alarm if that
   * fails. VTGate's bookmark holds each one's commit LSN (known at prepare), and a read on a
   * primary waits for it (docs/transactions.md).
   */
  commit(txid: string): Promise<CommitResult> {
    return guarded(() => this.finish(txid, 'commit'));
  }

  /** A participant failed to prepare (or VTGate gave up): roll back. */
  rollback(txid: string): Promise<CommitResult> {
    return guarded(() => this.finish(txid, 'rollback'));
  }

  private async finish(txid: string, wanted: Decision): Promise<CommitResult> {
    const before = this.get(txid);
    if (!before) throw new VitessError('NOT_FOUND', `transaction ${txid} is unknown to its coordinator (never begun, or finished and forgotten)`);
    const rec = decide(before, wanted);
    if (rec !== before) {
      this.put(rec);
      // A commit is answered before the participants hear it: recovery's resend (the alarm) is
      // set with the decision, in the same write, should the delivery after the answer be cut short.
      if (rec.decision === 'commit') await this.schedule();
      // The decision is on disk before any participant hears it.
      await this.ctx.storage.sync();
      this.count(rec.decision!);
    }
    await failpoint('after-decision');
    if (rec.decision === 'commit') {
      void this.deliver(rec).catch(() => undefined);
      return { outcome: 'committed', lsns: {}, pending: unacked(rec), lost: [] };
    }
    const { lsns, failed, lost } = await this.deliver(rec);
    return { outcome: 'rolled back', lsns, pending: failed, lost };
  }

  /** Tells the participants that have not acknowledged the decision, retrying the ones that fail; the rest is left to recovery. */
  private async deliver(rec: TxRecord): Promise<{ lsns: Record<string, number>; failed: string[]; lost: string[] }> {
    let { lsns, failed, lost } = await this.send(rec, unacked(rec));
    for (const delay of RETRY_DELAYS_MS) {
      if (!failed.length) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      const again = await this.send(rec, failed);
      lsns = { ...lsns, ...again.lsns };
      ({ failed, lost } = again);
    }
    // Its next resend is due now, not at whatever the alarm was set for (none, once all acknowledged).
    await this.schedule();
    return { lsns, failed, lost };
  }

  private count(d: Decision): void {
    if (d === 'commit') this.counters.committed++;
    else this.counters.rolledBack++;
  }

  /**
   * Tells `to` the decision, in parallel, noting each acknowledgement. Returns the LSNs of
   * those that acknowledged, those that failed, and of these the ones that lost the transaction.
   */
  private async send(rec: TxRecord, to: string[]): Promise<{ lsns: Record<string, number>; failed: string[]; lost: string[] }> {
    const lsns: Record<string, number> = {};
    const failed: string[] = [];
    const lost: string[] = [];
    const tell = async (p: string): Promise<void> => {
      const tablet = this.participant(p);
      try {
        const out = rec.decision === 'commit' ? await tablet.commitPrepared(rec.txid) : await tablet.rollbackPrepared(rec.txid);
        lsns[p] = out.lsn;
      } catch (e) {
        if (rec.decision === 'commit' && asVitessError(e).code === 'NOT_FOUND') {
          this.counters.lost++;
          lost.push(p);
        }
        failed.push(p);
        return;
      }
      this.ack(rec.txid, p);
    };
    const [head, ...rest] = to;
    if (head === undefined) return { lsns, failed, lost };
    const first = tell(head);
    await Promise.all([
      first,
      ...rest.map(async (p) => {
        await failpoint('during-commit', () => first);
        await tell(p);
      }),
    ]);
    return { lsns, failed, lost };
  }

  /** The shard `keyspace/shard` as a two-phase-commit participant. */
  private participant(name: string): Stub<Participant> {
    return stubOf<Participant>(this.env.TABLET.getByName(name));
  }

  private ack(txid: string, participant: string): void {
    const rec = this.get(txid);
    if (!rec) return;
    const next = acknowledge(rec, participant);
    // A commit every participant applied is done; a rollback waits for its final sweep.
    if (next.decision === 'commit' && !unacked(next).length) this.forget(txid);
    else this.put(next);
  }

  /** The alarm at the earliest time any record needs attention. */
  private async schedule(): Promise<void> {
    const now = Date.now();
    const at = Math.min(...this.list().map((r) => wakeAt(r, now)), ...this.ddlIntents().map((i) => ddlWakeAt(i, now)));
    if (Number.isFinite(at)) await this.ctx.storage.setAlarm(at);
    else await this.ctx.storage.deleteAlarm();
  }

  /** Recovery: every record gets its next action; then the alarm is set for the next one due. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      this.list()
        .map(async (rec) => {
          const a = nextAction(rec, now);
          switch (a.kind) {
            case 'wait':
              return;
            case 'rollback': {
              const decided = decide(rec, 'rollback');
              this.put(decided);
              await this.ctx.storage.sync();
              this.counters.presumedAbort++;
              this.count('rollback');
              await this.send(decided, decided.participants);
              return;
            }
            case 'send':
              this.counters.resent++;
              await this.send(rec, a.to);
              return;
            case 'sweep':
              await Promise.all(a.to.map((p) => this.participant(p).rollbackPrepared(rec.txid)));
              this.forget(rec.txid);
              return;
            case 'forget':
              this.forget(rec.txid);
          }
        })
        .map((p) => p.catch(() => undefined)),
    );
    await this.recoverDdl();
    await this.schedule();
  }
}
