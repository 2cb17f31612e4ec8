/**
 * Results as the client hands them out, converted from the wire (`RpcResult`, values as
 * `RpcValue`) with `fromRpc`: bigint, Date, bytes and JSON arrive exact.
 */
import type { Atomicity, RpcResult, ServedBy } from '../rpc/protocol.js';
import type { Row } from '../rpc/results.js';
import { fromRpc, toRpc, type Field, type RpcValue, type SqlValue } from '../rpc/values.js';

export type { Row, Statement } from '../rpc/results.js';

export interface QueryResult<T = Row> {
  rows: T[];
  fields: Field[];
  rowCount: number;
  /** The session's bookmark after this statement (carries read-your-writes). */
  bookmark: string;
  servedBy: ServedBy;
  /** The plan kind VTGate chose (`single-shard`, `scatter`, …). */
  plan: string;
}

export interface ExecuteResult<T = Row> {
  /** Rows changed by INSERT/UPDATE/DELETE. */
  affected: number;
  /** A one-row INSERT into a sharded keyspace: the id it drew from a global sequence (docs/sequences.md). */
  lastInsertId?: number;
  /** Outside a transaction: how the write committed across shards (docs/transactions.md). */
  atomicity?: Atomicity;
  bookmark: string;
  /** The rows of a `RETURNING` clause (or of a query run with `execute`). */
  rows?: T[];
  /** Their columns' names and types, in order (with `rows`). */
  fields?: Field[];
}

/** One statement's result inside `batch`: everything a query or an execute returns. */
export interface StatementResult<T = Row> extends QueryResult<T> {
  affected: number;
  /** As in `ExecuteResult`. */
  lastInsertId?: number;
  atomicity?: Atomicity;
}

export const toRpcParams = (params: readonly SqlValue[] | undefined): RpcValue[] => (params ?? []).map(toRpc);

export function rowFromRpc(row: Record<string, RpcValue>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = fromRpc(v ?? null);
  return out;
}

export function statementResult<T = Row>(r: RpcResult): StatementResult<T> {
  const rows = (r.rows ?? []).map(rowFromRpc) as T[];
  return {
    rows,
    fields: r.fields ?? [],
    rowCount: typeof r.rowCount === 'number' ? r.rowCount : rows.length,
    affected: r.affected ?? 0,
    ...(typeof r.lastInsertId === 'number' && { lastInsertId: r.lastInsertId }),
    ...(r.atomicity && { atomicity: r.atomicity }),
    bookmark: r.bookmark ?? '',
    servedBy: r.servedBy,
    plan: r.plan,
  };
}

export function queryResult<T = Row>(r: RpcResult): QueryResult<T> {
  const { affected: _affected, lastInsertId: _id, atomicity: _atomicity, ...rest } = statementResult<T>(r);
  return rest;
}

export function executeResult<T = Row>(r: RpcResult): ExecuteResult<T> {
  const s = statementResult<T>(r);
  const out: ExecuteResult<T> = { affected: s.affected, bookmark: s.bookmark };
  if (s.lastInsertId !== undefined) out.lastInsertId = s.lastInsertId;
  if (s.atomicity) out.atomicity = s.atomicity;
  if (s.fields.length > 0) {
    out.rows = s.rows;
    out.fields = s.fields;
  }
  return out;
}
