/**
 * An interactive transaction as VTGate runs it: pinned to the first shard a statement reaches.
 * The tablet pulls statements from a `StepChannel` it was handed over Workers RPC (on DO SQLite
 * the open transaction blocks every other incoming call, so statements cannot be pushed in);
 * each client statement is one step, its result the tablet's reply. Touching a second shard
 * aborts the transaction: cross-shard atomicity needs two-phase commit.
 */
import { RpcTarget } from 'cloudflare:workers';
import { Mutex } from '../engines/mutex.js';
import type { TxDriver, TxReply, TxStep } from '../primary/interactive.js';
import type { TxOutcome } from '../primary/tablet.js';
import { VitessError } from '../rpc/errors.js';
import type { ResultSet } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import type { ShardCursor } from './planner/executor.js';
import { engineKind, type Topology } from './topology.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
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
    return step ? Promise.resolve(step) : new Promise((resolve) => { this.waiting = resolve; });
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

interface Pinned {
  keyspace: string;
  shard: string;
  channel: StepChannel;
  outcome: Promise<TxOutcome>;
}

export class ShardTransaction implements ShardCursor {
  readonly txid = crypto.randomUUID();
  private pinned: Pinned | undefined;
  private state: 'open' | 'aborted' | 'ended' = 'open';
  private abortReason: VitessError | undefined;
  /** Statements run one at a time, in the order the client sent them. */
  private readonly order = new Mutex();

  constructor(private readonly topology: Topology, private readonly timeoutMs?: number) {}

  /** The shard the transaction runs on, once a statement reached one. */
  get shard(): { keyspace: string; shard: string } | undefined {
    return this.pinned && { keyspace: this.pinned.keyspace, shard: this.pinned.shard };
  }

  execute(keyspace: string, shard: string, sql: string, params: SqlValue[]): Promise<ResultSet> {
    return this.order.run(async () => {
      this.checkOpen();
      const p = (this.pinned ??= this.start(keyspace, shard));
      if (p.keyspace !== keyspace || p.shard !== shard) {
        this.abort(new VitessError('UNSUPPORTED', `this transaction runs on shard ${p.keyspace}/${p.shard}, and a statement reached ${keyspace}/${shard}: cross-shard transactions need two-phase commit, not available yet. The transaction was rolled back`, { construct: 'cross-shard transaction' }));
        throw this.abortReason!;
      }
      const ended = p.outcome.then((): never => { throw new VitessError('INVALID', `transaction ${this.txid} already ended`); });
      const reply = await Promise.race([p.channel.send({ sql, params }), ended]);
      if (!reply) throw new VitessError('INTERNAL', 'the tablet sent no reply');
      if ('error' in reply) throw VitessError.fromJSON(reply.error);
      return reply.result;
    });
  }

  /** Commits; `undefined` when no statement ran (nothing to commit). */
  commit(): Promise<TxOutcome | undefined> {
    return this.order.run(async () => {
      if (this.state === 'aborted') throw this.abortReason!;
      this.checkOpen();
      this.state = 'ended';
      if (!this.pinned) return undefined;
      void this.pinned.channel.send({ end: 'commit' });
      return this.pinned.outcome;
    });
  }

  rollback(): Promise<void> {
    return this.order.run(async () => {
      if (this.state === 'ended') return;
      this.abort();
    });
  }

  private checkOpen(): void {
    if (this.state === 'aborted') throw this.abortReason!;
    if (this.state === 'ended') throw new VitessError('INVALID', `transaction ${this.txid} already ended`);
  }

  private abort(reason?: VitessError): void {
    this.state = reason ? 'aborted' : 'ended';
    this.abortReason = reason;
    if (this.pinned) void this.pinned.channel.send({ end: 'rollback' });
    this.pinned?.outcome.catch(() => undefined);
  }

  private start(keyspace: string, shard: string): Pinned {
    const channel = new StepChannel();
    const kind = engineKind(this.topology.keyspace(keyspace));
    const outcome = this.topology.tablet(keyspace, shard).transaction(kind, this.txid, channel, { ...(this.timeoutMs !== undefined && { timeoutMs: this.timeoutMs }) });
    // An error before the first reply (lock wait, timeout) reaches the statement through the race above.
    outcome.catch(() => undefined);
    return { keyspace, shard, channel, outcome };
  }
}
