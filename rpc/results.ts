import { fromWire, type Field, type SqlValue } from './values.js';

export type Row = Record<string, SqlValue>;

/** What an engine returns for any statement. */
export interface ResultSet<R = Row> {
  rows: R[];
  fields: Field[];
  /** Rows changed by INSERT/UPDATE/DELETE; 0 for queries and DDL. */
  affected: number;
}

export interface Statement {
  sql: string;
  params?: SqlValue[];
}

/**
 * A wire value as it is stored into a copy of its table: decoded, but a `$json` value (only a
 * json column's carries the tag, a scalar or JSON null included) as its JSON text — decoded, a
 * JSON string or null would be stored as bare text or SQL NULL.
 */
const storedValue = (w: unknown): SqlValue => (w !== null && typeof w === 'object' && '$json' in w ? JSON.stringify(w.$json) : fromWire(w));

/**
 * The rows of a page's JSON text whose value at `at` passes `keep`, as JSON text again. The other
 * values are not decoded, so each keeps its exact encoding (a JSON scalar its `$json` tag).
 */
export function filterRowsJson(json: string, at: number, keep: (v: SqlValue) => boolean): string {
  return JSON.stringify((JSON.parse(json) as unknown[][]).filter((r) => keep(fromWire(r[at]))));
}

/** Rows as JSON text: an array of value arrays in `columns`' order, each value in the wire encoding (rpc/values.ts). */
export interface PageText {
  columns: string[];
  json: string;
}

/** A page's value arrays for storing into a copy of its table (`storedValue`). */
export function pageValues(json: string): SqlValue[][] {
  return (JSON.parse(json) as unknown[][]).map((r) => r.map(storedValue));
}

/**
 * A snapshot page's rows (`columns` names each position of its JSON text's value arrays) as
 * objects; `toStore`: each value as it is stored into a copy of the table (`storedValue`).
 */
export function pageRows(columns: string[], json: string, toStore = false): Row[] {
  const decode = toStore ? storedValue : fromWire;
  return (JSON.parse(json) as unknown[][]).map((values) => {
    const row: Row = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]!] = decode(values[i]);
    return row;
  });
}
