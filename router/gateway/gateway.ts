import { WorkerEntrypoint } from 'cloudflare:workers';
import { newHttpBatchRpcResponse, newWebSocketRpcSession, type RpcSessionOptions } from 'capnweb';
import { changesToWire } from '../../rpc/changes.js';
import { checkBatchLength } from '../../engines/limits.js';
import { asVitessError, VitessError } from '../../rpc/errors.js';
import { fromWire } from '../../rpc/values.js';
import { RPC_PROTOCOL, type ReadOptions } from '../../rpc/protocol.js';
import { internalTables } from '../access/authorize.js';
import { checkKeyspace } from '../access/grants.js';
import { bearerOf, requireAdmin, tokenCookie, verifyToken, type Access } from '../access/token.js';
import { visibility } from '../access/visibility.js';
import { dashboardResponse } from '../ops/dashboard.js';
import { demoResponse } from '../ops/demo.js';
import { allowedOrigin, corsHeaders, MAX_BODY_BYTES, preflight, readBody } from './edge.js';
import { errorResponse, resultJson } from './http.js';
import { loginPage } from './login.js';
import { metrics, statusFamilies } from '../ops/metrics.js';
import { CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE, formatPrometheus } from '../ops/metrics-format.js';
import { Gateway, readRouting, servedBy, type Origin } from './rpc-api.js';
import { Session, type SessionResult } from '../session.js';
import { transactionCounters } from '../txn/shard-transaction.js';
import { gatewayStatus } from '../ops/status.js';
import { changesJson } from '../streams/subscriptions.js';
import { configuredVSchema, Topology, type Env, type RequestLocation } from '../topology.js';

export type { Env } from '../topology.js';

interface SqlRequest {
  sql?: unknown;
  params?: unknown;
  keyspace?: unknown;
  bookmark?: unknown;
  /** A batch instead of one statement: `[{ sql, params }]`, with `atomic`. */
  batch?: unknown;
  atomic?: unknown;
  consistency?: unknown;
  region?: unknown;
  maxStalenessMs?: unknown;
}

const params = (p: unknown, where: string): unknown[] => {
  if (p === undefined) return [];
  if (!Array.isArray(p)) throw new VitessError('INVALID', `${where} must be an array`);
  return p.map(fromWire);
};

/** Pages a browser navigates to: without a token they answer with a sign-in form. */
const PAGES = new Set(['/', '/demo']);
const DEMO_ON = ['on', 'true', '1'];

/** capnweb's own message cap, at VTGate's request-body cap. */
const RPC_OPTIONS: RpcSessionOptions = { limits: { maxMessageSize: MAX_BODY_BYTES } };

/** A result as `/sql` answers it: rows in the tagged JSON wire encoding. */
function rpcResultJson(r: SessionResult, region: string): unknown {
  return {
    ...(resultJson(r) as object),
    ...(r.lastInsertId !== undefined && { lastInsertId: r.lastInsertId }),
    bookmark: r.bookmark,
    servedBy: servedBy(r, region),
    plan: r.plan,
    ...(r.atomicity && { atomicity: r.atomicity }),
  };
}

/** VTGate: the Worker in front of the shards. */
export class VTGate extends WorkerEntrypoint<Env> {
  private topology(): Topology {
    return new Topology(configuredVSchema(this.env), this.env, true);
  }

  /** Where the request comes from: the region it asks for, and Cloudflare's location of it. */
  private origin(req: Request): Origin {
    const asked = req.headers.get('x-vitess-region') ?? undefined;
    const cf = (req as { cf?: RequestLocation }).cf;
    return { ...(asked && { asked }), ...(cf && { cf }) };
  }

