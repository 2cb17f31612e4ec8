// SQL text both dialects (Postgres, SQLite) spell the same, for statements built without the parser.
import type { SqlValue } from '../../rpc/values.js';
import { LIMITS } from '../limits.js';

/** An identifier, quoted (a double quote inside is doubled). */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The upsert clause of an INSERT of `cols` keyed by `keys`: a row already there takes the new values. */
export function upsertClause(keys: string[], cols: string[]): string {
  const updates = cols.filter((c) => !keys.includes(c));
  return updates.length
    ? `ON CONFLICT (${keys.map(quoteIdent).join(', ')}) DO UPDATE SET ${updates.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')}`
    : 'ON CONFLICT DO NOTHING';
}

/** `$first, $first+1, …`: `count` numbered placeholders (an IN list, one row's tuple). */
export const placeholders = (count: number, first = 1): string => Array.from({ length: count }, (_, i) => `$${first + i}`).join(', ');

/**
 * `INSERT INTO table (cols) VALUES ($1, $2), ($3, $4) suffix`: `rows` (values in `cols`' order)
 * bound in order, one tuple each. Names go through `ident` (quoted, unless the caller renders them
 * itself). Split the rows first (`chunkRows`) to stay under the bound-parameter limit.
 */
export function insertValues(
  table: string,
  cols: string[],
  rows: SqlValue[][],
  suffix = '',
  ident: (name: string) => string = quoteIdent,
): { sql: string; params: SqlValue[] } {
  const tuples = rows.map((_, r) => `(${placeholders(cols.length, r * cols.length + 1)})`).join(', ');
  return { sql: `INSERT INTO ${ident(table)} (${cols.map(ident).join(', ')}) VALUES ${tuples}${suffix ? ` ${suffix}` : ''}`, params: rows.flat() };
}

/**
 * How many rows of `width` parameters one statement binds besides `reserved` of its own, under
 * `LIMITS.paramsPerStatement`: at least one (a row past the limit alone, to be refused as such),
 * all of them when a row binds none.
 */
export const rowsPerStatement = (width: number, reserved = 0): number =>
  width > 0 ? Math.max(1, Math.floor((LIMITS.paramsPerStatement - reserved) / width)) : Number.POSITIVE_INFINITY;

/** `rows` in order, in chunks of `rowsPerStatement(width)`: the rows of one statement each. */
export function chunkRows<T>(rows: readonly T[], width: number): T[][] {
  const per = rowsPerStatement(width);
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += per) out.push(rows.slice(i, i + per));
  return out;
}

/**
 * `items` in order, in chunks whose parameters (`size` of each item, plus `reserved` the statement
 * binds itself) stay under `LIMITS.paramsPerStatement`; an item past it alone is a chunk of its own.
 * For items of one width, the same chunks as `chunkRows`.
 */
export function chunkByParams<T>(items: readonly T[], size: (item: T) => number, reserved = 0): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let n = reserved;
  for (const it of items) {
    if (cur.length && n + size(it) > LIMITS.paramsPerStatement) {
      out.push(cur);
      cur = [];
      n = reserved;
    }
    cur.push(it);
    n += size(it);
  }
  if (cur.length) out.push(cur);
  return out;
}
