/**
 * `createClient`: the SDK's entry. A client talks to one keyspace through VTGate's `/rpc`
 * (capnweb), keeps the session's bookmark (read-your-writes across calls and clients), and
 * retries only what is safe to retry (retry.ts).
 */
import { mergeBookmarks } from '../rpc/bookmark.js';
import { VitessError } from '../rpc/errors.js';
import type {
  ChangesPage,
  ChangesRequest,
  Consistency,
  GatewayStatus,
  ReadOptions,
  RpcResult,
  RpcSnapshotPage,
  ShardSchema,
  SnapshotRequest,
  TransactionApi,
} from '../rpc/protocol.js';
import { pageRows, type PageText } from '../rpc/results.js';
import { fromRpc, toRpc, type SqlValue } from '../rpc/values.js';
import type { RpcStub } from 'capnweb';
import { classify } from './failure.js';
import type { FetchFn } from './http-batch.js';
import {
  executeResult,
  queryResult,
  statementResult,
  toRpcParams,
  type ExecuteResult,
  type QueryResult,
  type Row,
  type Statement,
  type StatementResult,
} from './results.js';
import { retryPolicy, withRetry, type RetryPolicy } from './retry.js';
import { isSafeToRetry } from './statements.js';
import { Subscription, type ChangeEvent, type SubscribeOptions, type SubscriptionEvent } from './subscription.js';
import { TransactionRunner, withTransactionRetry, type Transaction, type TransactionOptions } from './transaction.js';
import { Transport, type Api } from './transport.js';
import type { WebSocketClass } from './websocket.js';

export interface ClientOptions {
  /** VTGate's base URL, e.g. `http://localhost:8787` (`/rpc` is appended). */
  endpoint: string;
  /** The keyspace every statement runs in (default `main`). */
  keyspace?: string;
  /**
   * A JWT (`vitess token create`; docs/security.md), sent as `Authorization: Bearer` (HTTP batch)
   * or a WebSocket subprotocol. Default: the `VITESS_TOKEN` environment variable, where there is one.
   */
  token?: string;
  /** Read defaults; each call can override them. */
  consistency?: Consistency;
  region?: string;
  maxStalenessMs?: number;
  /** A bookmark to start from (e.g. handed over by another client). */
  bookmark?: string;
  retry?: Partial<RetryPolicy>;
  /** Deadline of one attempt of one call (default 30 s). */
  timeoutMs?: number;
  /** The fetch used for HTTP batch calls (default: the global fetch, looked up on each call). */
  fetch?: FetchFn | typeof fetch;
  /** The WebSocket class (default: the global one; on Node 20 pass the `ws` package's). */
  WebSocket?: WebSocketClass | (new (url: string) => unknown);
  /**
   * Whether HTTP batch responses may come compressed (default true). Turn it off next to the
   * gateway (same host or LAN): there compressing a snapshot page costs the gateway and the
   * client more CPU than sending its bytes takes. Browsers choose for themselves.
   */
  compression?: boolean;
}

export interface QueryOptions {
  consistency?: Consistency;
  region?: string;
  maxStalenessMs?: number;
  /** Overrides the client's bookmark for this call. */
  bookmark?: string;
}

export interface BatchOptions extends QueryOptions {
  /** All statements in one transaction (across shards with two-phase commit): all apply or none. */
  atomic?: boolean;
  /** With `atomic`: run the batch again at most this many times when it was rolled back with CONFLICT or TIMEOUT. */
  retry?: number;
}

/** A snapshot page with its values decoded (`VitessClient.snapshot`). */
export interface SnapshotPage {
  table: string;
  rows: Row[];
  /** Pass as `afterKey` for the next page; null after the last one. */
  nextKey: SqlValue[] | null;
  /** The shard's LSN the page is exactly the state at. */
  lsn: number;
}

/** A snapshot page with its rows as they travel: JSON text of wire-value arrays in `columns`' order (`pageRows` reads it). */
export type SnapshotText = Omit<SnapshotPage, 'rows'> & PageText;

const DEFAULT_TIMEOUT_MS = 30_000;

