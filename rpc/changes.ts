import type { Row } from './results.js';
import { rowFromWire, rowToWire } from './values.js';

/** One row's change, with full images in the rpc value model. */
export interface RowChange {
  table: string;
  op: 'insert' | 'update' | 'delete';
  /** Primary-key columns of the row before the change (delete, update) or after it (insert). */
  key: Row;
  /** The row after the change (insert, update). */
  row?: Row;
}

/** A schema change, as the Postgres-dialect statement that made it. */
export interface DdlChange {
  ddl: string;
}

export type Change = RowChange | DdlChange;

/** One committed transaction on one shard. LSNs are per shard, gap-free, starting at 1. */
export interface LogRecord {
  lsn: number;
  /** Commit time, ms since the epoch. */
  ts: number;
  txid: string;
  changes: Change[];
}

export const isDdl = (c: Change): c is DdlChange => 'ddl' in c;

/** Changes with their values in the JSON wire encoding (for storage and HTTP), and back. */
export function changesToWire(changes: Change[]): unknown[] {
  return changes.map((c) => (isDdl(c) ? c : { ...c, key: rowToWire(c.key), ...(c.row ? { row: rowToWire(c.row) } : {}) }));
}

export function changesFromWire(wire: unknown[]): Change[] {
  return (wire as Change[]).map((c) => (isDdl(c) ? c : { ...c, key: rowFromWire(c.key), ...(c.row ? { row: rowFromWire(c.row) } : {}) }));
}
