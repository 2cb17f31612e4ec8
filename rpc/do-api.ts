/**
 * The RPC surfaces of the Durable Objects, declared once. Each DO class `implements` its API and
 * every caller reaches it as `Stub<Api>` (rpc/do-stub.ts), so a method renamed or retyped on one
 * side only fails the typecheck instead of the call. (Hand-written because the generated
 * `DurableObjectStub<VTTablet>` type is too deep for tsc.)
 *
 * A method returns `Awaitable<T>`: the class may answer at once or with a promise; over RPC it is
 * always a promise, which `Stub` says.
 */
import type { DdlHistory, PullOptions, PullResult, TrimPolicy } from '../changelog/log.js';
import type { KeyRangeFilter, SnapshotPage } from '../changelog/snapshot.js';
import type { BatchOptions, EngineKind, TableInfo } from '../engines/engine.js';
import type { TxDriver } from '../primary/interactive.js';
import type { DdlOutcome, LogListener, QueryOptions, TableSchema, TabletResult, TabletStatus, TransactionOptions, TxOutcome } from '../primary/tablet.js';
import type { ReadRequest, ReplicaConfig, ReplicaResult, ReplicaStatus } from '../replica/replica-do.js';
import type { DdlIntent, TxRecord } from '../router/txn/coordinator.js';
import type { ShardLayout } from '../router/layout/layout.js';
import type { CommitResult, CoordinatorCounters, DdlRequest, DdlResult } from '../router/txn/coordinator-do.js';
import type { SequenceColumn } from '../router/sequences/sequence-do.js';
import type { Statement } from './results.js';
import type { SqlValue } from './values.js';

export type Awaitable<T> = T | Promise<T>;

/** How a caller sees `Api` through a DO stub: every method returns a promise. */
export type Stub<Api> = {
  [K in keyof Api]: Api[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** VTTablet (primary/tablet.ts): the primary of one shard. */
export interface TabletApi {
  query(kind: EngineKind, sql: string, params?: SqlValue[], opts?: QueryOptions): Awaitable<TabletResult>;
  fenceLayout(version: number): Awaitable<number>;
  batch(kind: EngineKind, statements: Statement[], opts?: BatchOptions): Awaitable<TabletResult[]>;
  transaction(kind: EngineKind, txid: string, driver: TxDriver, opts?: TransactionOptions): Awaitable<TxOutcome>;
  commitPrepared(txid: string): Awaitable<TxOutcome>;
  rollbackPrepared(txid: string): Awaitable<TxOutcome>;
  applyDdl(kind: EngineKind, id: string, statements: string[]): Awaitable<DdlOutcome>;
  listPrepared(): Awaitable<{ txid: string; preparedAt: number }[]>;
  pull(fromLsn: number, opts?: PullOptions): Awaitable<PullResult>;
  waitFor(lsn: number, timeoutMs?: number): Awaitable<number>;
  register(id: string, fromLsn?: number): Awaitable<number>;
  subscribe(id: string, listener: LogListener, fromLsn?: number): Awaitable<number>;
  ack(id: string, lsn: number): Awaitable<void>;
  unregister(id: string): Awaitable<void>;
  unsubscribe(id: string): Awaitable<void>;
  trim(policy?: Partial<TrimPolicy>): Awaitable<number>;
  snapshot(kind: EngineKind, table: string, afterKey: SqlValue[] | null, limit?: number, keyRange?: KeyRangeFilter): Awaitable<SnapshotPage>;
  ddlHistory(): Awaitable<DdlHistory>;
  snapshotDataDir(): Awaitable<{ lsn: number; bytes: number } | null>;
  schema(kind: EngineKind): Awaitable<TableSchema[]>;
  status(): Awaitable<TabletStatus>;
}

/** VTReplica (replica/replica-do.ts): a read replica of one shard in one region. */
export interface ReplicaApi {
  start(config: ReplicaConfig): Awaitable<ReplicaStatus>;
  query(sql: string, params?: SqlValue[]): Awaitable<ReplicaResult>;
  read(sql: string, params: SqlValue[], opts?: ReadRequest): Awaitable<ReplicaResult>;
  waitFor(lsn: number, timeoutMs?: number): Awaitable<number>;
  tables(): Awaitable<TableInfo[]>;
  status(): Awaitable<ReplicaStatus>;
  setApplyDelay(ms: number): Awaitable<void>;
  pause(): Awaitable<void>;
  resume(): Awaitable<void>;
  destroy(): Awaitable<void>;
}

/** VTCoordinator (router/txn/coordinator-do.ts): two-phase commit, (instance `locks`) the waits-for graph, (instances `ddl/<keyspace>`) DDL intents. */
export interface CoordinatorApi {
  begin(txid: string, participants: string[], opts: { decideWithinMs: number; participantTimeoutMs: number }): Awaitable<void>;
  enlist(txid: string, participant: string): Awaitable<void>;
  abandon(txid: string): Awaitable<void>;
  commit(txid: string): Awaitable<CommitResult>;
  rollback(txid: string): Awaitable<CommitResult>;
  waitFor(txid: string, holds: string[], wants: string, expiresAt: number): Awaitable<string[] | null>;
  release(txid: string): Awaitable<void>;
  list(): Awaitable<TxRecord[]>;
  stats(): Awaitable<CoordinatorCounters>;
  ddl(req: DdlRequest): Awaitable<DdlResult>;
  ddlIntents(): Awaitable<DdlIntent[]>;
  layout(keyspace: string): Awaitable<ShardLayout>;
  bumpLayout(keyspace: string, shards?: string[]): Awaitable<ShardLayout>;
}

/** VTSequence (router/sequences/sequence-do.ts): a keyspace's global sequences. */
export interface SequenceApi {
  allocate(sequence: string, count: number): Awaitable<{ first: number; count: number }>;
  define(name: string, start: number, ifNotExists: boolean): Awaitable<void>;
  check(names: string[]): Awaitable<void>;
  register(table: string, columns: { column: string; sequence: string }[]): Awaitable<void>;
  columns(): Awaitable<SequenceColumn[]>;
}
