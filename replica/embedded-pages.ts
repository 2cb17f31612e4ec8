/**
 * Loads snapshot pages into the local tables while copying. Rows already there (applied from
 * the log while copying, or the same reference-table row from another shard) are overwritten:
 * the page is the newer state.
 *
 * In-process engines (libsql, PGlite) take a page through their bulk `loadRows`
 * (engines/sqlite-load.ts, engines/pglite-load.ts); others as multi-row upserts under 100
 * parameters (`replica/copy.ts`).
 */
import type { StorageEngine } from '../engines/engine.js';
import type { Row } from '../rpc/results.js';
import { copyStatements } from './copy.js';

/** Loads one snapshot page of `table` in one local transaction. */
export async function loadPage(db: StorageEngine, table: string, primaryKey: string[], rows: Row[]): Promise<void> {
  if (!rows.length) return;
  if (db.loadRows) await db.loadRows(table, primaryKey, rows);
  else await db.batch(copyStatements(table, primaryKey, rows), { atomic: true });
}
