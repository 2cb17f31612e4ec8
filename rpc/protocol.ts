/**
 * VTGate's capnweb surface at `/rpc` (WebSocket or HTTP batch), shared by the gateway that
 * implements it and the client that calls it. Values travel as `RpcValue` (rpc/values.ts):
 * capnweb carries bigint, Date and bytes itself; JSON goes as text.
 */
import type { Field, RpcValue } from './values.js';

export type Consistency = 'strong' | 'session' | 'eventual';

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
  /** The bookmark after this statement (covers its writes). */
  bookmark: string;
  servedBy: ServedBy;
  /** The plan kind VTGate chose (`single-shard`, `scatter`, …). */
  plan: string;
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

/** An interactive transaction on one shard; cross-shard transactions need 2PC (issue 7). */
export interface TransactionApi {
  query(sql: string, params?: RpcValue[]): Promise<RpcResult>;
  commit(): Promise<{ bookmark: string }>;
  rollback(): Promise<void>;
}

/** A session on one keyspace (returned by `Gateway.keyspace`, a capability). */
export interface KeyspaceApi {
  query(sql: string, params?: RpcValue[], opts?: ReadOptions): Promise<RpcResult>;
  batch(statements: RpcStatement[], opts?: ReadOptions & { atomic?: boolean }): Promise<RpcResult[]>;
  /** Needs a WebSocket session: the transaction lives as long as the connection. */
  begin(opts?: { timeoutMs?: number }): TransactionApi;
}

/** The main object at `/rpc`. */
export interface GatewayApi {
  keyspace(name: string): KeyspaceApi;
  status(): Promise<GatewayStatus>;
}
