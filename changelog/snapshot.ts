// Snapshot pages: a table's rows in primary-key order, a page at a time, resumable from the
// last key. A consumer reads every page, then applies the log from the LSN of its first page:
// the log carries full row images, so rows changed while it paged converge (as in Vitess's
// VReplication copy phase). A DDL record in between means: start the snapshot again.
import type { StorageEngine } from '../engines/engine.js';
import { VitessError } from '../rpc/errors.js';
import type { Row } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';

export interface SnapshotPage {
  table: string;
  rows: Row[];
  /** Key to pass as `afterKey` for the next page; null when this was the last page. */
  nextKey: SqlValue[] | null;
  /** The shard's LSN when the page was read. */
  lsn: number;
}

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export async function snapshotPage(db: StorageEngine, table: string, afterKey: SqlValue[] | null, limit: number): Promise<Omit<SnapshotPage, 'lsn'>> {
  const info = (await db.tables()).find((t) => t.name === table);
  if (!info) throw new VitessError('NOT_FOUND', `table "${table}" does not exist`, { table });
  const pk = info.primaryKey;
  const cols = pk.map(q).join(', ');
  const after = afterKey ? `WHERE (${cols}) > (${pk.map((_, i) => `$${i + 1}`).join(', ')})` : '';
  const sql = `SELECT * FROM ${q(table)} ${after} ORDER BY ${cols} LIMIT ${Math.max(1, Math.min(limit, 5000))}`;
  const rows = (await db.query(sql, afterKey ?? [])).rows;
  const last = rows.length === limit ? rows.at(-1) : undefined;
  return { table, rows, nextKey: last ? pk.map((k) => last[k] ?? null) : null };
}
