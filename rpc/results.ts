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

/** A snapshot page's rows (`columns` names each position of its JSON text's value arrays) as objects. */
export function pageRows(columns: string[], json: string): Row[] {
  return (JSON.parse(json) as unknown[][]).map((values) => {
    const row: Row = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]!] = fromWire(values[i]);
    return row;
  });
}
