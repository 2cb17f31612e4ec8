// SQL expressions that turn stored SQLite values into their JSON wire encoding (rpc/values.ts:
// toWire, fromWire) inside SQLite itself, so that rows leave the database as JSON text without
// each value passing through JS: the capture triggers' change images and snapshot pages.
import type { Field, SqlType } from '../rpc/values.js';
import { quoteIdent } from './dialect/sql-text.js';

const MAX_SAFE = '9007199254740991';
const MAX_DOUBLE = '1.7976931348623157e308';

/**
 * A REAL as JSON that reads back as the same double: SQLite's own JSON keeps only 15 digits,
 * 17 always round-trip. Infinities are written by `inf` (JSON has no literal for them).
 */
function real(v: string, finite: (json: string) => string, inf: (sign: '' | '-') => string): string {
  return `CASE WHEN ${v} > ${MAX_DOUBLE} THEN ${inf('')} WHEN ${v} < -${MAX_DOUBLE} THEN ${inf('-')} ELSE ${finite(`json(printf('%!.17g', ${v}))`)} END`;
}

/** The value of expression `v` (a column of type `type`) as SQL that yields its wire encoding. */
export function wireValueSql(type: SqlType, v: string): string {
  const float = () => `CASE WHEN typeof(${v}) = 'real' THEN ${real(v, (j) => j, (sign) => `json_object('$float', '${sign}Infinity')`)} ELSE ${v} END`;
  switch (type) {
    case 'int2': case 'int4': case 'int8':
      // Beyond 2^53 a JSON number would lose digits: tagged, as the wire encoding has it.
      return `CASE WHEN typeof(${v}) = 'integer' AND (${v} > ${MAX_SAFE} OR ${v} < -${MAX_SAFE}) THEN json_object('$int8', CAST(${v} AS TEXT)) ELSE ${v} END`;
    case 'float4': case 'float8': case 'unknown': return float();
    // Numeric values are decimal text; a REAL goes as a number for the reader to print the shortest way.
    case 'numeric': return `CASE typeof(${v}) WHEN 'null' THEN NULL WHEN 'real' THEN ${real(v, (j) => `json_object('$numeric', ${j})`, (sign) => `'${sign}Infinity'`)} ELSE CAST(${v} AS TEXT) END`;
    case 'bool': return `CASE WHEN ${v} IS NULL THEN NULL WHEN ${v} THEN json('true') ELSE json('false') END`;
    case 'json': case 'jsonb': return `CASE WHEN ${v} IS NULL THEN NULL ELSE json_object('$json', json(${v})) END`;
    case 'bytea': return `CASE WHEN ${v} IS NULL THEN NULL ELSE json_object('$hex', hex(${v})) END`;
    case 'timestamp': case 'timestamptz': return `CASE WHEN ${v} IS NULL THEN NULL ELSE json_object('$ts', ${v}) END`;
    default: return v;
  }
}

/**
 * One snapshot page in one statement: the first `limit` rows of `table` in primary-key order
 * (after the key bound to ?1…?k when `after`), as `[json, count]` — a JSON array of value arrays
 * in `columns`' order. The subquery walks the primary-key index and feeds the aggregate in that
 * order (a LIMIT keeps SQLite from flattening it into the aggregate).
 */
export function pageJsonSql(table: string, columns: Field[], primaryKey: string[], after: boolean, limit: number): string {
  const keys = primaryKey.map(quoteIdent).join(', ');
  const where = after ? `WHERE (${keys}) > (${primaryKey.map((_, i) => `?${i + 1}`).join(', ')})` : '';
  const values = columns.map((c) => wireValueSql(c.type, `p.${quoteIdent(c.name)}`)).join(', ');
  return `SELECT json_group_array(json_array(${values})), count(*) FROM (SELECT * FROM ${quoteIdent(table)} ${where} ORDER BY ${keys} LIMIT ${limit}) AS p`;
}
