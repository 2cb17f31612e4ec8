import { VitessError } from '../rpc/errors.js';

/** Cloudflare's documented per-statement limits (DESIGN.md), applied on every engine alike. */
export const LIMITS = {
  statementBytes: 100 * 1024,
  paramsPerStatement: 100,
  valueBytes: 2 * 1024 * 1024,
  statementsPerBatch: 1000,
} as const;

const encoder = new TextEncoder();

export function checkStatementSize(sql: string): void {
  const bytes = encoder.encode(sql).length;
  if (bytes > LIMITS.statementBytes) {
    throw new VitessError('LIMIT_EXCEEDED', `statement is ${bytes} bytes; the limit is ${LIMITS.statementBytes} bytes (100 KB): bind large values as parameters`, { limit: 'statement size' });
  }
}

export function checkBatchSize(n: number): void {
  if (n > LIMITS.statementsPerBatch) {
    throw new VitessError('LIMIT_EXCEEDED', `batch has ${n} statements; the limit is ${LIMITS.statementsPerBatch}`, { limit: 'statements per batch' });
  }
}

export function checkValueSize(bytes: number, index: number): void {
  if (bytes > LIMITS.valueBytes) {
    throw new VitessError('LIMIT_EXCEEDED', `parameter $${index + 1} is ${bytes} bytes; the limit is ${LIMITS.valueBytes} bytes (2 MB) per value`, { limit: 'value size' });
  }
}

/** Transaction control belongs to the engine, never to statement text. */
export function refuseTransactionControl(sql: string): void {
  const m = /^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|SAVEPOINT|RELEASE|END|ABORT)\b/i.exec(sql);
  if (m) {
    throw new VitessError('UNSUPPORTED', `${m[1]!.toUpperCase()} is not accepted as a statement; use transaction() or batch(…, { atomic: true })`, { construct: m[1]!.toUpperCase() });
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