  protected async sql(req: Request, access: Access): Promise<Response> {
    const text = await readBody(req);
    const body = (() => {
      try {
        return JSON.parse(text) as SqlRequest;
      } catch {
        throw new VitessError('INVALID', 'request body must be JSON: { "sql": "...", "params": [...], "keyspace": "main" }');
      }
    })();
    if (!body || typeof body !== 'object')
      throw new VitessError('INVALID', 'request body must be a JSON object: { "sql": "...", "params": [...], "keyspace": "main" }');
    if (body.bookmark !== undefined && typeof body.bookmark !== 'string') throw new VitessError('INVALID', 'field "bookmark" must be a string');
    for (const f of ['consistency', 'region'] as const) {
      if (body[f] !== undefined && typeof body[f] !== 'string') throw new VitessError('INVALID', `field "${f}" must be a string`);
    }
    if (body.consistency !== undefined && !['strong', 'session', 'eventual'].includes(body.consistency as string)) {
      throw new VitessError('INVALID', `field "consistency" must be "strong", "session" or "eventual", not "${String(body.consistency)}"`);
    }
    if (body.maxStalenessMs !== undefined && typeof body.maxStalenessMs !== 'number')
      throw new VitessError('INVALID', 'field "maxStalenessMs" must be a number');
    const topology = this.topology();
    const keyspace = typeof body.keyspace === 'string' ? body.keyspace : 'main';
    const session = new Session(topology, keyspace, body.bookmark as string | undefined, access.grants);
    const opts = { consistency: body.consistency, region: body.region, maxStalenessMs: body.maxStalenessMs } as ReadOptions;
    // A request without a bookmark has no session to be consistent with: read the primaries
    // unless it asks for replicas, so that curl sees what it just wrote.
    const read = readRouting(topology, keyspace, this.origin(req), opts, body.bookmark ? 'session' : 'strong');
    const json = (r: SessionResult) => rpcResultJson(r, read?.region ?? 'local');
    if (body.batch !== undefined) {
      if (!Array.isArray(body.batch)) throw new VitessError('INVALID', 'field "batch" must be an array of { "sql", "params" }');
      checkBatchLength(body.batch.length);
      const statements = body.batch.map((s: { sql?: unknown; params?: unknown }, i) => {
        if (typeof s?.sql !== 'string') throw new VitessError('INVALID', `batch[${i}].sql must be a string`);
        return { sql: s.sql, params: params(s.params, `batch[${i}].params`) as never[] };
      });
      const results = await session.batch(statements, body.atomic === true, read);
      return Response.json({ results: results.map(json), bookmark: session.bookmark });
    }
    if (typeof body.sql !== 'string') throw new VitessError('INVALID', 'field "sql" must be a string');
    return Response.json(json(await session.run(body.sql, params(body.params, 'field "params"') as never[], undefined, read)));
  }

  /** One shard's change log from an LSN, values in the JSON wire encoding (admins only: the raw log). */
  private async log(url: URL): Promise<Response> {
    const topology = this.topology();
    const ks = topology.keyspace(url.searchParams.get('keyspace') ?? 'main');
    const shard = url.searchParams.get('shard') ?? ks.shards[0]!;
    if (!ks.shards.includes(shard)) throw new VitessError('NOT_FOUND', `keyspace "${ks.name}" has no shard "${shard}" (shards: ${ks.shards.join(' ')})`);
    const from = Number(url.searchParams.get('from') ?? 1);
    const max = Number(url.searchParams.get('max') ?? 1000);
    const { records, lastLsn } = await topology.tablet(ks.name, shard).pull(from, { maxRecords: max });
    return Response.json({ lastLsn, records: records.map((r) => ({ ...r, changes: changesToWire(r.changes) })) });
  }

  /** Prometheus text: this isolate's counters (router/ops/metrics.ts) and the shards' gauges. */
  private async metrics(): Promise<Response> {
    const status = await gatewayStatus(this.topology());
    return new Response(formatPrometheus([...metrics().families(transactionCounters), ...statusFamilies(status)]), {
      headers: { 'content-type': PROMETHEUS_CONTENT_TYPE },
    });
  }

