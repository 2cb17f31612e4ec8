// The workerd half of `npm run bench`: the same loops as in Node, run inside a Durable Object.
import { DurableObject } from 'cloudflare:workers';
import { DoSqliteEngine } from '../engines/do-sqlite.js';
import { PgliteEngine } from '../engines/pglite.js';
import { createWorkerdPGlite } from '../engines/pglite-workerd.js';
// @ts-expect-error plain JS module shared with the Node half
import { pointOps } from './engines.mjs';

interface Env {
  BENCH: DurableObjectNamespace<BenchHost>;
}

export class BenchHost extends DurableObject<Env> {
  async point(engine: 'do-sqlite' | 'pglite'): Promise<unknown> {
    const db = engine === 'do-sqlite' ? new DoSqliteEngine(this.ctx.storage) : new PgliteEngine(await createWorkerdPGlite());
    return pointOps(db);
  }

  /** Time from nothing to a PGlite that has answered a query, in this (new) DO. */
  async coldStart(preinitialized: boolean): Promise<number> {
    const t = performance.now();
    const pg = await createWorkerdPGlite({ preinitialized });
    await pg.query('SELECT 1');
    const ms = performance.now() - t;
    await pg.close();
    return ms;
  }
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    // Every call gets its own DO so cold starts are cold and loops do not share tables.
    const stub = env.BENCH.get(env.BENCH.newUniqueId());
    if (url.pathname === '/point') return Response.json(await stub.point(url.searchParams.get('engine') as 'do-sqlite' | 'pglite'));
    if (url.pathname === '/coldstart') return Response.json(await stub.coldStart(url.searchParams.get('mode') !== 'fresh'));
    return new Response('not found', { status: 404 });
  },
};
