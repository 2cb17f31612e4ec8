import { VitessError } from '../rpc/errors.js';
import type { ResultSet, Row } from '../rpc/results.js';
import { canonicalNumeric, isJsonObject, isNumericText, normalizeInt, numericAtScale, type Field, type SqlType, type SqlValue } from '../rpc/values.js';
import { decText, divDec, toDec } from '../rpc/decimal.js';
import { toSqlite, type CatalogColumn, type NumericForm, type SqliteStatement } from './dialect/sqlite.js';
import { typeFromSqliteDecl } from './dialect/types.js';
import { checkStatementSize, checkValueSize, LIMITS, refuseTransactionControl } from './limits.js';

/** How a SQLite driver takes integers and bytes: libsql has bigint; DO SQLite numbers only. */
export type SqliteFlavor = 'libsql' | 'do';

const encoder = new TextEncoder();
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** One parameter as the driver takes it (`index` names it in errors). */
export function bindOne(v: SqlValue | undefined, flavor: SqliteFlavor, index: number): unknown {
  if (v === undefined) throw new VitessError('INVALID', `no value bound for parameter $${index + 1}`);
  if (v === null) return v;
  // libsql binds every JS number as a REAL; whole numbers go as integers, as Postgres would take them.
  if (typeof v === 'number') return flavor === 'libsql' && Number.isSafeInteger(v) ? BigInt(v) : v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    // A UTF-16 unit is at most 3 bytes of UTF-8: only a long string needs encoding to measure.
    if (v.length * 3 > LIMITS.valueBytes) checkValueSize(encoder.encode(v).length, index);
    return v;
  }
  // Out of the safe range DO SQLite would round a number; as text, INTEGER affinity stores it exactly.
  if (typeof v === 'bigint') return flavor === 'libsql' || (v <= MAX_SAFE && v >= -MAX_SAFE) ? (flavor === 'libsql' ? v : Number(v)) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) {
    checkValueSize(v.byteLength, index);
    return flavor === 'do' ? v.slice().buffer : v;
  }
  if (isJsonObject(v)) return JSON.stringify(v);
  throw new VitessError('INVALID', `parameter $${index + 1} has an unsupported type (${typeof v})`);
}

/** Arguments for `?1…?n`, checked like Postgres checks a bind: too few or too many is an error. */
export function bindParams(stmt: SqliteStatement, params: SqlValue[], flavor: SqliteFlavor): unknown[] {
  if (params.length > stmt.paramCount) {
    throw new VitessError('INVALID', `${params.length} parameters given, but the statement uses ${stmt.paramCount}`);
  }
  return Array.from({ length: stmt.paramCount }, (_, i) => {
    const v = params[i];
    const scale = stmt.paramScales?.[i];
    const rounded =
      scale !== undefined && ((typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && isNumericText(v)))
        ? numericAtScale(String(v), scale)
        : v;
    return bindOne(rounded, flavor, i);
  });
}

function guessType(values: unknown[]): SqlType {
  const v = values.find((x) => x !== null && x !== undefined);
  if (v === undefined) return 'text';
  if (typeof v === 'bigint') return normalizeInt(v) === v ? 'int8' : Math.abs(Number(v)) > 2147483647 ? 'int8' : 'int4';
  if (typeof v === 'number') return Number.isInteger(v) ? (Math.abs(v) > 2147483647 ? 'int8' : 'int4') : 'float8';
  if (v instanceof ArrayBuffer || v instanceof Uint8Array) return 'bytea';
  return 'text';
}

function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return encoder.encode(String(v));
}

function toInt(v: unknown): number | bigint {
  if (typeof v === 'bigint') return normalizeInt(v);
  if (typeof v === 'string') return normalizeInt(BigInt(v));
  return v as number;
}

/** A numeric output as Postgres prints it: at its scale, as a Postgres division, else canonical (see docs/dialect.md). */
function decodeNumeric(v: unknown, form: NumericForm | undefined): string {
  if (form?.ratio) {
    const [a, b] = String(v).split(':');
    const [as, bs] = form.ratio;
    const operand = (text: string | undefined, scale: number | undefined) =>
      toDec(scale === undefined ? canonicalNumeric(text ?? '') : numericAtScale(text ?? '', scale));
    const [x, y] = [operand(a, as), operand(b, bs)];
    if (!x || !y) throw new VitessError('INTERNAL', `cannot read the quotient ${String(v)}`);
    if (y.units === 0n) throw new VitessError('INVALID', 'division by zero', { construct: '/' });
    return decText(divDec(x, y));
  }
  return form?.scale === undefined ? canonicalNumeric(String(v)) : numericAtScale(String(v), form.scale);
}

