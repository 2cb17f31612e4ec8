/**
 * What a verified token allows (docs/security.md): the JWT's `vt` claim, read once per request
 * by router/access/token.ts. Plain data, so the statement checks (router/access/authorize.ts)
 * stay pure and cacheable by `grantsKey`.
 */
import { VitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';

/** `--row orders.tenant_id=42`: the token sees and changes only rows of `table` whose `column` = `value`. */
export interface RowFilter {
  table: string;
  column: string;
  value: string | number;
}

export interface Grants {
  /** Everything: internal tables, `/log`, `/metrics`, `/errors`, every keyspace. */
  admin: boolean;
  /** The keyspaces the token may use; `'*'` = all. */
  keyspaces: readonly string[] | '*';
  /** Reads only: no DML, no DDL, no transactions, no side-effecting functions. */
  readOnly: boolean;
  /** The tables (lower case) the token may touch in its keyspaces; `'*'` = all but internal ones. */
  tables: readonly string[] | '*';
  /** Row filters, at most one per table. */
  rows: readonly RowFilter[];
}

export const ADMIN: Grants = { admin: true, keyspaces: '*', readOnly: false, tables: '*', rows: [] };

const keys = new WeakMap<Grants, string>();

/** A stable key for caches of per-grants work (authorized statement texts); computed once per grants object. */
export function grantsKey(g: Grants): string {
  let k = keys.get(g);
  if (k === undefined) keys.set(g, (k = JSON.stringify([g.admin, g.keyspaces, g.readOnly, g.tables, g.rows])));
  return k;
}

/** The row filter on `table` (any letter case), if the token has one. */
export const rowFilterOf = (g: Grants, table: string): RowFilter | undefined => g.rows.find((r) => r.table === table.toLowerCase());

/** Whether a value is the filter's: compared as text, so 42, 42n and '42' all are (an int8 arrives as bigint). */
export const inFilter = (f: RowFilter, v: SqlValue | undefined): boolean =>
  (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') && String(v) === String(f.value);

/** Whether the grants reach a keyspace; FORBIDDEN naming it otherwise. */
export function checkKeyspace(g: Grants, keyspace: string): void {
  if (g.keyspaces !== '*' && !g.keyspaces.includes(keyspace)) {
    throw new VitessError('FORBIDDEN', `the token does not grant keyspace "${keyspace}" (it grants: ${g.keyspaces.join(', ') || 'none'})`);
  }
}
