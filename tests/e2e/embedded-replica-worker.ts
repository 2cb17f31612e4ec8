// The Worker for tests/e2e/embedded-replica.test.ts: VTGate exactly as deployed
// (router/server.ts), plus a test-only Durable Object that embeds `createReplica` on its own
// SQLite storage (engine 'do-sqlite') and reaches VTGate over HTTP like any other client.
// `POST /test/embedded/<name>` with `{ op, … }` drives it: open, query, execute, wait (for a
// bookmark), status, close.
import { DurableObject } from 'cloudflare:workers';
import { createReplica, type EmbeddedReplica, type ReplicaOptions } from '../../replica/index.js';
import { asVitessError } from '../../rpc/errors.js';
import { rowFromWire, rowToWire, type WireValue } from '../../rpc/values.js';
import { VTCoordinator, VTGate, VTReplica, VTSequence, VTTablet } from '../../router/server.js';

export { VTCoordinator, VTReplica, VTSequence, VTTablet };

interface Op {
  op: 'open' | 'query' | 'execute' | 'wait' | 'status' | 'close';
  bookmark?: string;
  endpoint?: string;
  options?: Partial<ReplicaOptions>;
  sql?: string;
  /** Parameters as one wire-encoded row (`{ "0": …, "1": … }`). */
  params?: Record<string, WireValue>;
}

interface Env {
  EMBEDDED: DurableObjectNamespace<EmbeddedHost>;
}

export class EmbeddedHost extends DurableObject<Env> {
  private replica: EmbeddedReplica | undefined;

  override async fetch(req: Request): Promise<Response> {
    const o = (await req.json()) as Op;
    try {
      const params = Object.values(rowFromWire(o.params ?? {}));
      switch (o.op) {
        case 'open':
          await this.replica?.close();
          this.replica = await createReplica({ keyspace: 'main', ...o.options, endpoint: o.endpoint!, engine: 'do-sqlite', storage: this.ctx.storage });
          return Response.json(this.replica.status);
        case 'query': {
          const r = await this.open().query(o.sql!, params);
          return Response.json({ rows: r.rows.map(rowToWire), lsns: this.open().lsns });
        }
        case 'execute': {
          const r = await this.open().execute(o.sql!, params);
          return Response.json({ affected: r.affected, bookmark: r.bookmark });
        }
        case 'wait':
          await this.open().waitFor(o.bookmark!);
          return Response.json(this.open().status);
        case 'status':
          return Response.json(this.open().status);
        case 'close':
          await this.replica?.close();
          this.replica = undefined;
          return Response.json({ closed: true });
      }
    } catch (e) {
      const err = asVitessError(e);
      return Response.json({ error: { code: err.code, message: err.message } }, { status: 500 });
    }
  }

  private open(): EmbeddedReplica {
    if (!this.replica) throw new Error('open the replica first');
    return this.replica;
  }
}

export default class TestGate extends VTGate {
  override async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const m = /^\/test\/embedded\/([\w-]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return super.fetch(req);
    const ns = (this.env as unknown as Env).EMBEDDED;
    return ns.getByName(m[1]!).fetch(req);
  }
}
