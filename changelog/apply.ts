// The applier shared by replica DOs, embedded replicas and PGlite recovery: log records become
// Postgres-dialect statements (so any engine can apply them), run in LSN order, idempotently.
import type { Executor, StorageEngine } from '../engines/engine.js';
import { LIMITS } from '../engines/limits.js';
import type { Change, LogRecord, RowChange } from '../rpc/changes.js';
import { VitessError } from '../rpc/errors.js';
import type { Row, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import { insertValues, quoteIdent, rowsPerStatement, upsertClause } from '../engines/dialect/sql-text.js';

/** The statements that make one change happen, by primary key: upsert or delete. */
export function changeStatements(c: Change): Statement[] {
  if ('ddl' in c) return [{ sql: c.ddl }];
  const keyCols = Object.keys(c.key);
  const where = keyCols.map((k, i) => `${quoteIdent(k)} = $${i + 1}`).join(' AND ');
  const del = (): Statement => ({ sql: `DELETE FROM ${quoteIdent(c.table)} WHERE ${where}`, params: Object.values(c.key) });
  if (c.op === 'delete') return [del()];
  const row = boundRow(c);
  const cols = Object.keys(row);
  const upsert: Statement = insertValues(c.table, cols, [Object.values(row)], upsertClause(keyCols, cols));
  // An update that moved the key removes the row under its old key first.
  return keyMoved(c) ? [del(), upsert] : [upsert];
}

/**
 * A change's row as it is bound: its JSON columns as JSON text. Bound decoded, a JSON string
 * would be taken for JSON text (and refused), `true` stored as 1 on SQLite, a JSON null as NULL.
 */
export function boundRow(c: RowChange): Row {
  const row = c.row!;
  if (!c.json?.length) return row;
  const out = { ...row };
  for (const k of c.json) if (k in out) out[k] = JSON.stringify(out[k] ?? null);
  return out;
}

/** An update whose row has another key than the one it changed. */
const keyMoved = (c: Change): boolean => !('ddl' in c) && c.op === 'update' && Object.keys(c.key).some((k) => !sameValue(c.key[k], c.row![k]));

/** An upsert waiting to be joined by the next changes of the same table and columns. */
interface UpsertRun {
  table: string;
  keyCols: string[];
  cols: string[];
  rows: SqlValue[][];
  keys: Set<string>;
}

const runSignature = (table: string, keyCols: string[], cols: string[]) => JSON.stringify([table, keyCols, cols]);

/** A key's identity within a run (bigint, Date and bytes included). */
const keyIdentity = (values: SqlValue[]): string =>
  values
    .map((v) => (v instanceof Uint8Array ? `b${Array.from(v).join(',')}` : v instanceof Date ? `d${v.getTime()}` : `${typeof v}:${String(v)}`))
    .join('\u0000');

/**
 * The statements that make `changes` happen in order, consecutive upserts of one table with the
 * same columns joined into multi-row upserts under the bound-parameter limit: a replica applying
 * a run of single-row writes pays one statement per ~100 values instead of one per row. A key
 * seen twice starts a new statement (Postgres refuses to upsert one row twice in a statement),
 * and a delete, a moved key or DDL keeps its place between runs.
 */
export function groupedStatements(changes: Change[]): Statement[] {
  const out: Statement[] = [];
  let run: UpsertRun | undefined;
  let signature = '';
  const flush = () => {
    if (!run) return;
    const { table, keyCols, cols, rows } = run;
    out.push(insertValues(table, cols, rows, upsertClause(keyCols, cols)));
    run = undefined;
  };
  for (const c of changes) {
    if ('ddl' in c || c.op === 'delete' || keyMoved(c)) {
      flush();
      out.push(...changeStatements(c));
      continue;
    }
    const row = boundRow(c);
    const keyCols = Object.keys(c.key);
    const cols = Object.keys(row);
    const key = keyIdentity(keyCols.map((k) => row[k] ?? null));
    const sig = runSignature(c.table, keyCols, cols);
    const perStatement = rowsPerStatement(cols.length);
    if (!run || sig !== signature || run.keys.has(key) || run.rows.length >= perStatement) {
      flush();
      run = { table: c.table, keyCols, cols, rows: [], keys: new Set() };
      signature = sig;
    }
    run.rows.push(cols.map((k) => row[k] ?? null));
    run.keys.add(key);
  }
  flush();
  return out;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

/** Makes every change of one record happen, in order, inside the caller's transaction. */
export async function applyChanges(tx: Executor, changes: Change[]): Promise<void> {
  for (const c of changes) for (const s of changeStatements(c)) await tx.query(s.sql, s.params);
}

const APPLIED_SETUP = `CREATE TABLE IF NOT EXISTS _vt_applied (id INT PRIMARY KEY, lsn BIGINT NOT NULL)`;

/** The LSN applied so far (0 for a fresh database). */
export async function appliedLsn(db: StorageEngine): Promise<number> {
  await db.query(APPLIED_SETUP);
  const r = await db.query('SELECT lsn FROM _vt_applied WHERE id = 1');
  return Number(r.rows[0]?.lsn ?? 0);
}

const appliedStatement = (lsn: number): Statement => ({
  sql: 'INSERT INTO _vt_applied (id, lsn) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET lsn = EXCLUDED.lsn',
  params: [lsn],
});

/** Records `lsn` as applied; call it inside the transaction that applied it. */
export async function setAppliedLsn(tx: Executor, lsn: number): Promise<void> {
  const s = appliedStatement(lsn);
  await tx.query(s.sql, s.params);
}

/**
 * Applies contiguous records (in LSN order) and records the last one's LSN, in one transaction.
 * Sent as one atomic batch when it fits one: on DO SQLite that runs synchronously, several
 * times faster than an interactive transaction awaiting each statement.
 */
export async function applyGroup(db: StorageEngine, records: LogRecord[]): Promise<void> {
  const last = records.at(-1);
  if (!last) return;
  const statements = groupedStatements(records.flatMap((r) => r.changes));
  statements.push(appliedStatement(last.lsn));
  if (statements.length <= LIMITS.statementsPerBatch) {
    await db.batch(statements, { atomic: true });
    return;
  }
  await db.transaction(async (tx) => {
    for (const s of statements) await tx.query(s.sql, s.params);
  });
}

/**
 * Applies records in LSN order, each in one transaction together with the applied LSN, so a
 * record takes effect exactly once however often it is delivered. A gap is refused.
 */
export async function applyRecords(db: StorageEngine, records: LogRecord[]): Promise<number> {
  let applied = await appliedLsn(db);
  for (const r of [...records].sort((a, b) => a.lsn - b.lsn)) {
    if (r.lsn <= applied) continue;
    if (r.lsn !== applied + 1) throw new VitessError('INVALID', `log gap: applied LSN ${applied}, next record is ${r.lsn}`);
    await db.transaction(async (tx) => {
      await applyChanges(tx, r.changes);
      await setAppliedLsn(tx, r.lsn);
    });
    applied = r.lsn;
  }
  return applied;
}
