import { WorkerEntrypoint } from 'cloudflare:workers';
import { newWorkersRpcResponse } from 'capnweb';
import { changesToWire } from '../rpc/changes.js';
import { VitessError } from '../rpc/errors.js';
import { fromWire } from '../rpc/values.js';
import type { ReadOptions } from '../rpc/protocol.js';
import { dashboardResponse } from './dashboard.js';
import { demoResponse } from './demo.js';
import { errorResponse, resultJson } from './http.js';
import { metrics, statusFamilies } from './metrics.js';
import { CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE, formatPrometheus } from './metrics-format.js';
import { Gateway, readRouting, servedBy, type Origin } from './rpc-api.js';
import { Session, type SessionResult } from './session.js';
import { transactionCounters } from './shard-transaction.js';
import { gatewayStatus } from './status.js';
import { changesJson } from './subscriptions.js';
import { configuredVSchema, Topology, type Env, type RequestLocation } from './topology.js';

export type { Env } from './topology.js';

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

/** A result as `/sql` answers it: rows in the tagged JSON wire encoding. */
function rpcResultJson(r: SessionResult, region: string): unknown {
  return { ...(resultJson(r) as object), ...(r.lastInsertId !== undefined && { lastInsertId: r.lastInsertId }), bookmark: r.bookmark, servedBy: servedBy(r, region), plan: r.plan };
}

/** VTGate: the Worker in front of the shards. */
export class VTGate extends WorkerEntrypoint<Env> {
  private topology(): Topology {
    return new Topology(configuredVSchema(this.env), this.env);
  }

  /** Where the request comes from: the region it asks for, and Cloudflare's location of it. */
  private origin(req: Request): Origin {
    const asked = req.headers.get('x-vitess-region') ?? undefined;
    const cf = (req as { cf?: RequestLocation }).cf;
    return { ...(asked && { asked }), ...(cf && { cf }) };
  }

  private async sql(req: Request): Promise<Response> {
    const body = (await req.json().catch(() => {
      throw new VitessError('INVALID', 'request body must be JSON: { "sql": "...", "params": [...], "keyspace": "main" }');
    })) as SqlRequest;
    if (body.bookmark !== undefined && typeof body.bookmark !== 'string') throw new VitessError('INVALID', 'field "bookmark" must be a string');
    for (const f of ['consistency', 'region'] as const) {
      if (body[f] !== undefined && typeof body[f] !== 'string') throw new VitessError('INVALID', `field "${f}" must be a string`);
    }
    if (body.consistency !== undefined && !['strong', 'session', 'eventual'].includes(body.consistency as string)) {
      throw new VitessError('INVALID', `field "consistency" must be "strong", "session" or "eventual", not "${String(body.consistency)}"`);
    }
    if (body.maxStalenessMs !== undefined && typeof body.maxStalenessMs !== 'number') throw new VitessError('INVALID', 'field "maxStalenessMs" must be a number');
    const topology = this.topology();
    const keyspace = typeof body.keyspace === 'string' ? body.keyspace : 'main';
    const session = new Session(topology, keyspace, body.bookmark as string | undefined);
    const opts = { consistency: body.consistency, region: body.region, maxStalenessMs: body.maxStalenessMs } as ReadOptions;
    // A request without a bookmark has no session to be consistent with: read the primaries
    // unless it asks for replicas, so that curl sees what it just wrote.
    const read = readRouting(topology, keyspace, this.origin(req), opts, body.bookmark ? 'session' : 'strong');
    const json = (r: SessionResult) => rpcResultJson(r, read?.region ?? 'local');
    if (body.batch !== undefined) {
      if (!Array.isArray(body.batch)) throw new VitessError('INVALID', 'field "batch" must be an array of { "sql", "params" }');
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

  /** One shard's change log from an LSN, values in the JSON wire encoding. */
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

  /** Prometheus text: this isolate's counters (router/metrics.ts) and the shards' gauges. */
  private async metrics(): Promise<Response> {
    const status = await gatewayStatus(this.topology());
    return new Response(formatPrometheus([...metrics().families(transactionCounters), ...statusFamilies(status)]), { headers: { 'content-type': PROMETHEUS_CONTENT_TYPE } });
  }

  override async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    try {
      if (url.pathname === '/rpc') return await newWorkersRpcResponse(req, new Gateway(this.topology(), this.origin(req)));
      if (req.method === 'POST' && url.pathname === '/sql') return await this.sql(req);
      if (req.method === 'GET' && url.pathname === '/status') return Response.json(await gatewayStatus(this.topology()));
      if (req.method === 'GET' && url.pathname === '/log') return await this.log(url);
      if (req.method === 'GET' && url.pathname === '/changes') return await changesJson(this.topology(), url);
      if (req.method === 'GET' && url.pathname === '/demo') return await demoResponse(this.topology(), url);
      if (req.method === 'GET' && url.pathname === '/metrics') return await this.metrics();
      if (req.method === 'GET' && url.pathname === '/errors') return Response.json({ isolate: metrics().isolate, errors: metrics().recentErrors() });
      if (req.method === 'GET' && url.pathname === '/') return dashboardResponse();
      throw new VitessError('NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
    } catch (e) {
      return errorResponse(e);
    }
  }
}
