import type { Field, SqlValue } from './values.js';

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
