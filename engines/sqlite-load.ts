/**
 * Bulk upserts into a libsql database (a replica's snapshot pages), without the
 * Postgres-dialect translation: each value is bound (`bindOne`) and wrapped for its column's
 * type (`storeAs`) exactly as a translated `INSERT … VALUES ($n…)` does, so the stored values
 * are the same; a statement binds up to SQLite's own parameter limit instead of Cloudflare's 100.
 */
import { VitessError } from '../rpc/errors.js';
import type { Field, SqlValue } from '../rpc/values.js';
import type { CatalogColumn } from './dialect/sqlite.js';
import { quoteIdent, upsertClause } from './dialect/sql-text.js';
import { storeAs } from './dialect/sqlite-render.js';
import { bindOne } from './sqlite-codec.js';

/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER (since 3.32), libsql's too. */
const MAX_VARIABLES = 32_766;
/** Rows per statement: past ~1,000, longer statements stop paying (measured on libsql). */
const MAX_ROWS = 1_000;

export interface LoadStatement {
  sql: string;
  args: unknown[];
}

/** The page's columns of `table` with their types; a missing table or column is NOT_FOUND, named. */
export function pageColumns(table: string, names: string[], catalog: CatalogColumn[] | undefined): Field[] {
  if (!catalog) throw new VitessError('NOT_FOUND', `table "${table}" does not exist`, { table });
  return names.map((c) => {
    const col = catalog.find((x) => x.name === c);
    if (!col) throw new VitessError('NOT_FOUND', `column ${c} of table "${table}" does not exist`, { table, columns: [c] });
    return { name: c, type: col.type };
  });
}

/** Upserts of `rows` (value arrays in `columns`' order): rows already there are overwritten. */
export function loadStatements(table: string, primaryKey: string[], rows: SqlValue[][], columns: Field[]): LoadStatement[] {
  if (!rows.length) return [];
  const cols = columns.map((c) => c.name);
  const types = columns.map((c) => c.type);
  const conflict = upsertClause(primaryKey, cols);
  const head = `INSERT INTO ${quoteIdent(table)} (${cols.map(quoteIdent).join(', ')}) VALUES `;
  const wrapped = types.map((t) => storeAs(t, '?'));
  const tuple = `(${wrapped.join(', ')})`;
  // Plain `?`s (numbered ones make libsql several times slower): a value wrapped as
  // `coalesce(f(?), ?)` is bound once per use.
  const uses = wrapped.map((w) => w.split('?').length - 1);
  const perStatement = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_VARIABLES / uses.reduce((a, b) => a + b, 0))));
  const out: LoadStatement[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const args: unknown[] = [];
    for (const row of chunk) {
      cols.forEach((_, k) => {
        const v = bindOne(row[k] ?? null, 'libsql', args.length);
        for (let n = 0; n < uses[k]!; n++) args.push(v);
      });
    }
    out.push({ sql: `${head}${Array<string>(chunk.length).fill(tuple).join(', ')} ${conflict}`, args });
  }
  return out;
}
