// SQL expressions that turn stored SQLite values into their JSON wire encoding (rpc/values.ts:
// toWire, fromWire) inside SQLite itself, so that rows leave the database as JSON text without
// each value passing through JS: the capture triggers' change images and snapshot pages; and
// back, a snapshot page into a replica's tables (`loadJsonSql`).
import type { Field, SqlType } from '../rpc/values.js';
import { quoteIdent, upsertClause } from './dialect/sql-text.js';
import { storeAs } from './dialect/sqlite-render.js';

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
  const float = () =>
    `CASE WHEN typeof(${v}) = 'real' THEN ${real(
      v,
      (j) => j,
      (sign) => `json_object('$float', '${sign}Infinity')`,
    )} ELSE ${v} END`;
  switch (type) {
    case 'int2':
    case 'int4':
    case 'int8':
      // Beyond 2^53 a JSON number would lose digits: tagged, as the wire encoding has it.
      return `CASE WHEN typeof(${v}) = 'integer' AND (${v} > ${MAX_SAFE} OR ${v} < -${MAX_SAFE}) THEN json_object('$int8', CAST(${v} AS TEXT)) ELSE ${v} END`;
    case 'float4':
    case 'float8':
    case 'unknown':
      return float();
    // Numeric values are decimal text; a REAL goes as a number for the reader to print the shortest way.
    case 'numeric':
      return `CASE typeof(${v}) WHEN 'null' THEN NULL WHEN 'real' THEN ${real(
        v,
        (j) => `json_object('$numeric', ${j})`,
        (sign) => `'${sign}Infinity'`,
      )} ELSE CAST(${v} AS TEXT) END`;
    case 'bool':
      return `CASE WHEN ${v} IS NULL THEN NULL WHEN ${v} THEN json('true') ELSE json('false') END`;
    case 'json':
    case 'jsonb':
      return `CASE WHEN ${v} IS NULL THEN NULL ELSE json_object('$json', json(${v})) END`;
    case 'bytea':
      return `CASE WHEN ${v} IS NULL THEN NULL ELSE json_object('$hex', hex(${v})) END`;
    case 'timestamp':
    case 'timestamptz':
      return `CASE WHEN ${v} IS NULL THEN NULL ELSE json_object('$ts', ${v}) END`;
    default:
      return v;
  }
}

/** Each of the first `limit` rows of `table` in primary-key order (after the key bound to ?1…?k when `after`) as `json_array(…)` SQL over `p`. */
function pageRowsSql(table: string, columns: Field[], primaryKey: string[], after: boolean, limit: number): { row: string; from: string } {
  const keys = primaryKey.map(quoteIdent).join(', ');
  const where = after ? `WHERE (${keys}) > (${primaryKey.map((_, i) => `?${i + 1}`).join(', ')})` : '';
  const values = columns.map((c) => wireValueSql(c.type, `p.${quoteIdent(c.name)}`)).join(', ');
  return { row: `json_array(${values})`, from: `(SELECT * FROM ${quoteIdent(table)} ${where} ORDER BY ${keys} LIMIT ${limit}) AS p` };
}

/**
 * One snapshot page in one statement: the first `limit` rows of `table` in primary-key order
 * (after the key bound to ?1…?k when `after`), as `[json, count]` — a JSON array of value arrays
 * in `columns`' order. The subquery walks the primary-key index and feeds the aggregate in that
 * order (a LIMIT keeps SQLite from flattening it into the aggregate).
 */
export function pageJsonSql(table: string, columns: Field[], primaryKey: string[], after: boolean, limit: number): string {
  const { row, from } = pageRowsSql(table, columns, primaryKey, after, limit);
  return `SELECT json_group_array(${row}), count(*) FROM ${from}`;
}

/** `[characters, rows]` of the JSON text of the page `pageJsonSql` would read: a sample of a page's first rows sizes it. */
export function pageCharsSql(table: string, columns: Field[], primaryKey: string[], after: boolean, limit: number): string {
  const { row, from } = pageRowsSql(table, columns, primaryKey, after, limit);
  return `SELECT coalesce(sum(length(${row})), 0), count(*) FROM ${from}`;
}

