/**
 * An interactive transaction as VTGate runs it: one tablet transaction per shard it touches.
 * Each tablet pulls statements from a `StepChannel` it was handed over Workers RPC (on DO SQLite
 * the open transaction blocks every other incoming call, so statements cannot be pushed in);
 * each client statement is one step, its result the tablet's reply.
 *
 * Commit: a transaction that touched one shard commits there at once (no coordinator). One that
 * touched several commits with two-phase commit: the coordinator records the participants (as the
 * transaction reaches them, off the statements' path: `enlist`), every shard prepares, the
 * coordinator records the decision and tells the shards
 * (docs/transactions.md). A wait that would close a deadlock cycle across shards is refused
 * (router/txn/coordinator-locks.ts); the transaction's deadline is the backstop.
 */
import { RpcTarget } from 'cloudflare:workers';
import { LIMITS, transactionTimeout } from '../../engines/limits.js';
import { Mutex } from '../../engines/mutex.js';
import type { TxDriver, TxReply, TxStep } from '../../primary/interactive.js';
import type { TxOutcome } from '../../primary/tablet.js';
import { asVitessError, VitessError } from '../../rpc/errors.js';
import type { ResultSet } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import { failpoint } from '../../primary/failpoints.js';
import type { CommitResult } from './coordinator-do.js';
import type { ShardCursor } from '../engine/executor.js';
import { engineKind, type Topology } from '../topology.js';

/**
 * The coordinator rolls back a transaction it has not heard a decision for this long after the
 * transaction's last moment to prepare (its deadline and grace): VTGate is gone, or lost track.
 */
const DECIDE_WITHIN_MS = 5_000;

/** How transactions ended in this isolate (for /metrics). */
export const transactionCounters = {
  /** Committed on their only shard, without two-phase commit. */
  singleShard: 0,
  twoPhaseCommitted: 0,
  twoPhaseRolledBack: 0,
  /** The commit's outcome was unknown to VTGate (its coordinator finishes it). */
  twoPhaseUnknown: 0,
  /** Rolled back before commit: by the client, an error, a conflict or the deadline. */
  aborted: 0,
};

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The tablet's side of the conversation: `next(reply)` hands back the previous step's reply and waits for the next step. */
class StepChannel extends RpcTarget implements TxDriver {
  /** A step sent before the tablet asked for it (the first one races the transaction's start). */
  private queued: TxStep | undefined;
  private waiting: ((step: TxStep) => void) | undefined;
  private reply: Deferred<TxReply> | undefined;

  next(reply: TxReply): Promise<TxStep> {
    // The first call carries no reply; every later one answers the step sent before it.
    if (reply) this.reply?.resolve(reply);
    const step = this.queued;
    this.queued = undefined;
    return step
      ? Promise.resolve(step)
      : new Promise((resolve) => {
          this.waiting = resolve;
        });
  }

  /** Sends a step; resolves with the tablet's reply (never, for an end step). */
  send(step: TxStep): Promise<TxReply> {
    this.reply = deferred<TxReply>();
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting(step);
    else this.queued = step;
    return this.reply.promise;
  }
}

export interface ShardRef {
  keyspace: string;
  shard: string;
}

interface Participant extends ShardRef {
  channel: StepChannel;
  outcome: Promise<TxOutcome>;
}

const nameOf = (p: ShardRef): string => `${p.keyspace}/${p.shard}`;

export class ShardTransaction implements ShardCursor {
  readonly txid = crypto.randomUUID();
  readonly startedAt = Date.now();
  /** The client's `timeoutMs`, clamped to the ceiling (LIMITS.maxTransactionMs). */
  readonly timeoutMs: number;
  private readonly deadline: number;
  private readonly participants = new Map<string, Participant>();
  private state: 'open' | 'committing' | 'aborted' | 'ended' = 'open';
  private abortReason: VitessError | undefined;
  /** Rejects when the transaction is aborted: statements in flight fail with the reason. */
  private readonly aborted = deferred<never>();
  /** Whether the waits-for graph knows this transaction (it is told when it ends). */
  private registered = false;
  /** Statements run one at a time, in the order the client sent them. */
  private readonly order = new Mutex();
  /** Resolves once the coordinator has recorded every participant (`enlist`); commit awaits it before any prepare. */
  private enlisted: Promise<unknown> | undefined;

  constructor(
    private readonly topology: Topology,
    timeoutMs?: unknown,
  ) {
    this.timeoutMs = transactionTimeout(timeoutMs);
    this.deadline = this.startedAt + this.timeoutMs;
    this.aborted.promise.catch(() => undefined);
  }

