// Snapshot rows into a replica's tables: where the copy's pages go (replica/copy-core.ts), for
// the replica DO and embedded replicas alike. Rows already there (applied from the log while
// copying, or the same reference-table row from another shard) are overwritten: the page is the
// newer state.
import type { PageLoader, StorageEngine } from '../engines/engine.js';
import { chunkRows, insertValues, upsertClause } from '../engines/dialect/sql-text.js';
import { pageRows, type PageText, type Row, type Statement } from '../rpc/results.js';

/**
 * Loads one snapshot page of `table` in one local transaction; returns its row count.
 * In-process engines (libsql, PGlite) take the page's JSON text whole through their bulk
 * `loadJson` (libsql decodes it in SQLite: engines/sqlite-wire.ts; PGlite: engines/pglite-load.ts);
 * others get multi-row upserts (`copyStatements`).
 */
export async function loadPage(db: StorageEngine & Partial<PageLoader>, table: string, primaryKey: string[], page: PageText): Promise<number> {
  if (db.loadJson) return db.loadJson(table, primaryKey, page);
  const rows = pageRows(page.columns, page.json, true);
  if (rows.length) await db.batch(copyStatements(table, primaryKey, rows), { atomic: true });
  return rows.length;
}

/** Multi-row upserts of snapshot rows, each under the bound-parameter limit. */
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