/** `VITESS_TOKEN` in Node (as `PGPASSWORD` for psql); browsers and Workers have no environment. */
const envToken = (): string | undefined => (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.VITESS_TOKEN || undefined;

export class VitessClient {
  readonly keyspace: string;
  readonly #opts: ClientOptions;
  readonly #retry: RetryPolicy;
  readonly #transport: Transport;
  readonly #timeoutMs: number;
  #bookmark: string;
  readonly #subscriptions = new Set<Subscription<{ position: string }>>();

  constructor(opts: ClientOptions) {
    if (!opts || typeof opts.endpoint !== 'string') throw new VitessError('INVALID', 'createClient needs { endpoint: "http://…" }');
    this.#opts = opts;
    this.keyspace = opts.keyspace ?? 'main';
    this.#retry = retryPolicy(opts.retry);
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#bookmark = opts.bookmark ?? '';
    this.#transport = new Transport({
      endpoint: opts.endpoint,
      token: opts.token ?? envToken(),
      timeoutMs: this.#timeoutMs,
      fetch: opts.fetch as FetchFn | undefined,
      WebSocket: opts.WebSocket as WebSocketClass | undefined,
      compression: opts.compression,
    });
  }

  /**
   * The positions of every answer so far, merged (the latest LSN of each shard): sent with every
   * later call, so reads see this client's writes, however concurrent calls' answers interleave.
   */
  get bookmark(): string {
    return this.#bookmark;
  }

  /** Hand a bookmark over from another client (or reset it with `''`). */
  set bookmark(b: string) {
    this.#bookmark = b ?? '';
  }

  /** Whether calls go over the WebSocket (after `connect()`, until `disconnect()`). */
  get connected(): boolean {
    return this.#transport.connected;
  }

  /** How many times a dropped WebSocket was reopened. */
  get reconnects(): number {
    return this.#transport.reconnects;
  }

  /** Opens the WebSocket session; calls use it from now on (and reopen it if it drops). */
  async connect(): Promise<this> {
    try {
      await withRetry(this.#retry, true, () => this.#transport.connect(), { classify });
    } catch (e) {
      this.#transport.disconnect(); // stay in HTTP batch mode
      throw e;
    }
    return this;
  }

  /** Closes the WebSocket and every subscription of this client. */
  async disconnect(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    this.#transport.disconnect();
  }

  async query<T = Row>(sql: string, params?: SqlValue[], opts?: QueryOptions): Promise<QueryResult<T>> {
    const r = await this.#call(isSafeToRetry(sql), (api) => api.keyspace(this.keyspace).query(sql, toRpcParams(params), this.#readOptions(opts)));
    return queryResult<T>(this.#seen(r));
  }

  async execute<T = Row>(sql: string, params?: SqlValue[], opts?: QueryOptions): Promise<ExecuteResult<T>> {
    const r = await this.#call(isSafeToRetry(sql), (api) => api.keyspace(this.keyspace).query(sql, toRpcParams(params), this.#readOptions(opts)));
    return executeResult<T>(this.#seen(r));
  }

  /**
   * Merges the Yjs update `update` (`Y.encodeStateAsUpdate`, or an update event's bytes) into the
   * `bytea` column `column` of the row of `table` whose columns equal `key`, e.g. `{ id: 7 }`:
   * concurrent merges from anywhere converge (docs/yjs.md). Read the state back as bytes with
   * `query` and `Y.applyUpdate`. Retried like a read: merging an update twice changes nothing.
   */
  async applyUpdate(table: string, key: Record<string, SqlValue>, column: string, update: Uint8Array): Promise<ExecuteResult> {
    const wireKey = Object.fromEntries(Object.entries(key).map(([k, v]) => [k, toRpc(v)]));
    const r = await this.#call(true, (api) => api.keyspace(this.keyspace).applyUpdate(table, wireKey, column, update, { bookmark: this.#bookmark }));
    return executeResult(this.#seen(r));
  }

  /** Runs statements in order and returns their results in order; `atomic`: all or nothing. */
  async batch<T = Row>(statements: Statement[], opts: BatchOptions = {}): Promise<StatementResult<T>[]> {
    const wire = statements.map((s) => ({ sql: s.sql, params: toRpcParams(s.params) }));
    const retrySafe = statements.every((s) => isSafeToRetry(s.sql));
    const { atomic, retry, ...read } = opts;
    const rs = await withTransactionRetry(atomic ? (retry ?? 0) : 0, this.#retry, () =>
      this.#call(retrySafe, (api) => api.keyspace(this.keyspace).batch(wire, { ...this.#readOptions(read), ...(atomic ? { atomic } : {}) })),
    );
    return rs.map((r) => statementResult<T>(this.#seen(r)));
  }

  /**
   * Runs `fn` in a transaction: commits when it resolves (across shards with two-phase commit),
   * rolls back when it throws and rethrows. `retry: n` runs it again on CONFLICT or TIMEOUT.
   * Needs a WebSocket: without `connect()` one is opened for the transaction.
   */
  async transaction<R>(fn: (tx: Transaction) => Promise<R>, opts: TransactionOptions = {}): Promise<R> {
    return withTransactionRetry(opts.retry ?? 0, this.#retry, () => this.#transaction(fn, opts));
  }

  async #transaction<R>(fn: (tx: Transaction) => Promise<R>, opts: TransactionOptions): Promise<R> {
    const { session, release } = await withRetry(this.#retry, true, () => this.#transport.session(), { classify });
    try {
      // It starts from the client's bookmark: a socket's session on the gateway may know none of it.
      const begin = { ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }), ...(this.#bookmark && { bookmark: this.#bookmark }) };
      const stub = session.keyspace(this.keyspace).begin(begin) as unknown as RpcStub<TransactionApi>;
      const runner = new TransactionRunner(stub, this.#timeoutMs);
      try {
        return await runner.run(fn);
      } finally {
        // Merged, committed or not: a rolled-back transaction's bookmark never lowers the client's.
        this.#bookmark = mergeBookmarks(this.#bookmark, runner.bookmark);
      }
    } finally {
      release();
    }
  }

  /**
   * The keyspace's change stream (docs/subscriptions.md): row changes in per-shard LSN order,
   * merged across shards, filtered by tables, shards or key range, from `now` (default), the
   * `beginning` of the retained log, or a saved `position`. With `onEvent`, resolves once the
   * start is pinned and then calls `onEvent` for each event, one at a time (the next one only
   * after its promise settles). Without it, returns the subscription to iterate with `for await`.
   * Over the WebSocket after `connect()`, else one HTTP request per page.
   */
  subscribe<T = Row>(opts: SubscribeOptions & { ddl: true }, onEvent: (ev: SubscriptionEvent<T>) => unknown): Promise<Subscription<SubscriptionEvent<T>>>;
  subscribe<T = Row>(opts: SubscribeOptions, onEvent: (ev: ChangeEvent<T>) => unknown): Promise<Subscription<ChangeEvent<T>>>;
  subscribe<T = Row>(opts: SubscribeOptions & { ddl: true }): Subscription<SubscriptionEvent<T>>;
  subscribe<T = Row>(opts?: SubscribeOptions): Subscription<ChangeEvent<T>>;
  subscribe(opts: SubscribeOptions = {}, onEvent?: (ev: never) => unknown): Promise<Subscription<{ position: string }>> | Subscription<{ position: string }> {
    const fetchPage = (req: ChangesRequest) => this.#transport.call(async (api) => (await api.keyspace(this.keyspace).changes(req)) as ChangesPage);
    const sub = new Subscription<{ position: string }>(fetchPage, this.keyspace, opts ?? {}, this.#retry, this.#timeoutMs);
    this.#subscriptions.add(sub);
    void sub.done.catch(() => undefined).finally(() => this.#subscriptions.delete(sub));
    if (!onEvent) return sub;
    sub.run(onEvent as (ev: { position: string }) => unknown);
    return sub.ready.then(() => sub);
  }

  /**
   * One page of the change stream after `req.from` (what `subscribe` pulls), retried like a read.
   * For consumers that track pages themselves, such as embedded replicas.
   */
  async changes(req: ChangesRequest): Promise<ChangesPage> {
    return this.#call(true, async (api) => (await api.keyspace(this.keyspace).changes(req)) as ChangesPage);
  }

  /** One page of `table` on `shard` in primary-key order, exactly the shard's state at `lsn` (an embedded replica's copy). */
  async snapshot(req: Omit<SnapshotRequest, 'afterKey'> & { afterKey?: SqlValue[] | null }): Promise<SnapshotPage> {
    const { columns, json, ...page } = await this.snapshotText(req);
    return { ...page, rows: pageRows(columns, json) };
  }

  /** `snapshot` without decoding the rows: for a consumer that loads the JSON text whole (an embedded replica's copy). */
  async snapshotText(req: Omit<SnapshotRequest, 'afterKey'> & { afterKey?: SqlValue[] | null }): Promise<SnapshotText> {
    const wire = { ...req, afterKey: req.afterKey ? req.afterKey.map(toRpc) : null };
    const p = await this.#call(true, async (api) => (await api.keyspace(this.keyspace).snapshot(wire)) as RpcSnapshotPage);
    return { table: p.table, columns: p.columns, json: p.rowsJson, nextKey: p.nextKey ? p.nextKey.map((v) => fromRpc(v)) : null, lsn: p.lsn };
  }

  /** The DDL history of each shard (default: all): the schema an embedded replica builds. */
  async schema(shards?: string[]): Promise<ShardSchema[]> {
    return this.#call(true, async (api) => (await api.keyspace(this.keyspace).schema(shards)) as ShardSchema[]);
  }

  /** Shards, key ranges and primary LSNs of every keyspace. */
  async status(): Promise<GatewayStatus> {
    return this.#call(true, (api) => api.gateway.status());
  }

  #readOptions(o: QueryOptions = {}): ReadOptions {
    const out: ReadOptions = {};
    const consistency = o.consistency ?? this.#opts.consistency;
    const region = o.region ?? this.#opts.region;
    const maxStalenessMs = o.maxStalenessMs ?? this.#opts.maxStalenessMs;
    const bookmark = o.bookmark ?? this.#bookmark;
    if (consistency !== undefined) out.consistency = consistency;
    if (region !== undefined) out.region = region;
    if (maxStalenessMs !== undefined) out.maxStalenessMs = maxStalenessMs;
    if (bookmark) out.bookmark = bookmark;
    return out;
  }

  #seen(r: RpcResult): RpcResult {
    if (typeof r.bookmark === 'string') this.#bookmark = mergeBookmarks(this.#bookmark, r.bookmark);
    return r;
  }

  #call<T>(idempotent: boolean, fn: (api: Api) => PromiseLike<T>): Promise<T> {
    return withRetry(this.#retry, idempotent, () => this.#transport.call(async (api) => (await fn(api)) as T), { classify });
  }
}

/** A client for one keyspace of a VTGate. Without `connect()` every call is one HTTP request. */
export function createClient(opts: ClientOptions): VitessClient {
  return new VitessClient(opts);
}
