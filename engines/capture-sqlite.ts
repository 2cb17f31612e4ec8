// Change capture on SQLite engines: AFTER triggers copy every row change of a user table into
// _vt_changes, in the same transaction as the write; the engine drains that table at its
// commit boundary and hands the decoded changes to the capture sink.
import { VitessError } from '../rpc/errors.js';
import type { Change } from '../rpc/changes.js';
import type { Row } from '../rpc/results.js';
import type { SqlType } from '../rpc/values.js';
import { quoteIdent, quoteString } from './dialect/sqlite-render.js';
import { typeFromSqliteDecl } from './dialect/types.js';
import { decodeValue } from './sqlite-codec.js';

export const CHANGES_TABLE = '_vt_changes';

export const SETUP_SQL = `CREATE TABLE IF NOT EXISTS ${CHANGES_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT, op TEXT, row TEXT, old TEXT, ddl TEXT)`;


export interface ColumnInfo {
  name: string;
  type: SqlType;
  /** 1-based position in the primary key, 0 when not part of it. */
  pk: number;
}

export const COLUMNS_SQL = 'SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid';
export const TABLES_SQL = `SELECT name FROM sqlite_master WHERE type = 'table'`;
/** Takes every captured change out in one statement (RETURNING gives no order: decodeChanges sorts by seq). */
export const DRAIN_SQL = `DELETE FROM ${CHANGES_TABLE} RETURNING seq, tbl, op, row, old, ddl`;
export const RECORD_DDL_SQL = `INSERT INTO ${CHANGES_TABLE} (op, ddl) VALUES ('ddl', ?1)`;

export function columnsFromRows(rows: unknown[][]): ColumnInfo[] {
  return rows.map(([name, type, pk]) => ({ name: String(name), type: typeFromSqliteDecl(String(type)), pk: Number(pk) }));
}

/** A JSON image of NEW/OLD that loses nothing: int8 as text, bytes as hex. */
function image(columns: ColumnInfo[], ref: 'NEW' | 'OLD'): string {
  const parts = columns.map((c) => {
    const v = `${ref}.${quoteIdent(c.name)}`;
    const enc = c.type === 'int8' ? `CAST(${v} AS TEXT)` : c.type === 'bytea' ? `CASE WHEN ${v} IS NULL THEN NULL ELSE hex(${v}) END` : v; // hex(NULL) is ''
    return `${quoteString(c.name)}, ${enc}`;
  });
  return `json_object(${parts.join(', ')})`;
}

/** Statements (re)installing the capture triggers of `table`; refuses a table without a primary key. */
export function triggerSql(table: string, columns: ColumnInfo[]): string[] {
  if (!columns.some((c) => c.pk > 0)) {
    throw new VitessError('INVALID', `table "${table}" has no primary key; a table needs one to be replicated`, { table });
  }
  const name = (op: string) => quoteIdent(`_vt_cap_${table}_${op}`);
  const t = quoteIdent(table);
  const tbl = quoteString(table);
  const keyCols = columns.filter((c) => c.pk > 0);
  return [
    ...['ins', 'upd', 'del'].map((op) => `DROP TRIGGER IF EXISTS ${name(op)}`),
    `CREATE TRIGGER ${name('ins')} AFTER INSERT ON ${t} BEGIN INSERT INTO ${CHANGES_TABLE} (tbl, op, row) VALUES (${tbl}, 'insert', ${image(columns, 'NEW')}); END`,
    `CREATE TRIGGER ${name('upd')} AFTER UPDATE ON ${t} BEGIN INSERT INTO ${CHANGES_TABLE} (tbl, op, row, old) VALUES (${tbl}, 'update', ${image(columns, 'NEW')}, ${image(keyCols, 'OLD')}); END`,
    `CREATE TRIGGER ${name('del')} AFTER DELETE ON ${t} BEGIN INSERT INTO ${CHANGES_TABLE} (tbl, op, old) VALUES (${tbl}, 'delete', ${image(keyCols, 'OLD')}); END`,
  ];
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function decodeImage(json: string, columns: ColumnInfo[]): Row {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const row: Row = {};
  for (const [name, v] of Object.entries(raw)) {
    const type = columns.find((c) => c.name === name)?.type ?? 'unknown';
    row[name] = type === 'bytea' && typeof v === 'string' ? hexToBytes(v) : decodeValue(type, v);
  }
  return row;
}

export const primaryKeyOf = (columns: ColumnInfo[]): string[] =>
  columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);

const pick = (row: Row, columns: ColumnInfo[]): Row =>
  Object.fromEntries(columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => [c.name, row[c.name] ?? null]));

/** Drained _vt_changes rows → engine-neutral changes, in order. */
export function decodeChanges(rows: unknown[][], columnsOf: (table: string) => ColumnInfo[]): Change[] {
  return [...rows].sort((a, b) => Number(a[0]) - Number(b[0])).map(([, tbl, op, row, old, ddl]): Change => {
    if (op === 'ddl') return { ddl: String(ddl) };
    const table = String(tbl);
    const columns = columnsOf(table);
    const newRow = row === null || row === undefined ? undefined : decodeImage(String(row), columns);
    const oldKey = old === null || old === undefined ? undefined : decodeImage(String(old), columns);
    if (op === 'insert') return { table, op, key: pick(newRow!, columns), row: newRow! };
    if (op === 'update') return { table, op, key: pick(oldKey!, columns), row: newRow! };
    return { table, op: 'delete', key: pick(oldKey!, columns) };
  });
}