  /** capnweb at `/rpc`: HTTP batch (a POST) or a WebSocket, for one verified token. */
  private async rpc(req: Request, access: Access): Promise<Response> {
    const main = new Gateway(this.topology(), this.origin(req), access);
    if (req.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const pair = new WebSocketPair();
      const [client, server] = [pair[0], pair[1]];
      server.accept();
      newWebSocketRpcSession(server as unknown as WebSocket, main, RPC_OPTIONS);
      // A browser fails the connection unless VTGate picks one of the subprotocols it offered.
      const offered = (req.headers.get('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
      return new Response(null, { status: 101, webSocket: client, headers: offered.includes(RPC_PROTOCOL) ? { 'sec-websocket-protocol': RPC_PROTOCOL } : {} });
    }
    if (req.method !== 'POST') throw new VitessError('INVALID', '/rpc takes a POST (capnweb HTTP batch) or a WebSocket upgrade');
    const body = await readBody(req);
    return newHttpBatchRpcResponse(new Request(req.url, { method: 'POST', body }), main, RPC_OPTIONS);
  }

  /** `POST /login`: keeps a verified bearer token in a cookie for VTGate's own pages. */
  private login(req: Request, access: Access): Response {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.get('authorization') ?? '')?.[1];
    if (!token) throw new VitessError('UNAUTHENTICATED', 'POST /login takes the token as Authorization: Bearer <JWT>');
    return new Response(null, { status: 204, headers: { 'set-cookie': tokenCookie(token, access, new URL(req.url).protocol === 'https:') } });
  }

  private async route(req: Request, url: URL, access: Access): Promise<Response> {
    const { grants } = access;
    const get = req.method === 'GET';
    const path = url.pathname;
    if (path === '/rpc') return await this.rpc(req, access);
    if (req.method === 'POST' && path === '/sql') return await this.sql(req, access);
    if (req.method === 'POST' && path === '/login') return this.login(req, access);
    if (get && path === '/status') return Response.json(await gatewayStatus(this.topology(), grants));
    if (get && path === '/changes') {
      const topology = this.topology();
      const keyspace = url.searchParams.get('keyspace') ?? 'main';
      topology.keyspace(keyspace);
      checkKeyspace(grants, keyspace);
      return await changesJson(topology, url, visibility(grants, internalTables(topology.vschema, keyspace)));
    }
    if (get && path === '/demo') {
      if (!DEMO_ON.includes(this.env.VITESS_DEMO ?? ''))
        throw new VitessError('NOT_FOUND', 'the demo is off: set VITESS_DEMO=on (it is on in the local default, .dev.vars)');
      checkKeyspace(grants, url.searchParams.get('keyspace') ?? 'main');
      return await demoResponse(this.topology(), url);
    }
    if (get && path === '/') return dashboardResponse();
    if (get && ['/log', '/metrics', '/errors'].includes(path)) {
      requireAdmin(grants, `GET ${path}`);
      if (path === '/log') return await this.log(url);
      if (path === '/metrics') return await this.metrics();
      return Response.json({ isolate: metrics().isolate, errors: metrics().recentErrors() });
    }
    throw new VitessError('NOT_FOUND', `no route for ${req.method} ${path}`);
  }

  override async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    let cors: Record<string, string> = {};
    try {
      // Before anything is parsed: the page's origin, then the token.
      const origin = allowedOrigin(req, this.env);
      cors = corsHeaders(origin);
      if (req.method === 'OPTIONS') return preflight(origin);
      let access: Access;
      try {
        access = await verifyToken(bearerOf(req), this.env);
      } catch (e) {
        // A browser navigating to a page gets a sign-in form with the 401.
        if (req.method === 'GET' && PAGES.has(url.pathname)) return loginPage(asVitessError(e).message);
        throw e;
      }
      const res = await this.route(req, url, access);
      if (res.status === 101 || !origin) return res;
      const headers = new Headers(res.headers);
      for (const [k, v] of Object.entries(cors)) headers.set(k, v);
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    } catch (e) {
      return errorResponse(e, cors);
    }
  }
}
