// `@dotdo/vitess`: the client SDK. The value model and typed errors are shared with the server.
export * from '../rpc/index.js';
export type {
  ChangesPage,
  ChangesRequest,
  Consistency,
  GatewayStatus,
  KeyspaceStatus,
  ReadOptions,
  ServedBy,
  ShardSchema,
  ShardStatus,
  WireChangeEvent,
} from '../rpc/protocol.js';
export { createClient, VitessClient, type BatchOptions, type ClientOptions, type QueryOptions, type SnapshotPage } from './client.js';
export type { ExecuteResult, QueryResult, StatementResult } from './results.js';
export type { Transaction, TransactionOptions } from './transaction.js';
export { Subscription, type ChangeEvent, type DdlEvent, type SubscribeOptions, type SubscriptionEvent } from './subscription.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
export type { WebSocketClass, WebSocketLike } from './websocket.js';
export type { FetchFn } from './http-batch.js';
