/**
 * VTGate's capnweb surface at `/rpc` (WebSocket or HTTP batch), shared by the gateway that
 * implements it and the client that calls it. Values travel as `RpcValue` (rpc/values.ts):
 * capnweb carries bigint, Date and bytes itself; JSON goes as text.
 */
import type { Field, RpcValue } from './values.js';

export type Consistency = 'strong' | 'session' | 'eventual';

/**
 * The WebSocket subprotocols of `/rpc`: the client offers both, VTGate answers with the first.
 * The token travels in the second because browsers cannot set headers on a WebSocket, and a URL
 * ends up in logs.
 */
export const RPC_PROTOCOL = 'vitess.rpc';
export const BEARER_PROTOCOL = 'vitess.bearer.';

/** Per-call read options (replicas and bookmarks arrive with the replica issue; primaries serve today). */
export interface ReadOptions {
  consistency?: Consistency;
  region?: string;
  maxStalenessMs?: number;
  /** The session's bookmark: the per-shard LSNs it has seen. */
  bookmark?: string;
}

export interface ServedBy {
  /** The shard, or the shards joined by `,` for a multi-shard plan. */
  shard: string;
  role: 'primary' | 'replica';
  region: string;
}

/**
 * How a write outside a transaction committed: on its only shard; on each shard it reached, one
 * by one (`transactionMode: multi`: a failure can leave some shards' parts done); or on every
 * shard at once, with two-phase commit (reference tables, `transactionMode: twopc`).
 */
export type Atomicity = 'single-shard' | 'per-shard' | 'two-phase';

export interface RpcStatement {
  sql: string;
  params?: RpcValue[];
}

/** One statement's result. */
export interface RpcResult {
  rows: Record<string, RpcValue>[];
  fields: Field[];
  rowCount: number;
  /** Rows changed by INSERT/UPDATE/DELETE. */
  affected: number;
  /** A one-row INSERT into a sharded keyspace: the id it drew from a global sequence (docs/sequences.md). */
  lastInsertId?: number;
  /** The bookmark after this statement (covers its writes). */
  bookmark: string;
  servedBy: ServedBy;
  /** The plan kind VTGate chose (`single-shard`, `scatter`, …). */
  plan: string;
  /** A write outside a transaction (DML or DDL): how it committed. Absent for reads and inside transactions. */
  atomicity?: Atomicity;
}

export interface ShardStatus {
  shard: string;
  /** Key range bounds as hex (`''` = open). */
  start: string;
  end: string;
  engine: string;
  lsn: number;
  [extra: string]: unknown;
}

export interface KeyspaceStatus {
  name: string;
  engine: 'sqlite' | 'pglite';
  regions: string[];
  shards: ShardStatus[];
}

export interface GatewayStatus {
  keyspaces: KeyspaceStatus[];
}

/** An interactive transaction: on one shard, or on several with two-phase commit at its end (docs/transactions.md). */
export interface TransactionApi {
  query(sql: string, params?: RpcValue[]): Promise<RpcResult>;
  commit(): Promise<{ bookmark: string }>;
  rollback(): Promise<void>;
}

/**
 * One page of a change stream (`KeyspaceApi.changes`). Pull-based: the client asks for the next
 * page once it has handled the last, so nothing is buffered for a slow consumer
 * (docs/subscriptions.md).
 */
export interface ChangesRequest {
  /** `'now'`, `'beginning'`, or a position (rpc/position.ts) to continue after. */
  from: string;
  /** Only changes of these tables (default: all). */
  tables?: string[];
  /** Only these shards (default: all of the keyspace's). */
  shards?: string[];
  /** Only rows whose keyspace id is in this key range, e.g. `40-80`. */
  keyRange?: string;
  /** Also deliver schema changes (DDL), unfiltered by table. */
  ddl?: boolean;
  /** At most this many events per page (default 500, at most 5,000). */
  maxEvents?: number;
  /** Roughly at most this many bytes of changes per page (default 1 MB). */
  maxBytes?: number;
  /** Long poll: wait up to this long for a change when there is none (default 0, at most 25 s). */
  waitMs?: number;
}

