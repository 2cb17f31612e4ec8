// Worker for the VTGate half of `npm run bench`: VTGate itself, and beside it the two baselines
// it is measured against in the same process: a minimal Worker that forwards the same SQL to the
// same tablet DO (`POST /direct`), and a Worker on a local D1 binding (`POST /d1`). `POST
// /noauth/sql` is VTGate's `/sql` without its token check and grants: the baseline of the
// auth-on ÷ auth-off figure (never in a deployed Worker).
import { VTCoordinator, VTGate, VTReplica, VTSequence, VTTablet } from '../router/server.js';
import { ADMIN } from '../router/access/grants.js';
import { errorResponse, resultJson } from '../router/gateway/http.js';
import type { Env } from '../router/topology.js';
import type { TabletApi } from '../rpc/do-api.js';
import { stubOf } from '../rpc/do-stub.js';
import { fromWire } from '../rpc/values.js';

export { VTCoordinator, VTReplica, VTSequence, VTTablet };

interface BenchEnv extends Env {
  DB: D1Database;
}

interface Forward {
  keyspace: string;
  shard: string;
  sql: string;
  params?: unknown[];
}

export default class BenchGate extends VTGate {
  override async fetch(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (path === '/direct') {
      const f = (await req.json()) as Forward;
      const tablet = stubOf<Pick<TabletApi, 'query'>>(this.env.TABLET.getByName(`${f.keyspace}/${f.shard}`));
      return Response.json(resultJson(await tablet.query('do-sqlite', f.sql, (f.params ?? []).map(fromWire))));
    }
    if (path === '/d1') {
      const f = (await req.json()) as Forward;
      const r = await (this.env as BenchEnv).DB.prepare(f.sql)
        .bind(...(f.params ?? []))
        .all();
      return Response.json({ rows: r.results, affected: r.meta.changes });
    }
    if (path === '/noauth/sql') return this.sql(req, { grants: ADMIN, exp: Number.POSITIVE_INFINITY }).catch((e: unknown) => errorResponse(e));
    return super.fetch(req);
  }
}
