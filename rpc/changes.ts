import type { Row } from './results.js';
import { rowFromWire, rowToWire, type JsonValue, type WireValue } from './values.js';

/** One row's change, with full images in the rpc value model. */
export interface RowChange {
  table: string;
  op: 'insert' | 'update' | 'delete';
  /** Primary-key columns of the row before the change (delete, update) or after it (insert). */
  key: Row;
  /** The row after the change (insert, update). */
  row?: Row;
  /**
   * Columns of `row` whose values are JSON (json/jsonb), a JSON scalar or `null` included: the row
   * holds them decoded, so a JSON string, `true` or a JSON `null` would otherwise be taken for
   * text, an int or SQL NULL. Encoding and appliers go by it (the wire tags these values `$json`).
   */
  json?: string[];
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

/** A row in the wire encoding, its JSON columns tagged `$json` whatever their value. */
function imageToWire(row: Row, json: string[] | undefined): Record<string, WireValue> {
  const out = rowToWire(row);
  for (const k of json ?? []) if (k in row) out[k] = { $json: row[k] as JsonValue };
  return out;
}

/** The columns of a wire row tagged `$json`. */
const jsonColumns = (row: Record<string, unknown>): string[] =>
  Object.keys(row).filter((k) => {
    const v = row[k];
    return v !== null && typeof v === 'object' && '$json' in v;
  });

/** Changes with their values in the JSON wire encoding (for storage and HTTP), and back. */
export function changesToWire(changes: Change[]): unknown[] {
  return changes.map((c) => {
    if (isDdl(c)) return c;
    const { json, ...rest } = c;
    return { ...rest, key: rowToWire(c.key), ...(c.row ? { row: imageToWire(c.row, json) } : {}) };
  });
}

export function changesFromWire(wire: unknown[]): Change[] {
  return (wire as Change[]).map((c) => {
    if (isDdl(c)) return c;
    const json = c.row ? jsonColumns(c.row) : [];
    return { ...c, key: rowFromWire(c.key), ...(c.row ? { row: rowFromWire(c.row) } : {}), ...(json.length && { json }) };
  });
}
