/**
 * Loads snapshot pages into the local tables while copying. Rows already there (applied from
 * the log while copying, or the same reference-table row from another shard) are overwritten:
 * the page is the newer state.
 *
 * - PGlite: one statement per page (per ~600k characters of rows): the rows travel as one JSON
 *   parameter of Postgres text values, each cast to its column's type — the input function a
 *   bound text parameter meets too. A page of 5,000 rows as 33-row statements was ~150 trips
 *   through the engine and PGlite; this is one, about 5× faster.
 * - SQLite engines: multi-row upserts under 100 parameters (`replica/copy.ts`); their dialect
 *   translation rewrites some values by column type, which this stays with.
 */
import type { StorageEngine } from '../engines/engine.js';
import { isJsonObject, type SqlValue } from '../rpc/values.js';
import type { Row, Statement } from '../rpc/results.js';
import { copyStatements } from './copy.js';

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Characters of JSON per statement: even all 3-byte UTF-8, under the engine's 2 MB per value. */
const JSON_CHARS = 600_000;

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** A value as Postgres reads it from text (what PGlite sends for a parameter of that JS type). */
export function pgText(v: SqlValue): string | null {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return `\\x${hex(v)}`;
  if (isJsonObject(v) || Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}

/** Per table, its columns' types without modifiers (so assignment still checks lengths and scales). */
export class ColumnTypes {
  readonly #types = new Map<string, Promise<Map<string, string>>>();
  constructor(private readonly db: StorageEngine) {}

  get(table: string): Promise<Map<string, string>> {
    let t = this.#types.get(table);
    if (!t) {
      t = this.db.query(
        'SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped',
        [q(table)],
      ).then((r) => new Map(r.rows.map((x) => [String(x.name), String(x.type)])));
      this.#types.set(table, t);
    }
    return t;
  }
}

/** PGlite: upserts of `rows` as few JSON-parameter statements; undefined when a column's type is unknown. */
export function jsonUpserts(table: string, primaryKey: string[], rows: Row[], types: Map<string, string>): Statement[] | undefined {
  if (!rows.length) return [];
  const cols = Object.keys(rows[0]!);
  if (!cols.every((c) => types.has(c))) return undefined;
  const updates = cols.filter((c) => !primaryKey.includes(c));
  const conflict = updates.length
    ? `ON CONFLICT (${primaryKey.map(q).join(', ')}) DO UPDATE SET ${updates.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}`
    : 'ON CONFLICT DO NOTHING';
  const select = cols.map((c, i) => `(e->>${i})::${types.get(c)}`).join(', ');
  const sql = `INSERT INTO ${q(table)} (${cols.map(q).join(', ')}) SELECT ${select} FROM json_array_elements($1::json) AS e ${conflict}`;
  const out: Statement[] = [];
  let part: string[] = [];
  let chars = 0;
  const flush = () => {
    if (part.length) out.push({ sql, params: [`[${part.join(',')}]`] });
    part = [];
    chars = 0;
  };
  for (const row of rows) {
    const json = JSON.stringify(cols.map((c) => pgText(row[c] ?? null)));
    if (chars + json.length > JSON_CHARS) flush();
    part.push(json);
    chars += json.length + 1;
  }
  flush();
  return out;
}

/** Loads one snapshot page of `table` in one local transaction. */
export async function loadPage(db: StorageEngine, types: ColumnTypes, table: string, primaryKey: string[], rows: Row[]): Promise<void> {
  if (!rows.length) return;
  const statements = (db.kind === 'pglite' ? jsonUpserts(table, primaryKey, rows, await types.get(table)) : undefined) ?? copyStatements(table, primaryKey, rows);
  await db.batch(statements, { atomic: true });
}
