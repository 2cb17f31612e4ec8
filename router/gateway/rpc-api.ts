/**
 * VTGate's capnweb objects (rpc/protocol.ts): the main `Gateway`, a `KeyspaceSession` per
 * keyspace (a capability: it holds the session's bookmark), and a `Transaction` per
 * interactive transaction. Errors leave as `[CODE] message` so the client can type them.
 */
import { RpcTarget } from 'capnweb';
import { encodeError, guarded } from '../../rpc/errors.js';
import type {
  ChangesPage,
  ChangesRequest,
  Consistency,
  GatewayApi,
  GatewayStatus,
  KeyspaceApi,
  ReadOptions,
  RpcResult,
  RpcSnapshotPage,
  RpcStatement,
  ServedBy,
  ShardSchema,
  SnapshotRequest,
  TransactionApi,
} from '../../rpc/protocol.js';
import { fromRpc, toRpc, type RpcValue } from '../../rpc/values.js';
import { checkExpiry, type Access } from '../access/token.js';
import { visibility, type Visibility } from '../access/visibility.js';
import { Session, type ReadRouting, type SessionResult } from '../session.js';
import type { ShardTransaction } from '../txn/shard-transaction.js';
import { shardSchemas, snapshotPage } from '../streams/snapshots.js';
import { changesPage } from '../streams/subscriptions.js';
import { gatewayStatus } from '../ops/status.js';
import type { RequestLocation, Topology } from '../topology.js';

/** Runs one call of a connection: the token may have expired since the connection opened. */
function unexpired<T>(access: Access, fn: () => Promise<T>): Promise<T> {
  return guarded(async () => {
    checkExpiry(access);
    return await fn();
  });
}

const params = (p: RpcValue[] | undefined) => (p ?? []).map(fromRpc);

/** Who answered. A primary's location is Cloudflare's choice: for it, where the request was routed from. */
export const servedBy = (r: SessionResult, region: string): ServedBy => ({ shard: r.shards.join(','), role: r.role, region: r.region ?? region });

export function rpcResult(r: SessionResult, region: string): RpcResult {
  return {
    rows: r.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toRpc(v)]))),
    fields: r.fields,
    rowCount: r.rows.length,
    affected: r.affected,
    ...(r.lastInsertId !== undefined && { lastInsertId: r.lastInsertId }),
    bookmark: r.bookmark,
    servedBy: servedBy(r, region),
    plan: r.plan,
    ...(r.atomicity && { atomicity: r.atomicity }),
  };
}

/** Where a request comes from: the region it asked for (`x-vitess-region`), and Cloudflare's location of it. */
export interface Origin {
  asked?: string;
  cf?: RequestLocation;
}

/** The read routing for one call: its options over the request's origin; the client's default consistency is `session`. */
export function readRouting(
  topology: Topology,
  keyspace: string,
  origin: Origin,
  opts: ReadOptions,
  fallback: Consistency = 'session',
): ReadRouting | undefined {
  const region = topology.regionFor(keyspace, opts.region ?? origin.asked, origin.cf);
  if (!region) return undefined;
  return { consistency: opts.consistency ?? fallback, region, ...(opts.maxStalenessMs !== undefined && { maxStalenessMs: opts.maxStalenessMs }) };
}

class Transaction extends RpcTarget implements TransactionApi {
  constructor(
    private readonly session: Session,
    private readonly tx: ShardTransaction,
    private readonly region: string,
    private readonly access: Access,
  ) {
    super();
  }

  query(sql: string, p?: RpcValue[]): Promise<RpcResult> {
    return unexpired(this.access, async () => rpcResult(await this.session.run(sql, params(p), this.tx), this.region));
  }

  commit(): Promise<{ bookmark: string }> {
    return unexpired(this.access, async () => ({ bookmark: await this.session.commit(this.tx) }));
  }

  /** Always allowed, an expired token included: it only gives up. */
  rollback(): Promise<void> {
    return guarded(() => this.tx.rollback());
  }

