// Log records as JSON text (stored in DO SQLite, sent over HTTP): values in the tagged wire
// encoding of rpc/values.ts, so a record decodes to exactly the values it was made from.
import type { Change, LogRecord } from '../rpc/changes.js';
import type { Row } from '../rpc/results.js';
import { fromWire, toWire, type SqlValue } from '../rpc/values.js';

const mapRow = (row: Row, f: (v: SqlValue) => unknown): Record<string, unknown> =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, f(v)]));

export function encodeChanges(changes: Change[]): string {
  return JSON.stringify(changes.map((c) => ('ddl' in c ? c : { ...c, key: mapRow(c.key, toWire), ...(c.row ? { row: mapRow(c.row, toWire) } : {}) })));
}

export function decodeChanges(text: string): Change[] {
  return (JSON.parse(text) as Change[]).map((c) => ('ddl' in c ? c : {
    ...c,
    key: mapRow(c.key, fromWire) as Row,
    ...(c.row ? { row: mapRow(c.row, fromWire) as Row } : {}),
  }));
}

export function recordBytes(r: LogRecord): number {
  return encodeChanges(r.changes).length + 64;
}
