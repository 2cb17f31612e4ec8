// Snapshot rows into a replica's tables: the copy phase of a bootstrap.
import type { Row, Statement } from '../rpc/results.js';
import { chunkRows, insertValues, upsertClause } from '../engines/dialect/sql-text.js';

/**
 * Multi-row upserts of snapshot rows, each under the bound-parameter limit. Rows already there
 * (applied from the log while copying) are overwritten: the page is the newer state.
 */
export function copyStatements(table: string, primaryKey: string[], rows: Row[]): Statement[] {
  if (!rows.length) return [];
  const cols = Object.keys(rows[0]!);
  const conflict = upsertClause(primaryKey, cols);
  return chunkRows(rows, cols.length).map((chunk) =>
    insertValues(
      table,
      cols,
      chunk.map((row) => cols.map((c) => row[c] ?? null)),
      conflict,
    ),
  );
}
