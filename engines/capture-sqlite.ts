// Change capture on SQLite engines: AFTER triggers write every row change of a user table, in
// the same transaction as the write, as the change's JSON text in the log's own wire encoding
// (rpc/change-codec.ts), so that text is never decoded and encoded again on the way to the log.
// On DO SQLite the triggers write into the log's change table itself (capture in place); libsql
// drains its own capture table at each commit boundary and hands the changes to the sink.
import { decodeChanges as decodeWire } from '../rpc/change-codec.js';
import { VitessError } from '../rpc/errors.js';
import type { Change } from '../rpc/changes.js';
import type { SqlType } from '../rpc/values.js';
import { quoteIdent } from './dialect/sql-text.js';
import { quoteString } from './dialect/sqlite-render.js';
import { typeFromSqliteDecl } from './dialect/types.js';
import { wireValueSql } from './sqlite-wire.js';

export const CAPTURE_TABLE = '_vt_capture';

// No AUTOINCREMENT: the table is empty between units, and AUTOINCREMENT costs a write to sqlite_sequence per change.
export const SETUP_SQL = `CREATE TABLE IF NOT EXISTS ${CAPTURE_TABLE} (seq INTEGER PRIMARY KEY, change TEXT NOT NULL)`;

export interface ColumnInfo {
  name: string;
  type: SqlType;
  /** 1-based position in the primary key, 0 when not part of it. */
  pk: number;
}

export const COLUMNS_SQL = 'SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid';
export const TABLES_SQL = `SELECT name FROM sqlite_master WHERE type = 'table'`;
/** Takes every captured change out in one statement (RETURNING gives no order: decodeChanges sorts by seq). */
export const DRAIN_SQL = `DELETE FROM ${CAPTURE_TABLE} RETURNING seq, change`;
/** Records a DDL statement (?1) among the captured changes of `into`. */
export const recordDdlSql = (into: string): string => `INSERT INTO ${into} (change) VALUES (json_object('ddl', ?1))`;

export function columnsFromRows(rows: unknown[][]): ColumnInfo[] {
  return rows.map(([name, type, pk]) => ({ name: String(name), type: typeFromSqliteDecl(String(type)), pk: Number(pk) }));
}

function image(columns: ColumnInfo[], ref: 'NEW' | 'OLD'): string {
  return `json_object(${columns.map((c) => `${quoteString(c.name)}, ${wireValueSql(c.type, `${ref}.${quoteIdent(c.name)}`)}`).join(', ')})`;
}

const keyColumns = (columns: ColumnInfo[]): ColumnInfo[] => columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);

/**
 * Statements (re)installing the capture triggers of `table`, writing into `into` and then running
 * `after` (if given) for each row; refuses a table without a primary key.
 */
export function triggerSql(table: string, columns: ColumnInfo[], into: string, after?: string): string[] {
  if (!columns.some((c) => c.pk > 0)) {
    throw new VitessError('INVALID', `table "${table}" has no primary key; a table needs one to be replicated`, { table });
  }
  const name = (op: string) => quoteIdent(`_vt_cap_${table}_${op}`);
  const t = quoteIdent(table);
  const tbl = quoteString(table);
  const keys = keyColumns(columns);
  const change = (op: string, key: 'NEW' | 'OLD', row?: 'NEW') =>
    `INSERT INTO ${into} (change) VALUES (json_object('table', ${tbl}, 'op', '${op}', 'key', ${image(keys, key)}${row ? `, 'row', ${image(columns, row)}` : ''}))${after ? `; ${after}` : ''}`;
  return [
    ...['ins', 'upd', 'del'].map((op) => `DROP TRIGGER IF EXISTS ${name(op)}`),
    `CREATE TRIGGER ${name('ins')} AFTER INSERT ON ${t} BEGIN ${change('insert', 'NEW', 'NEW')}; END`,
    `CREATE TRIGGER ${name('upd')} AFTER UPDATE ON ${t} BEGIN ${change('update', 'OLD', 'NEW')}; END`,
    `CREATE TRIGGER ${name('del')} AFTER DELETE ON ${t} BEGIN ${change('delete', 'OLD')}; END`,
  ];
}

export const primaryKeyOf = (columns: ColumnInfo[]): string[] => keyColumns(columns).map((c) => c.name);

/** Captured rows (seq, change text) → engine-neutral changes, in order. */
export function decodeChanges(rows: unknown[][]): Change[] {
  const sorted = rows.length > 1 ? [...rows].sort((a, b) => Number(a[0]) - Number(b[0])) : rows;
  return decodeWire(`[${sorted.map((r) => String(r[1])).join(',')}]`);
}
