import { fromWire, toWire, type Field, type SqlValue } from './values.js';

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

/** Rows as JSON text of wire-encoded value arrays (snapshot pages: `JsonPage`). */
export const rowsToJson = (rows: readonly (readonly SqlValue[])[]): string => JSON.stringify(rows.map((r) => r.map(toWire)));

/** A wire value tagged `$json`: a json column's (only they carry the tag), a scalar or JSON null included. */
const taggedJson = (w: unknown): w is { $json: unknown } => w !== null && typeof w === 'object' && '$json' in w;

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

/**
 * A page's value arrays for storing into columns of which `isJson` marks the json ones: each wire
 * value decoded, but a json column's `$json` as its JSON text, or a JSON string or null in it would
 * be stored as bare text or SQL NULL.
 */
export function pageValues(json: string, isJson: boolean[]): SqlValue[][] {
  return (JSON.parse(json) as unknown[][]).map((r) => r.map((w, i) => (isJson[i] && taggedJson(w) ? JSON.stringify(w.$json) : fromWire(w))));
}

/**
 * A snapshot page's rows (`columns` names each position of its JSON text's value arrays) as
 * objects. `toStore`: for storing into a copy of the table, every `$json` value as its JSON text
 * (decoded, a JSON string or null would be stored as bare text or SQL NULL).
 */
export function pageRows(columns: string[], json: string, toStore = false): Row[] {
  return (JSON.parse(json) as unknown[][]).map((values) => {
    const row: Row = {};
    for (let i = 0; i < columns.length; i++) {
      const w = values[i];
      row[columns[i]!] = toStore && taggedJson(w) ? JSON.stringify(w.$json) : fromWire(w);
    }
    return row;
  });
}
