import { VitessError } from '../rpc/errors.js';
import type { ResultSet } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import type { Executor } from './engine.js';

/**
 * Wraps an engine's in-transaction executor so that every engine behaves like Postgres: after
 * a failed statement the transaction is aborted and only rollback remains; and once the
 * transaction has ended the handle refuses further use.
 */
export class TransactionHandle implements Executor {
  private failed: unknown;
  private ended = false;

  constructor(private readonly inner: Executor) {}

  async query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    if (this.ended) throw new VitessError('INVALID', 'transaction has already ended');
    if (this.failed !== undefined) {
      throw new VitessError('INVALID', 'current transaction is aborted after a failed statement; it will roll back');
    }
    try {
      return await this.inner.query(sql, params);
    } catch (e) {
      this.failed = e;
      throw e;
    }
  }

  /** Runs `fn`, then tells the engine whether to commit (resolves) or roll back (throws). */
  static async run<T>(inner: Executor, fn: (tx: Executor) => Promise<T>): Promise<T> {
    const tx = new TransactionHandle(inner);
    try {
      const result = await fn(tx);
      if (tx.failed !== undefined) throw tx.failed;
      return result;
    } finally {
      tx.ended = true;
    }
  }
}
