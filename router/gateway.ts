import { WorkerEntrypoint } from 'cloudflare:workers';
import type { VTTablet } from '../primary/tablet.js';
import { VitessError } from '../rpc/errors.js';
import { changesToWire } from '../rpc/changes.js';
import { fromWire } from '../rpc/values.js';
import { errorResponse, resultJson } from './http.js';
import { DEFAULT_KEYSPACES, type Keyspace } from './keyspaces.js';

export interface Env {
  TABLET: DurableObjectNamespace<VTTablet>;
}

/** The tablet's RPC surface as the gateway calls it (the generated stub type is too deep for tsc). */
type TabletStub = Pick<VTTablet, 'query' | 'batch' | 'pull' | 'status'>;

interface SqlRequest {
  sql?: unknown;
  params?: unknown;
  keyspace?: unknown;
}

/** VTGate: the Worker in front of the shards. */
export class VTGate extends WorkerEntrypoint<Env> {
  private keyspace(name: unknown): Keyspace {
    const ks = DEFAULT_KEYSPACES.find((k) => k.name === (name ?? 'main'));
    if (!ks) throw new VitessError('NOT_FOUND', `keyspace "${String(name)}" does not exist (known: ${DEFAULT_KEYSPACES.map((k) => k.name).join(', ')})`);
    return ks;
  }

  private tablet(ks: Keyspace, shard = ks.shards[0]!): TabletStub {
    return this.env.TABLET.getByName(`${ks.name}/${shard}`) as unknown as TabletStub;
  }

  private async sql(req: Request): Promise<Response> {
    const body = (await req.json().catch(() => {
      throw new VitessError('INVALID', 'request body must be JSON: { "sql": "...", "params": [...], "keyspace": "main" }');
    })) as SqlRequest;
    if (typeof body.sql !== 'string') throw new VitessError('INVALID', 'field "sql" must be a string');
    if (body.params !== undefined && !Array.isArray(body.params)) throw new VitessError('INVALID', 'field "params" must be an array');
    const ks = this.keyspace(body.keyspace);
    const params = ((body.params as unknown[] | undefined) ?? []).map(fromWire);
    const r = await this.tablet(ks).query(ks.engine, body.sql, params);
    return Response.json({ ...(resultJson(r) as object), lsn: r.lsn });
  }

  /** The shard's change log from an LSN, values in the JSON wire encoding. */
  private async log(url: URL): Promise<Response> {
    const ks = this.keyspace(url.searchParams.get('keyspace') ?? undefined);
    const from = Number(url.searchParams.get('from') ?? 1);
    const max = Number(url.searchParams.get('max') ?? 1000);
    const { records, lastLsn } = await this.tablet(ks).pull(from, { maxRecords: max });
    return Response.json({ lastLsn, records: records.map((r) => ({ ...r, changes: changesToWire(r.changes) })) });
  }

  private async status(): Promise<Response> {
    const keyspaces = await Promise.all(DEFAULT_KEYSPACES.map(async (ks) => ({
      ...ks,
      primaries: await Promise.all(ks.shards.map(async (shard) => ({ shard, ...(await this.tablet(ks, shard).status()) }))),
    })));
    return Response.json({ keyspaces });
  }

  override async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    try {
      if (req.method === 'POST' && url.pathname === '/sql') return await this.sql(req);
      if (req.method === 'GET' && url.pathname === '/status') return await this.status();
      if (req.method === 'GET' && url.pathname === '/log') return await this.log(url);
      if (req.method === 'GET' && url.pathname === '/') {
        return new Response(`Vitess.do gateway\n\nPOST /sql {"sql","params","keyspace"}  ·  GET /status  ·  GET /log?keyspace=main&from=1\nkeyspaces: ${DEFAULT_KEYSPACES.map((k) => `${k.name} (${k.engine})`).join(', ')}\n`, {
          headers: { 'content-type': 'text/plain; charset=utf-8' },
        });
      }
      throw new VitessError('NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
    } catch (e) {
      return errorResponse(e);
    }
  }
}