/** A stored SQLite value read back as the value Postgres would return for `type`. */
export function decodeValue(type: SqlType, v: unknown, form?: NumericForm): SqlValue {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'bool':
      return Number(v) !== 0;
    case 'int2':
    case 'int4':
    case 'int8':
      return typeof v === 'number' && !Number.isInteger(v) ? v : toInt(v);
    case 'float4':
    case 'float8':
      return Number(v);
    case 'numeric':
      return decodeNumeric(v, form);
    case 'json':
    case 'jsonb':
      return typeof v === 'string' ? JSON.parse(v) : typeof v === 'bigint' ? normalizeInt(v) : (v as number);
    case 'bytea':
      return toBytes(v);
    case 'timestamp':
    case 'timestamptz':
      return new Date(String(v));
    case 'text':
    case 'uuid':
    case 'date':
      return typeof v === 'string' ? v : String(v);
    default:
      if (typeof v === 'bigint') return normalizeInt(v);
      if (v instanceof ArrayBuffer) return new Uint8Array(v);
      return v as SqlValue;
  }
}

/** Rows as objects keyed by column name, with fields typed from the translation or the values. */
export function decodeRows(stmt: SqliteStatement, columns: string[], raw: unknown[][]): { rows: Row[]; fields: Field[] } {
  const fields: Field[] = columns.map((name, i) => {
    const declared = stmt.columnTypes.length === columns.length ? stmt.columnTypes[i]! : 'unknown';
    return { name, type: declared !== 'unknown' ? declared : guessType(raw.map((r) => r[i])) };
  });
  const rows = raw.map((r) => {
    const row: Row = {};
    fields.forEach((f, i) => {
      row[f.name] = decodeValue(f.type, r[i], stmt.numerics?.[i]);
    });
    return row;
  });
  return { rows, fields };
}

/** SQL reading every user table's columns in one go; feed its rows to `catalogFromRows`. */
export const CATALOG_SQL =
  `SELECT m.name AS tbl, p.name AS col, p.type AS type, p."notnull" AS not_null, p.dflt_value AS dflt FROM sqlite_master AS m, pragma_table_info(m.name) AS p ` +
  // DO SQLite refuses to describe its own _cf_ tables ("not authorized").
  `WHERE m.type = 'table' AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY m.name, p.cid`;

/** `NUMERIC(10,2)` has scale 2, `NUMERIC(10)` 0, `NUMERIC` none (each value keeps its own in Postgres). */
function withDeclaredScale(decl: string): { scale?: number } {
  const m = /^\s*(?:NUMERIC|DECIMAL)\s*\(\s*\d+\s*(?:,\s*(\d+)\s*)?\)/i.exec(decl);
  return m ? { scale: Number(m[1] ?? 0) } : {};
}

export function catalogFromRows(rows: unknown[][]): Map<string, CatalogColumn[]> {
  const tables = new Map<string, CatalogColumn[]>();
  for (const [tbl, col, type, notNull, dflt] of rows) {
    const list = tables.get(String(tbl)) ?? [];
    list.push({
      name: String(col),
      type: typeFromSqliteDecl(String(type)),
      ...withDeclaredScale(String(type)),
      ...(Number(notNull) === 1 && { notNull: true }),
      ...(typeof dflt === 'string' && { default: dflt }),
    });
    tables.set(String(tbl), list);
  }
  return tables;
}

export interface PreparedSqlite {
  stmt: SqliteStatement;
  args: unknown[];
}

/**
 * Translations by statement text, per catalog content: parsing dominates a small statement's
 * cost, and point queries and the replicas' upserts repeat the same few texts. Keyed by content,
 * not by the catalog object, because every DDL reloads the catalog, and most leave it as it was
 * (`CREATE TABLE IF NOT EXISTS`, or the same schema built again in a new database).
 */
const translated = new Map<string, Map<string, SqliteStatement>>();
const catalogKeys = new WeakMap<Map<string, CatalogColumn[]>, string>();
const CATALOGS_KEPT = 16;
const TRANSLATIONS_KEPT = 256;

/** The translations made under `catalog`'s content, most recently used last. */
function translationsFor(catalog: Map<string, CatalogColumn[]>): Map<string, SqliteStatement> {
  let key = catalogKeys.get(catalog);
  if (key === undefined) catalogKeys.set(catalog, (key = JSON.stringify([...catalog])));
  let cache = translated.get(key);
  if (cache) translated.delete(key);
  else cache = new Map();
  translated.set(key, cache);
  if (translated.size > CATALOGS_KEPT) translated.delete(translated.keys().next().value!);
  return cache;
}

/** Guards, translation and binding shared by the SQLite engines. */
export function prepareSqlite(sql: string, params: SqlValue[], catalog: Map<string, CatalogColumn[]>, flavor: SqliteFlavor): PreparedSqlite {
  const cache = translationsFor(catalog);
  const key = `${flavor}:${sql}`;
  let stmt = cache.get(key);
  if (!stmt) {
    refuseTransactionControl(sql);
    checkStatementSize(sql);
    stmt = toSqlite(sql, { columns: (t) => catalog.get(t) }, { int8AsText: flavor === 'do', maxParams: LIMITS.paramsPerStatement });
    if (cache.size >= TRANSLATIONS_KEPT) cache.delete(cache.keys().next().value!);
    cache.set(key, stmt);
  }
  return { stmt, args: bindParams(stmt, params, flavor) };
}

export function sqliteResult(stmt: SqliteStatement, columns: string[], raw: unknown[][], changes: number): ResultSet {
  const isDml = stmt.table !== undefined && !stmt.ddl;
  return { ...decodeRows(stmt, columns, raw), affected: isDml ? changes : 0 };
}
