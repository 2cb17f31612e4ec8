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

/** Rows as JSON text of wire-encoded value arrays (snapshot pages: `JsonPage`), and back. */
export const rowsFromJson = (json: string): SqlValue[][] => (JSON.parse(json) as unknown[][]).map((r) => r.map(fromWire));
export const rowsToJson = (rows: readonly (readonly SqlValue[])[]): string => JSON.stringify(rows.map((r) => r.map(toWire)));

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
  return (JSON.parse(json) as unknown[][]).map((r) => r.map((w, i) => (isJson[i] && w !== null && typeof w === 'object' && '$json' in w ? JSON.stringify(w.$json) : fromWire(w))));
}

/** A snapshot page's rows (`columns` names each position of its JSON text's value arrays) as objects. */
export function pageRows(columns: string[], json: string): Row[] {
  return (JSON.parse(json) as unknown[][]).map((values) => {
    const row: Row = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]!] = fromWire(values[i]);
    return row;
  });
}
