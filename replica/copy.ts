// Snapshot rows into a replica's tables: the copy phase of a bootstrap.
import { LIMITS } from '../engines/limits.js';
import type { Row, Statement } from '../rpc/results.js';
import { quoteIdent, upsertClause } from '../engines/dialect/sql-text.js';

/**
 * Multi-row upserts of snapshot rows, each under the bound-parameter limit. Rows already there
 * (applied from the log while copying) are overwritten: the page is the newer state.
 */
export function copyStatements(table: string, primaryKey: string[], rows: Row[]): Statement[] {
  if (!rows.length) return [];
  const cols = Object.keys(rows[0]!);
  const conflict = upsertClause(primaryKey, cols);
  const perStatement = Math.max(1, Math.floor(LIMITS.paramsPerStatement / cols.length));
  const out: Statement[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const values = chunk.map((_, r) => `(${cols.map((_, c) => `$${r * cols.length + c + 1}`).join(', ')})`).join(', ');
    out.push({
      sql: `INSERT INTO ${quoteIdent(table)} (${cols.map(quoteIdent).join(', ')}) VALUES ${values} ${conflict}`,
      params: chunk.flatMap((row) => cols.map((c) => row[c] ?? null)),
    });
  }
  return out;
}