  /** The shards the transaction touched, in the order it reached them. */
  get shards(): ShardRef[] {
    return [...this.participants.values()].map(({ keyspace, shard }) => ({ keyspace, shard }));
  }

  /** `layoutVersion`: the layout the statement's plan was made by; a shard joined by it is fenced with it (primary/layout-fence.ts). */
  execute(keyspace: string, shard: string, sql: string, params: SqlValue[], layoutVersion?: number): Promise<ResultSet> {
    return this.order.run(async () => {
      this.checkOpen();
      const p = this.participants.get(`${keyspace}/${shard}`) ?? (await this.join(keyspace, shard, layoutVersion ?? this.topology.layoutVersion(keyspace)));
      const reply = await this.bounded(p.channel.send({ sql, params }));
      if (!reply) throw new VitessError('INTERNAL', 'the tablet sent no reply');
      if ('error' in reply) throw VitessError.fromJSON(reply.error);
      return reply.result;
    });
  }

  /** Commits; resolves with each shard's LSN after the commit (none when no statement ran). */
  commit(): Promise<(ShardRef & { lsn: number })[]> {
    return this.order.run(async () => {
      this.checkOpen();
      if (Date.now() >= this.deadline) {
        this.abort(this.timedOut());
        throw this.abortReason!;
      }
      this.state = 'committing';
      const ps = [...this.participants.values()];
      try {
        if (ps.length <= 1) return ps.length ? [await this.commitOne(ps[0]!)] : [];
        return await this.commitTwoPhase(ps);
      } finally {
        this.state = 'ended';
        this.release();
      }
    });
  }

  /** Rolls back at once, also while a statement is waiting (it fails). */
  async rollback(): Promise<void> {
    this.abort();
  }

  private checkOpen(): void {
    if (this.state === 'aborted') throw this.abortReason!;
    if (this.state !== 'open') throw new VitessError('INVALID', `transaction ${this.txid} already ended`);
  }

  private timedOut(): VitessError {
    return new VitessError('TIMEOUT', `transaction ${this.txid} passed its deadline (${this.timeoutMs} ms) and was rolled back; retry it`, {
      limit: 'transaction timeout',
    });
  }

  private abort(reason?: VitessError): void {
    if (this.state !== 'open') return;
    this.state = reason ? 'aborted' : 'ended';
    this.abortReason = reason;
    transactionCounters.aborted++;
    this.aborted.reject(reason ?? new VitessError('INVALID', `transaction ${this.txid} was rolled back`));
    for (const p of this.participants.values()) void p.channel.send({ end: 'rollback' });
    this.abandon();
    this.release();
  }

  private release(): void {
    if (this.registered)
      this.topology
        .locks()
        .release(this.txid)
        .catch(() => undefined);
    this.registered = false;
  }