/** Per column type, the wire tag its values may carry, and the tagged value (at JSON path `at`) decoded in SQL. */
const TAGGED: Partial<Record<SqlType, { tag: string; decode: (at: string) => string }>> = {
  int2: { tag: '$int8', decode: (at) => `CAST(value->>${at} AS INTEGER)` },
  int4: { tag: '$int8', decode: (at) => `CAST(value->>${at} AS INTEGER)` },
  int8: { tag: '$int8', decode: (at) => `CAST(value->>${at} AS INTEGER)` },
  date: { tag: '$ts', decode: (at) => `value->>${at}` },
  timestamp: { tag: '$ts', decode: (at) => `value->>${at}` },
  timestamptz: { tag: '$ts', decode: (at) => `value->>${at}` },
  bytea: { tag: '$hex', decode: (at) => `unhex(value->>${at})` },
  // As JSON text, a JSON string or null too (`pageValues`).
  json: { tag: '$json', decode: (at) => `value->${at}` },
  jsonb: { tag: '$json', decode: (at) => `value->${at}` },
};
/**
 * Column types whose wire values SQLite stores exactly as a bound parameter: not the floats
 * (float4, float8, numeric, unknown), as SQLite 3.45's text-to-double conversion, JSON's included,
 * is not correctly rounded (24 in 200k random doubles came back one ulp off).
 */
const SQL_DECODABLE: ReadonlySet<SqlType> = new Set(['bool', 'text', 'uuid', ...(Object.keys(TAGGED) as SqlType[])]);
/** A page holding another tag (`$bytea`, `$float`, `$numeric`) is decoded in JS. */
const SQL_TAGS: ReadonlySet<string> = new Set(Object.values(TAGGED).map((t) => t.tag));

/**
 * The object keys starting with `$` in a page's JSON text (the wire's tags, and any such key in a
 * json value), by a scan for `"$`: one after a backslash is a quote inside a string, and a string
 * not followed by `:` is a value. Whatever else a string holds can only add a name, never hide one.
 */
function tagsIn(json: string): Set<string> {
  const out = new Set<string>();
  for (let i = json.indexOf('"$'); i >= 0; i = json.indexOf('"$', i + 2)) {
    const end = json.indexOf('"', i + 2);
    if (json[i - 1] !== '\\' && json[end + 1] === ':') out.add(json.slice(i + 1, end));
  }
  return out;
}

/**
 * The value a parameterized INSERT stores (`bindOne` of `pageValues`) for the wire value at index
 * `n` of the JSON array `value`, as SQL: a plain string, number or boolean is itself (true is 1);
 * a tagged one is looked for only if the page holds its tag.
 */
function wireToStoredSql(type: SqlType, n: number, tags: Set<string>): string {
  const plain = `value->>${n}`;
  const tagged = TAGGED[type];
  if (!tagged || !tags.has(tagged.tag)) return plain;
  return `CASE json_type(value, '$[${n}]') WHEN 'object' THEN ${tagged.decode(`'$[${n}]."${tagged.tag}"'`)} ELSE ${plain} END`;
}

/**
 * A snapshot page (`json`: the rows as JSON text of wire-value arrays in `columns`' order) upserted
 * into `table` by SQLite itself in one statement, no value passing through JS; undefined when a
 * column's type or a tag in the page needs JS to decode exactly.
 */
export function loadJsonSql(table: string, columns: Field[], primaryKey: string[], json: string): string | undefined {
  if (!columns.every((c) => SQL_DECODABLE.has(c.type))) return undefined;
  const tags = tagsIn(json);
  for (const tag of tags) if (!SQL_TAGS.has(tag)) return undefined;
  const values = columns.map((c, n) => storeAs(c.type, wireToStoredSql(c.type, n, tags)));
  const names = columns.map((c) => c.name);
  // `WHERE true` tells the parser the ON CONFLICT is the upsert's, not a join's.
  return `INSERT INTO ${quoteIdent(table)} (${names.map(quoteIdent).join(', ')}) SELECT ${values.join(', ')} FROM json_each(?) WHERE true ${upsertClause(primaryKey, names)}`;
}
