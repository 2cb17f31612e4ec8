/**
 * VTCoordinator: the two-phase-commit coordinator, one DO per partition of transaction ids
 * (`coordinator/<n>`, router/topology.ts). It keeps one durable record per cross-shard
 * transaction (router/coordinator.ts decides what each record needs), tells participants the
 * decision, and on its alarm finishes whatever a crash left: undecided transactions past their
 * deadline are rolled back, decisions not acknowledged by every participant are sent again.
 * The instance named `locks` also keeps the keyspaces' waits-for graph (coordinator-locks.ts),
 * in memory: it only needs to know about transactions in flight.
 */
import { DurableObject } from 'cloudflare:workers';
import type { CoordinatorApi, Stub, TabletApi } from '../rpc/do-api.js';
import { stubOf } from '../rpc/do-stub.js';
import { asVitessError, guarded, VitessError } from '../rpc/errors.js';
import { failpoint } from '../primary/failpoints.js';
import { WaitsForGraph } from './coordinator-locks.js';
import { acknowledge, decide, newRecord, nextAction, RETRY_DELAYS_MS, unacked, wakeAt, type Decision, type TxRecord } from './coordinator.js';
import type { Env } from './topology.js';

/** What the coordinator asks of each shard. */
type Participant = Pick<TabletApi, 'commitPrepared' | 'rollbackPrepared'>;

export interface CommitResult {
  outcome: 'committed' | 'rolled back';
  /** Each acknowledging participant's LSN after the commit (`keyspace/shard` → LSN). */
  lsns: Record<string, number>;
  /** Participants that have not taken the decision yet, after retries: recovery resends it every RESEND_MS. */
  pending: string[];
  /** Of those, the ones that answered a commit with NOT_FOUND: their prepared state is lost (docs/transactions.md). */
  lost: string[];
}

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

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS _vt_2pc (txid TEXT PRIMARY KEY, record TEXT NOT NULL)');
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

  /** Every record (tests, status). */
  list(): TxRecord[] {
    return [...this.ctx.storage.sql.exec('SELECT record FROM _vt_2pc')].map((r) => JSON.parse(String(r.record)) as TxRecord);
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

  /** Every participant prepared: commit, unless the transaction was already rolled back. */
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
      // The decision is on disk before any participant hears it.
      await this.ctx.storage.sync();
      this.count(rec.decision!);
    }
    await failpoint('after-decision');
    let { lsns, failed, lost } = await this.send(rec, unacked(rec));
    for (const delay of RETRY_DELAYS_MS) {
      if (!failed.length) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      const again = await this.send(rec, failed);
      lsns = { ...lsns, ...again.lsns };
      ({ failed, lost } = again);
    }
    // Left to recovery: its next resend is due now, not at whatever the alarm was set for.
    if (failed.length) await this.schedule();
    return { outcome: rec.decision === 'commit' ? 'committed' : 'rolled back', lsns, pending: failed, lost };
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
    const at = Math.min(...this.list().map((r) => wakeAt(r, now)));
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
    await this.schedule();
  }
}
