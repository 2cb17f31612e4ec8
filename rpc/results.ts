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

/** Rows sent as value arrays (`columns` names each position) as objects, each value through `decode` if given. */
export function rowObjects<V = SqlValue>(columns: string[], rows: readonly (readonly V[])[], decode?: (v: V) => SqlValue): Row[] {
  return rows.map((values) => {
    const row: Row = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]!] = decode ? decode(values[i]!) : values[i] as SqlValue;
    return row;
  });
}

/** Rows as JSON text of wire-encoded value arrays (snapshot pages: `JsonPage`), and back. */
export const rowsFromJson = (json: string): SqlValue[][] => (JSON.parse(json) as unknown[][]).map((r) => r.map(fromWire));
export const rowsToJson = (rows: readonly (readonly SqlValue[])[]): string => JSON.stringify(rows.map((r) => r.map(toWire)));

/** A snapshot page's rows (`columns` and their JSON text) as objects. */
export const pageRows = (columns: string[], json: string): Row[] => rowObjects(columns, JSON.parse(json) as unknown[][], fromWire);
