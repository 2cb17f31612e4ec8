import { WorkerEntrypoint } from 'cloudflare:workers';
import type { VTTablet } from '../primary/tablet.js';
import { VitessError } from '../rpc/errors.js';
import { fromWire } from '../rpc/values.js';
import { errorResponse, resultJson } from './http.js';
import { DEFAULT_KEYSPACES, type Keyspace } from './keyspaces.js';

export interface Env {
  TABLET: DurableObjectNamespace<VTTablet>;
}

/** The tablet's RPC surface as the gateway calls it (the generated stub type is too deep for tsc). */
type TabletStub = Pick<VTTablet, 'query' | 'batch'>;

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

  private async sql(req: Request): Promise<Response> {
    const body = (await req.json().catch(() => {
      throw new VitessError('INVALID', 'request body must be JSON: { "sql": "...", "params": [...], "keyspace": "main" }');
    })) as SqlRequest;
    if (typeof body.sql !== 'string') throw new VitessError('INVALID', 'field "sql" must be a string');
    if (body.params !== undefined && !Array.isArray(body.params)) throw new VitessError('INVALID', 'field "params" must be an array');
    const ks = this.keyspace(body.keyspace);
    const params = ((body.params as unknown[] | undefined) ?? []).map(fromWire);
    const tablet = this.env.TABLET.getByName(`${ks.name}/${ks.shards[0]}`) as unknown as TabletStub;
    return Response.json(resultJson(await tablet.query(ks.engine, body.sql, params)));
  }

  override async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    try {
      if (req.method === 'POST' && url.pathname === '/sql') return await this.sql(req);
      if (req.method === 'GET' && url.pathname === '/status') return Response.json({ keyspaces: DEFAULT_KEYSPACES });
      if (req.method === 'GET' && url.pathname === '/') {
        return new Response(`Vitess.do gateway\n\nPOST /sql {"sql","params","keyspace"}  ·  GET /status\nkeyspaces: ${DEFAULT_KEYSPACES.map((k) => `${k.name} (${k.engine})`).join(', ')}\n`, {
          headers: { 'content-type': 'text/plain; charset=utf-8' },
        });
      }
      throw new VitessError('NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
    } catch (e) {
      return errorResponse(e);
    }
  }
}