  /** The client went away (or dropped the stub) with the transaction open: roll it back. */
  [Symbol.dispose](): void {
    void this.tx.rollback();
  }
}

class KeyspaceSession extends RpcTarget implements KeyspaceApi {
  readonly #vis: Visibility | undefined;

  constructor(
    private readonly session: Session,
    private readonly origin: Origin,
    private readonly access: Access,
  ) {
    super();
    this.#vis = visibility(access.grants, session.internal);
  }

  private region(opts: ReadOptions): string {
    return this.session.topology.regionFor(this.session.keyspace, opts.region ?? this.origin.asked, this.origin.cf) ?? 'local';
  }

  query(sql: string, p?: RpcValue[], opts: ReadOptions = {}): Promise<RpcResult> {
    return unexpired(this.access, async () => {
      this.session.observe(opts.bookmark);
      const read = readRouting(this.session.topology, this.session.keyspace, this.origin, opts);
      return rpcResult(await this.session.run(sql, params(p), undefined, read), this.region(opts));
    });
  }

  batch(statements: RpcStatement[], opts: ReadOptions & { atomic?: boolean } = {}): Promise<RpcResult[]> {
    return unexpired(this.access, async () => {
      this.session.observe(opts.bookmark);
      const read = readRouting(this.session.topology, this.session.keyspace, this.origin, opts);
      const out = await this.session.batch(
        statements.map((s) => ({ sql: s.sql, params: params(s.params) })),
        opts.atomic === true,
        read,
      );
      return out.map((r) => rpcResult(r, this.region(opts)));
    });
  }

  begin(opts: { timeoutMs?: number; bookmark?: string } = {}): TransactionApi {
    try {
      checkExpiry(this.access);
      this.session.observe(opts.bookmark);
      return new Transaction(this.session, this.session.begin(opts.timeoutMs), this.region({}), this.access);
    } catch (e) {
      throw encodeError(e);
    }
  }

  /** The next page of the keyspace's change stream (router/streams/subscriptions.ts), as the token may see it. */
  changes(req: ChangesRequest): Promise<ChangesPage> {
    return unexpired(this.access, () => changesPage(this.session.topology, this.session.keyspace, req, this.#vis));
  }

  /** One snapshot page of a table on one shard (router/streams/snapshots.ts): an embedded replica's copy. */
  snapshot(req: SnapshotRequest): Promise<RpcSnapshotPage> {
    return unexpired(this.access, () => snapshotPage(this.session.topology, this.session.keyspace, req, this.#vis));
  }

  /** Merges a Yjs update into a row's bytea column (Session.applyUpdate, docs/yjs.md). */
  applyUpdate(table: string, key: Record<string, RpcValue>, column: string, update: Uint8Array, opts: { bookmark?: string } = {}): Promise<RpcResult> {
    return unexpired(this.access, async () => {
      this.session.observe(opts.bookmark);
      const row = Object.fromEntries(Object.entries(key ?? {}).map(([k, v]) => [k, fromRpc(v)]));
      return rpcResult(await this.session.applyUpdate(table, row, column, update), this.region({}));
    });
  }

  /** The shards' DDL histories: an embedded replica's schema. */
  schema(shards?: string[]): Promise<ShardSchema[]> {
    return unexpired(this.access, () => shardSchemas(this.session.topology, this.session.keyspace, shards, this.#vis));
  }
}

/** The main object at `/rpc`, for one verified token. */
export class Gateway extends RpcTarget implements GatewayApi {
  constructor(
    private readonly topology: Topology,
    private readonly origin: Origin,
    private readonly access: Access,
  ) {
    super();
  }

  keyspace(name: string): KeyspaceApi {
    try {
      checkExpiry(this.access);
      return new KeyspaceSession(new Session(this.topology, name, undefined, this.access.grants), this.origin, this.access);
    } catch (e) {
      throw encodeError(e);
    }
  }

  status(): Promise<GatewayStatus> {
    return unexpired(this.access, () => gatewayStatus(this.topology, this.access.grants));
  }
}
