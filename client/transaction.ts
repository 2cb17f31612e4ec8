/**
 * An interactive transaction, over a WebSocket (it lives as long as the connection: if the
 * socket drops, the gateway rolls it back). It may span shards (the gateway commits it with
 * two-phase commit, docs/transactions.md). Statements are never retried inside it; with
 * `retry`, the whole function runs again when the transaction was rolled back by a conflict or
 * a timeout.
 */
import type { RpcStub } from 'capnweb';
import { mergeBookmarks } from '../rpc/bookmark.js';
import { VitessError } from '../rpc/errors.js';
import { backoffDelay, sleep, type RetryPolicy } from './retry.js';
import type { TransactionApi } from '../rpc/protocol.js';
import type { SqlValue } from '../rpc/values.js';
import { toVitessError } from './failure.js';
import { executeResult, queryResult, toRpcParams, type ExecuteResult, type QueryResult, type Row } from './results.js';
import { deadline } from './transport.js';
import { disposeQuietly } from './websocket.js';

export interface Transaction {
  query<T = Row>(sql: string, params?: SqlValue[]): Promise<QueryResult<T>>;
  execute<T = Row>(sql: string, params?: SqlValue[]): Promise<ExecuteResult<T>>;
}

export interface TransactionOptions {
  /** The gateway rolls the transaction back when it is still open after this long. */
  timeoutMs?: number;
  /**
   * Runs the whole function again, after a backoff with jitter, at most this many times when
   * the transaction failed with CONFLICT or TIMEOUT (it was rolled back: a deadlock victim, a
   * lock wait or deadline that passed). Default 0. The function must be safe to run again.
   */
  retry?: number;
}

/** Whether a transaction that failed with `e` was rolled back by a conflict or a deadline, so that running it again is safe. */
export function retryableTransactionError(e: unknown): boolean {
  return e instanceof VitessError && (e.code === 'CONFLICT' || e.code === 'TIMEOUT');
}

/** Runs `attempt` until it succeeds, fails otherwise, or `retries` retries are spent. */
export async function withTransactionRetry<R>(
  retries: number,
  policy: RetryPolicy,
  attempt: () => Promise<R>,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<R> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (n >= retries || !retryableTransactionError(e)) throw e;
      await wait(backoffDelay(policy, n));
    }
  }
}

type State = 'open' | 'committing' | 'done';

/** Drives one `TransactionApi` stub; `run` commits or rolls back around the user's function. */
export class TransactionRunner implements Transaction {
  #state: State = 'open';
  #bookmark = '';

  constructor(
    private readonly stub: RpcStub<TransactionApi>,
    private readonly timeoutMs: number,
  ) {}

  /** The bookmarks seen in this transaction merged (its commit's included, once committed). */
  get bookmark(): string {
    return this.#bookmark;
  }

  async query<T = Row>(sql: string, params?: SqlValue[]): Promise<QueryResult<T>> {
    return queryResult<T>(await this.#run(sql, params));
  }

  async execute<T = Row>(sql: string, params?: SqlValue[]): Promise<ExecuteResult<T>> {
    return executeResult<T>(await this.#run(sql, params));
  }

  async #run(sql: string, params: SqlValue[] | undefined) {
    if (this.#state !== 'open')
      throw new VitessError('INVALID', `the transaction has ${this.#state === 'done' ? 'ended' : 'begun committing'}: statements after that are refused`);
    try {
      const r = await deadline(this.stub.query(sql, toRpcParams(params)), this.timeoutMs);
      this.#bookmark = mergeBookmarks(this.#bookmark, r.bookmark ?? '');
      return r;
    } catch (e) {
      throw toVitessError(e);
    }
  }

  /** Runs `fn`; commits when it resolves, rolls back (and rethrows) when it throws. */
  async run<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
    let result: R;
    try {
      result = await fn(this);
    } catch (e) {
      await this.#rollback();
      throw e;
    }
    this.#state = 'committing';
    try {
      const { bookmark } = await deadline(this.stub.commit(), this.timeoutMs);
      this.#bookmark = mergeBookmarks(this.#bookmark, bookmark ?? '');
    } catch (e) {
      const err = toVitessError(e);
      throw new VitessError(err.code, `commit failed: ${err.message}`, err.details);
    } finally {
      this.#state = 'done';
      disposeQuietly(this.stub);
    }
    return result;
  }

  async #rollback(): Promise<void> {
    this.#state = 'done';
    try {
      await deadline(this.stub.rollback(), this.timeoutMs);
    } catch {
      // The gateway rolls back an abandoned transaction itself (on disconnect or timeout).
    } finally {
      disposeQuietly(this.stub);
    }
  }
}