  /** `p`, unless the transaction is aborted or passes its deadline first. */
  private async bounded<T>(p: Promise<T>): Promise<T> {
    const timer = setTimeout(() => this.abort(this.timedOut()), Math.max(0, this.deadline - Date.now()));
    try {
      return await Promise.race([p, this.aborted.promise]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async join(keyspace: string, shard: string, layoutVersion: number): Promise<Participant> {
    if (this.participants.size) {
      // Holding shards already, waiting for another could close a cycle: ask first.
      this.registered = true;
      const cycle = await this.bounded(
        this.topology.locks().waitFor(this.txid, [...this.participants.keys()], `${keyspace}/${shard}`, this.deadline + LIMITS.transactionGraceMs),
      );
      this.checkOpen(); // aborted while it waited: no shard may join
      if (cycle) {
        this.abort(
          new VitessError(
            'CONFLICT',
            `transaction ${this.txid} would deadlock waiting for shard ${keyspace}/${shard} (cycle: ${cycle.join(' → ')}): it was rolled back; retry it`,
            { construct: 'cross-shard deadlock' },
          ),
        );
        throw this.abortReason!;
      }
    }
    const channel = new StepChannel();
    const kind = engineKind(this.topology.keyspace(keyspace));
    const outcome = this.topology.tablet(keyspace, shard).transaction(kind, this.txid, channel, {
      twoPhase: true,
      timeoutMs: Math.max(1, this.deadline - Date.now()) + LIMITS.transactionGraceMs,
      // The coordinator keeps a rolled-back record until a little after this (coordinator.ts).
      prepareBy: this.deadline + LIMITS.transactionGraceMs,
      layoutVersion,
    });
    const p: Participant = { keyspace, shard, channel, outcome };
    this.participants.set(nameOf(p), p);
    this.enlist(nameOf(p));
    // A shard that ends its part while the transaction is open (timeout, wait-die, lost
    // driver) ends the whole transaction; at commit, the commit looks at the outcomes itself.
    outcome.then(
      (o) => this.abort(new VitessError('INTERNAL', `shard ${nameOf(p)} ended transaction ${this.txid} early (${o.outcome})`)),
      (e: unknown) => this.abort(asVitessError(e)),
    );
    return p;
  }

  /**
   * Records the participants with the coordinator from the second one on, while the statement
   * that reached it runs: by commit, the record is usually there, and the commit starts with the
   * prepares. Its decision deadline is past the transaction's last moment to prepare.
   */
  private enlist(name: string): void {
    if (this.participants.size < 2) return;
    const coordinator = this.topology.coordinator(this.txid);
    const lastPrepare = this.deadline + LIMITS.transactionGraceMs;
    const participants = [...this.participants.keys()];
    // Any failure, even a stub that throws at once, is a rejection the commit reports.
    this.enlisted = (this.enlisted ?? Promise.resolve()).then(() =>
      participants.length === 2
        ? coordinator.begin(this.txid, participants, {
            decideWithinMs: lastPrepare + DECIDE_WITHIN_MS - Date.now(),
            participantTimeoutMs: lastPrepare - Date.now(),
          })
        : coordinator.enlist(this.txid, name),
    );
    this.enlisted.catch(() => undefined); // its failure is the commit's to report
  }

  /** Ended before its commit, nothing prepared: its coordinator record goes now rather than at its deadline. */
  private abandon(): void {
    this.enlisted
      ?.catch(() => undefined)
      .then(() => this.topology.coordinator(this.txid).abandon(this.txid))
      .catch(() => undefined);
  }

  private async commitOne(p: Participant): Promise<ShardRef & { lsn: number }> {
    void p.channel.send({ end: 'commit' });
    const o = await p.outcome;
    transactionCounters.singleShard++;
    return { keyspace: p.keyspace, shard: p.shard, lsn: o.lsn };
  }

  private async commitTwoPhase(ps: Participant[]): Promise<(ShardRef & { lsn: number })[]> {
    const coordinator = this.topology.coordinator(this.txid);
    try {
      await this.enlisted;
    } catch (e) {
      for (const p of ps) void p.channel.send({ end: 'rollback' });
      this.abandon();
      transactionCounters.aborted++;
      throw asVitessError(e);
    }
    for (const p of ps) void p.channel.send({ end: 'prepare' });
    const prepared = await Promise.allSettled(ps.map((p) => p.outcome));
    const failed = prepared.find((s) => s.status === 'rejected' || s.value.outcome !== 'prepared');
    if (failed) {
      // Participants that did prepare are rolled back by the coordinator (now, or by its alarm).
      await coordinator.rollback(this.txid).catch(() => undefined);
      transactionCounters.twoPhaseRolledBack++;
      if (failed.status === 'rejected') throw asVitessError(failed.reason);
      throw new VitessError('INTERNAL', `a shard of transaction ${this.txid} did not prepare (${failed.value.outcome}); it was rolled back`);
    }
    await failpoint('after-prepare');
    let decided: CommitResult;
    try {
      decided = await coordinator.commit(this.txid);
    } catch (e) {
      transactionCounters.twoPhaseUnknown++;
      throw new VitessError(
        'UNAVAILABLE',
        `the commit of cross-shard transaction ${this.txid} got no answer (${asVitessError(e).message}): its coordinator finishes it, committed or rolled back`,
      );
    }
    if (decided.outcome !== 'committed') {
      transactionCounters.twoPhaseRolledBack++;
      throw new VitessError(
        'TIMEOUT',
        `cross-shard transaction ${this.txid} was rolled back: its coordinator had no decision within ${DECIDE_WITHIN_MS} ms of its last moment to prepare; retry it`,
        { limit: 'commit decision' },
      );
    }
    transactionCounters.twoPhaseCommitted++;
    // Decided: acknowledged now, the participants told by the coordinator. The bookmark holds
    // each one's commit LSN, which a read of this session on that shard waits for.
    const commitLsns = prepared.map((s) => (s as PromiseFulfilledResult<TxOutcome>).value.lsn); // every one prepared (above)
    return ps.map((p, i) => ({ keyspace: p.keyspace, shard: p.shard, lsn: commitLsns[i]! }));
  }
}
