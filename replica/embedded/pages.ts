/**
 * Loads snapshot pages into the local tables while copying. Rows already there (applied from
 * the log while copying, or the same reference-table row from another shard) are overwritten:
 * the page is the newer state.
 *
 * In-process engines (libsql, PGlite) take a page's JSON text whole through their bulk
 * `loadJson` (libsql decodes it in SQLite: engines/sqlite-wire.ts; PGlite: engines/pglite-load.ts);
 * others as multi-row upserts under 100 parameters (`replica/copy.ts`).
 */
import type { PageLoader, StorageEngine } from '../../engines/engine.js';
import { pageRows, type PageText } from '../../rpc/results.js';
import { copyStatements } from '../copy.js';

/** Loads one snapshot page of `table` in one local transaction; returns its row count. */
export async function loadPage(db: StorageEngine & Partial<PageLoader>, table: string, primaryKey: string[], page: PageText): Promise<number> {
  if (db.loadJson) return db.loadJson(table, primaryKey, page);
  const rows = pageRows(page.columns, page.json, true);
  if (rows.length) await db.batch(copyStatements(table, primaryKey, rows), { atomic: true });
  return rows.length;
}
