// Snapshot pages: a table's rows in primary-key order, a page at a time, resumable from the
// last key. A consumer reads every page, then applies the log from the LSN of its first page:
// the log carries full row images, so rows changed while it paged converge (as in Vitess's
// VReplication copy phase). A DDL record in between means: start the snapshot again.
import type { StorageEngine } from '../engines/engine.js';
import { VitessError } from '../rpc/errors.js';
import { consistentHashId, hashId } from '../rpc/keyspace/hash.js';
import { inRange, parseKeyRange } from '../rpc/keyspace/keyrange.js';
import type { Row } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import { quoteIdent } from '../engines/dialect/sql-text.js';

export interface SnapshotPage {
  table: string;
  /** The table's columns, in the order of each row's values. */
  columns: string[];
  /**
   * Rows as value arrays: a page crosses the DO RPC, VTGate and the wire to an embedded replica,
   * and column names repeated in every row were half of each hop's (de)serialization.
   */
  rows: SqlValue[][];
  /** Key to pass as `afterKey` for the next page; null when this was the last page. */
  nextKey: SqlValue[] | null;
  /** The shard's LSN when the page was read. */
  lsn: number;
}

/** Keep only rows whose keyspace id (by `vindex` of `column`) falls in `range` (e.g. `40-80`). */
export interface KeyRangeFilter {
  column: string;
  vindex: 'hash' | 'consistent_hash';
  range: string;
}

/**
 * One page of `table`. With a key-range filter the page holds only the rows in the range (maybe
 * none), while `nextKey` still advances over every row read, so paging ends as it would without.
 */
export async function snapshotPage(db: StorageEngine, table: string, afterKey: SqlValue[] | null, limit: number, filter?: KeyRangeFilter): Promise<Omit<SnapshotPage, 'lsn'>> {
  const bad = filter && parseKeyRange(filter.range);
  if (typeof bad === 'string') throw new VitessError('INVALID', bad);
  const info = (await db.tables()).find((t) => t.name === table);
  if (!info) throw new VitessError('NOT_FOUND', `table "${table}" does not exist`, { table });
  const pk = info.primaryKey;
  const cols = pk.map(quoteIdent).join(', ');
  const after = afterKey ? `WHERE (${cols}) > (${pk.map((_, i) => `$${i + 1}`).join(', ')})` : '';
  const sql = `SELECT * FROM ${quoteIdent(table)} ${after} ORDER BY ${cols} LIMIT ${Math.max(1, Math.min(limit, 5000))}`;
  const result = await db.query(sql, afterKey ?? []);
  const columns = result.fields.map((f) => f.name);
  const rows = result.rows.map((r) => columns.map((c) => r[c] ?? null));
  const at = filter ? columns.indexOf(filter.column) : -1;
  if (filter && at < 0) throw new VitessError('NOT_FOUND', `column "${filter.column}" does not exist in table "${table}"`, { table, columns: [filter.column] });
  const last = rows.length === limit ? result.rows.at(-1) : undefined;
  const idOf = filter?.vindex === 'consistent_hash' ? consistentHashId : hashId;
  const kept = filter ? rows.filter((r) => {
    const id = idOf(r[at] ?? null);
    return id !== undefined && inRange(id, filter.range);
  }) : rows;
  return { table, columns, rows: kept, nextKey: last ? pk.map((k) => last[k] ?? null) : null };
}
