// Change capture on SQLite engines: AFTER triggers write every row change of a user table into
// _vt_capture, in the same transaction as the write, as the change's JSON text in the log's own
// wire encoding (changelog/codec.ts); the engine drains that table at its commit boundary and
// hands the changes to the capture sink. For column types SQL can put in the wire encoding
// exactly, the text goes to the log as it is (no decode and encode again in JS); the others
// (bytes, numeric, timestamps) are captured raw and converted in JS.
import { decodeChanges as decodeWire } from '../changelog/codec.js';
import { VitessError } from '../rpc/errors.js';
import type { Change, RowChange } from '../rpc/changes.js';
import type { Row } from '../rpc/results.js';
import { fromWire, type SqlType } from '../rpc/values.js';
import { quoteIdent } from './dialect/sql-text.js';
import { quoteString } from './dialect/sqlite-render.js';
import { typeFromSqliteDecl } from './dialect/types.js';
import { decodeValue } from './sqlite-codec.js';

export const CAPTURE_TABLE = '_vt_capture';

// No AUTOINCREMENT: the table is empty between units, and AUTOINCREMENT costs a write to sqlite_sequence per change.
export const SETUP_SQL = `CREATE TABLE IF NOT EXISTS ${CAPTURE_TABLE} (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, change TEXT NOT NULL)`;

export interface ColumnInfo {
  name: string;
  type: SqlType;
  /** 1-based position in the primary key, 0 when not part of it. */
  pk: number;
}

export const COLUMNS_SQL = 'SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid';
export const TABLES_SQL = `SELECT name FROM sqlite_master WHERE type = 'table'`;
/** Takes every captured change out in one statement (RETURNING gives no order: decodeChanges sorts by seq). */
export const DRAIN_SQL = `DELETE FROM ${CAPTURE_TABLE} RETURNING seq, tbl, change`;
export const RECORD_DDL_SQL = `INSERT INTO ${CAPTURE_TABLE} (tbl, change) VALUES ('', json_object('ddl', ?1))`;

export function columnsFromRows(rows: unknown[][]): ColumnInfo[] {
  return rows.map(([name, type, pk]) => ({ name: String(name), type: typeFromSqliteDecl(String(type)), pk: Number(pk) }));
}

/** Types captured raw (SQL cannot write their wire form) and converted in JS by `decodeValue`. */
const RAW_TYPES: ReadonlySet<SqlType> = new Set(['bytea', 'numeric', 'timestamp', 'timestamptz']);
const MAX_SAFE = '9007199254740991';

/** One column's value as SQL that yields its wire encoding (or, for RAW_TYPES, the raw value; bytes as hex). */
function value(c: ColumnInfo, ref: 'NEW' | 'OLD'): string {
  const v = `${ref}.${quoteIdent(c.name)}`;
  switch (c.type) {
    case 'int2': case 'int4': case 'int8':
      // Beyond 2^53 a JSON number would lose digits: tagged, as the wire encoding has it.
      return `CASE WHEN typeof(${v}) = 'integer' AND (${v} > ${MAX_SAFE} OR ${v} < -${MAX_SAFE}) THEN json_object('$int8', CAST(${v} AS TEXT)) ELSE ${v} END`;
    case 'bool': return `CASE WHEN ${v} IS NULL THEN NULL WHEN ${v} THEN json('true') ELSE json('false') END`;
    case 'json': case 'jsonb': return `CASE WHEN ${v} IS NULL THEN NULL ELSE json_object('$json', json(${v})) END`;
    case 'bytea': return `CASE WHEN ${v} IS NULL THEN NULL ELSE hex(${v}) END`; // hex(NULL) is ''
    default: return v;
  }
}

function image(columns: ColumnInfo[], ref: 'NEW' | 'OLD'): string {
  return `json_object(${columns.map((c) => `${quoteString(c.name)}, ${value(c, ref)}`).join(', ')})`;
}

const keyColumns = (columns: ColumnInfo[]): ColumnInfo[] => columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);

/** Statements (re)installing the capture triggers of `table`; refuses a table without a primary key. */
export function triggerSql(table: string, columns: ColumnInfo[]): string[] {
  if (!columns.some((c) => c.pk > 0)) {
    throw new VitessError('INVALID', `table "${table}" has no primary key; a table needs one to be replicated`, { table });
  }
  const name = (op: string) => quoteIdent(`_vt_cap_${table}_${op}`);
  const t = quoteIdent(table);
  const tbl = quoteString(table);
  const keys = keyColumns(columns);
  const change = (op: string, key: 'NEW' | 'OLD', row?: 'NEW') =>
    `INSERT INTO ${CAPTURE_TABLE} (tbl, change) VALUES (${tbl}, json_object('table', ${tbl}, 'op', '${op}', 'key', ${image(keys, key)}${row ? `, 'row', ${image(columns, row)}` : ''}))`;
  return [
    ...['ins', 'upd', 'del'].map((op) => `DROP TRIGGER IF EXISTS ${name(op)}`),
    `CREATE TRIGGER ${name('ins')} AFTER INSERT ON ${t} BEGIN ${change('insert', 'NEW', 'NEW')}; END`,
    `CREATE TRIGGER ${name('upd')} AFTER UPDATE ON ${t} BEGIN ${change('update', 'OLD', 'NEW')}; END`,
    `CREATE TRIGGER ${name('del')} AFTER DELETE ON ${t} BEGIN ${change('delete', 'OLD')}; END`,
  ];
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A captured image of a table with RAW_TYPES columns: those converted by type, the rest from the wire encoding. */
function decodeRawImage(image: Record<string, unknown>, columns: ColumnInfo[]): Row {
  const row: Row = {};
  for (const [name, v] of Object.entries(image)) {
    const type = columns.find((c) => c.name === name)?.type ?? 'unknown';
    row[name] = !RAW_TYPES.has(type) ? fromWire(v) : type === 'bytea' && typeof v === 'string' ? hexToBytes(v) : decodeValue(type, v);
  }
  return row;
}

export const primaryKeyOf = (columns: ColumnInfo[]): string[] => keyColumns(columns).map((c) => c.name);

const hasRaw = (columns: ColumnInfo[]): boolean => columns.some((c) => RAW_TYPES.has(c.type));

/** Drained _vt_capture rows (seq, tbl, change) → engine-neutral changes, in order. */
export function decodeChanges(rows: unknown[][], columnsOf: (table: string) => ColumnInfo[]): Change[] {
  const sorted = rows.length > 1 ? [...rows].sort((a, b) => Number(a[0]) - Number(b[0])) : rows;
  const text = `[${sorted.map((r) => String(r[2])).join(',')}]`;
  // The usual case: the captured text is the wire encoding already, and the log keeps it as it is.
  if (!sorted.some((r) => r[1] !== '' && hasRaw(columnsOf(String(r[1]))))) return decodeWire(text);
  return (JSON.parse(text) as Record<string, unknown>[]).map((c): Change => {
    if (typeof c.ddl === 'string') return { ddl: c.ddl };
    const table = String(c.table);
    const columns = columnsOf(table);
    const op = c.op as RowChange['op'];
    const key = decodeRawImage(c.key as Record<string, unknown>, columns);
    return c.row ? { table, op, key, row: decodeRawImage(c.row as Record<string, unknown>, columns) } : { table, op, key };
  });
}
