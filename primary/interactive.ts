// Interactive transactions, pulled: the tablet asks the caller's driver for each next
// statement from inside the open transaction. On DO SQLite every other incoming call waits
// while `ctx.storage.transaction` is open, so the statements cannot be pushed in by later
// calls; pulling them over the caller's stub works on every engine (docs/primary.md).
import { asVitessError, VitessError, type ErrorDetails } from '../rpc/errors.js';
import type { Executor } from '../engines/engine.js';
import { LIMITS, ResultBudget, transactionTimeout } from '../engines/limits.js';
import type { ResultSet } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';

export type TxStep = { sql: string; params?: SqlValue[] } | { end: 'commit' | 'rollback' | 'prepare' };
export type TxReply = { result: ResultSet } | { error: { code: string; message: string; details: ErrorDetails } } | null;

/** Implemented by the caller (an RpcTarget or a stub of one). */
export interface TxDriver {
  next(reply: TxReply): Promise<TxStep>;
}

/** The caller asked to roll back: not an error for anyone. */
export const ROLLBACK_REQUESTED = new VitessError('INVALID', 'transaction rolled back by the caller');

function beforeDeadline<T>(p: Promise<T>, deadline: number, txid: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new VitessError('TIMEOUT', `transaction ${txid} passed its deadline and was rolled back`, { limit: 'transaction timeout' })),
      Math.max(0, deadline - Date.now()),
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The body of an engine transaction that runs the driver's statements until it says how to
 * end. Returns the end it asked for (commit or prepare); throws to roll back. `timeoutMs` is
 * clamped: VTGate's ceiling plus the grace it gives its tablets (shard-transaction.ts).
 */
export function pullLoop(driver: TxDriver, txid: string, timeoutMs: unknown): (tx: Executor) => Promise<'commit' | 'prepare'> {
  const deadline = Date.now() + transactionTimeout(timeoutMs, LIMITS.maxTransactionMs + LIMITS.transactionGraceMs);
  return async (tx) => {
    let reply: TxReply = null;
    for (;;) {
      const step: TxStep = await beforeDeadline(driver.next(reply), deadline, txid);
      if ('end' in step) {
        if (step.end === 'rollback') throw ROLLBACK_REQUESTED;
        return step.end;
      }
      let result: ResultSet;
      try {
        result = await beforeDeadline(tx.query(step.sql, step.params ?? []), deadline, txid);
      } catch (e) {
        const err = asVitessError(e);
        if (err.code === 'TIMEOUT') throw err;
        reply = { error: err.toJSON() };
        continue;
      }
      // Over a limit, the statement did run: its failure ends the transaction, or a commit would keep it.
      reply = { result: new ResultBudget().add(result) };
    }
  };
}