/** One change as it crosses the wire; the client adds the position after it. */
export interface WireChangeEvent {
  shard: string;
  lsn: number;
  /** Index of the change in its record (transaction), and the record's number of changes. */
  seq: number;
  of: number;
  /** Commit time (ms since the epoch) and transaction id of the record. */
  ts: number;
  txid: string;
  op: 'insert' | 'update' | 'delete' | 'ddl';
  table?: string;
  row?: Record<string, RpcValue>;
  oldKey?: Record<string, RpcValue>;
  /** Columns of `row` holding JSON values, a scalar or JSON `null` included (`RowChange.json`). */
  json?: string[];
  ddl?: string;
}

export interface ChangesPage {
  /** The position this page starts after (the request's, resolved for `now` / `beginning`). */
  start: string;
  events: WireChangeEvent[];
  /** The position after everything this page read, filtered-out records included. */
  position: string;
  /** Each shard's newest LSN when read (lag = head − position). */
  heads: Record<string, number>;
}

/**
 * One page of a table on one shard, in primary-key order (`KeyspaceApi.snapshot`): how an
 * embedded replica copies the keyspace before it streams (docs/embedded-replicas.md).
 */
export interface SnapshotRequest {
  shard: string;
  table: string;
  /** The previous page's `nextKey` (absent or null: the first page). */
  afterKey?: RpcValue[] | null;
  /**
   * Rows read per page (default 1,000, at most 50,000; at most 5,000 from a PGlite shard). A
   * page of wide rows holds fewer, about 1 MB of JSON text: page on with `nextKey`.
   */
  limit?: number;
  /** Only rows whose keyspace id is in this key range, e.g. `40-80`. */
  keyRange?: string;
}

export interface RpcSnapshotPage {
  table: string;
  /** The table's columns, in the order of each row's values. */
  columns: string[];
  /**
   * The page's rows (with `keyRange`, only those in the range: maybe none) as JSON text: an array
   * of value arrays in the wire encoding (`pageRows` in rpc/results.ts reads it).
   */
  rowsJson: string;
  /** Pass as `afterKey` for the next page; null after the last one. */
  nextKey: RpcValue[] | null;
  /** The shard's LSN the page is exactly the state at (read under the shard's write lock). */
  lsn: number;
}

/** A shard's schema as the DDL that built it (Postgres dialect, oldest first), current at `lsn`. */
export interface ShardSchema {
  shard: string;
  lsn: number;
  ddl: string[];
  /** False when the shard's log was trimmed before it kept its DDL history. */
  complete: boolean;
}

/** A session on one keyspace (returned by `Gateway.keyspace`, a capability). */
export interface KeyspaceApi {
  query(sql: string, params?: RpcValue[], opts?: ReadOptions): Promise<RpcResult>;
  batch(statements: RpcStatement[], opts?: ReadOptions & { atomic?: boolean }): Promise<RpcResult[]>;
  /**
   * Needs a WebSocket session: the transaction lives as long as the connection. `bookmark`: the
   * client's, which the session adopts (its bookmarks then cover it).
   */
  begin(opts?: { timeoutMs?: number; bookmark?: string }): TransactionApi;
  /** The next page of the keyspace's change stream (idempotent: a read). */
  changes(req: ChangesRequest): Promise<ChangesPage>;
  /** One snapshot page of a table on one shard (idempotent: a read). */
  snapshot(req: SnapshotRequest): Promise<RpcSnapshotPage>;
  /** The DDL history of these shards (default: all of the keyspace's). */
  schema(shards?: string[]): Promise<ShardSchema[]>;
  /**
   * Merges a Yjs update into a `bytea` column of the row of `table` whose columns equal `key`
   * (docs/yjs.md). Safe to retry: merging an update twice changes nothing.
   */
  applyUpdate(table: string, key: Record<string, RpcValue>, column: string, update: Uint8Array, opts?: { bookmark?: string }): Promise<RpcResult>;
}

/** The main object at `/rpc`. */
export interface GatewayApi {
  keyspace(name: string): KeyspaceApi;
  status(): Promise<GatewayStatus>;
}
