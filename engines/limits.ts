import { VitessError } from '../rpc/errors.js';
import type { Row } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';

/** The most statements in one batch: a batch holds its shard's write lock throughout and crosses the RPC whole. */
export const MAX_BATCH_STATEMENTS = 1_000;

/**
 * Every limit, applied on every engine alike: Cloudflare's documented per-statement limits, and the
 * bounds that keep one request inside a Worker isolate's 128 MB (docs/operations.md, "Limits").
 */
export const LIMITS = {
  statementBytes: 100 * 1024,
  paramsPerStatement: 100,
  valueBytes: 2 * 1024 * 1024,
  statementsPerBatch: MAX_BATCH_STATEMENTS,
  /**
   * One result: a tablet's for one statement (or one batch), and the rows VTGate gathers from the
   * shards for one statement. A result lives several times over on its way (the engine's rows, the
   * RPC copy, VTGate's rows, the response text), and a PGlite tablet shares its isolate with a WASM
   * heap of tens of MB: 16 MB of values keeps all of that under 128 MB, 100,000 rows bounds the
   * per-row object overhead that small values do not show.
   */
  resultRows: 100_000,
  resultBytes: 16 * 1024 * 1024,
  /** An interactive transaction's timeoutMs when none is given, and its ceiling: it holds its shards' write locks until it ends. */
  transactionMs: 10_000,
  maxTransactionMs: 30_000,
  /** A tablet keeps a transaction this much past its deadline, so that prepare and commit get through. */
  transactionGraceMs: 5_000,
} as const;

const encoder = new TextEncoder();
const MB = 1024 * 1024;

export function checkStatementSize(sql: string): void {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: short text needs no encoding to be measured.
  if (sql.length * 3 <= LIMITS.statementBytes) return;
  const bytes = encoder.encode(sql).length;
  if (bytes > LIMITS.statementBytes) {
    throw new VitessError(
      'LIMIT_EXCEEDED',
      `statement is ${bytes} bytes; the limit is ${LIMITS.statementBytes} bytes (100 KB): bind large values as parameters`,
      { limit: 'statement size' },
    );
  }
}

export function checkBatchLength(n: number): void {
  if (n > MAX_BATCH_STATEMENTS) {
    throw new VitessError('LIMIT_EXCEEDED', `batch has ${n} statements; the limit is ${MAX_BATCH_STATEMENTS}`, { limit: 'statements per batch' });
  }
}

export function checkValueSize(bytes: number, index: number): void {
  if (bytes > LIMITS.valueBytes) {
    throw new VitessError('LIMIT_EXCEEDED', `parameter $${index + 1} is ${bytes} bytes; the limit is ${LIMITS.valueBytes} bytes (2 MB) per value`, {
      limit: 'value size',
    });
  }
}

/** About what a value takes: text by its length, bytea by its bytes, JSON by its text, anything else 8. */
function approxBytes(v: SqlValue): number {
  if (v === null || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return v.length;
  if (v instanceof Uint8Array) return v.byteLength;
  if (typeof v === 'object' && !(v instanceof Date)) return JSON.stringify(v).length;
  return 8;
}

/**
 * Counts the rows and approximate bytes of one result as its parts arrive (a batch's statements,
 * the shards' answers); past `LIMITS.resultRows` or `LIMITS.resultBytes` it throws LIMIT_EXCEEDED,
 * so that no part of an oversized result is returned.
 */
export class ResultBudget {
  private rows = 0;
  private bytes = 0;

  /** `what` names the result in the error ("the result", "the rows gathered from the shards"). */
  constructor(private readonly what = 'the result') {}

  add<R extends { rows: Row[] }>(result: R): R {
    this.rows += result.rows.length;
    if (this.rows > LIMITS.resultRows) {
      throw new VitessError(
        'LIMIT_EXCEEDED',
        `${this.what} has more than ${LIMITS.resultRows} rows, the limit on one result: add a LIMIT, narrow the WHERE, or page by key`,
        { limit: 'result rows' },
      );
    }
    for (const row of result.rows) {
      for (const v of Object.values(row)) this.bytes += approxBytes(v);
      if (this.bytes > LIMITS.resultBytes) {
        throw new VitessError(
          'LIMIT_EXCEEDED',
          `${this.what} holds more than ${LIMITS.resultBytes} bytes (${LIMITS.resultBytes / MB} MB), the limit on one result: select fewer or narrower columns or rows, or page by key`,
          { limit: 'result bytes' },
        );
      }
    }
    return result;
  }
}

/**
 * An interactive transaction's timeout: the default when none is given; a larger one than `max`
 * is clamped, not refused (a client cannot know the ceiling); anything but a positive number is INVALID.
 */
export function transactionTimeout(ms: unknown, max: number = LIMITS.maxTransactionMs): number {
  if (ms === undefined) return LIMITS.transactionMs;
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms <= 0) {
    throw new VitessError(
      'INVALID',
      `timeoutMs must be a positive number of milliseconds, not ${typeof ms === 'number' ? ms : `a value of type ${typeof ms}`}`,
    );
  }
  return Math.min(ms, max);
}

/** Transaction control belongs to the engine, never to statement text. */
export function refuseTransactionControl(sql: string): void {
  const m = /^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|SAVEPOINT|RELEASE|END|ABORT)\b/i.exec(sql);
  if (m) {
    throw new VitessError('UNSUPPORTED', `${m[1]!.toUpperCase()} is not accepted as a statement; use transaction() or batch(…, { atomic: true })`, {
      construct: m[1]!.toUpperCase(),
    });
  }
}

/** Tables that belong to the engine or the platform (SQLite, DO storage, Miniflare's `__miniflare_do_name`). */
export const isInternalTable = (name: string): boolean => /^(_vt_|sqlite_|_cf_|__)/.test(name);

/** User DDL may not create or change them: they would go unreplicated, or break the engine. */
export function checkTableName(name: string): void {
  if (isInternalTable(name)) {
    throw new VitessError('INVALID', `table name "${name}" is reserved (names starting with _vt_, __, _cf_ or sqlite_ belong to the engine)`, { table: name });
  }
}
