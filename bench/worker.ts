// The workerd half of `npm run bench`: the same loops as in Node, run inside a Durable Object.
import { DurableObject } from 'cloudflare:workers';
import { ChangeLog } from '../changelog/log.js';
import { DoSqliteEngine } from '../engines/do-sqlite.js';
import type { StorageEngine } from '../engines/engine.js';
import { PgliteEngine } from '../engines/pglite.js';
import { createWorkerdPGlite } from '../engines/pglite-workerd.js';
// @ts-expect-error plain JS module shared with the Node half
import { pointOps } from './engines.mjs';
// @ts-expect-error plain JS module shared with the Node half
import { measure } from './measure.mjs';

interface Env {
  BENCH: DurableObjectNamespace<BenchHost>;
}

type Kind = 'do-sqlite' | 'pglite';
const WRITES = 1500;

export class BenchHost extends DurableObject<Env> {
  private async engine(kind: Kind): Promise<StorageEngine> {
    return kind === 'do-sqlite' ? new DoSqliteEngine(this.ctx.storage) : new PgliteEngine(await createWorkerdPGlite());
  }

  async point(kind: Kind): Promise<unknown> {
    return pointOps(await this.engine(kind));
  }

  /** Single-row insert throughput without capture, then with capture writing the change log. */
  async capture(kind: Kind): Promise<unknown> {
    const db = await this.engine(kind);
    await db.query('CREATE TABLE plain (id BIGINT PRIMARY KEY, name TEXT, score INT)');
    const without = await measure(WRITES, (i: number) => db.query('INSERT INTO plain VALUES ($1, $2, $3)', [i, `user-${i}`, i % 100]));
    const log = new ChangeLog(this.ctx.storage.sql);
    await db.enableCapture((changes) => { log.append(changes, crypto.randomUUID()); });
    await db.query('CREATE TABLE captured (id BIGINT PRIMARY KEY, name TEXT, score INT)');
    const withCapture = await measure(WRITES, (i: number) => db.query('INSERT INTO captured VALUES ($1, $2, $3)', [i, `user-${i}`, i % 100]));
    // Pull the whole log back in pages, as a replica catching up would.
    const t = performance.now();
    let pulled = 0;
    for (let from = 1; from <= log.lastLsn;) {
      const { records } = log.pull(from, { maxRecords: 1000 });
      pulled += records.length;
      from = records.at(-1)!.lsn + 1;
    }
    const pullPerSec = pulled / ((performance.now() - t) / 1000);
    return { without, withCapture, pulled, pullPerSec };
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

  /** A PGlite primary's cold start from a data-directory snapshot holding about `mb` MB of rows. */
  async coldStartWithData(mb: number): Promise<{ ms: number; snapshotBytes: number }> {
    const engine = new PgliteEngine(await createWorkerdPGlite());
    await engine.query('CREATE TABLE blob_rows (id INT PRIMARY KEY, body TEXT)');
    const row = 'x'.repeat(1000);
    for (let i = 0; i < mb * 1000; i += 50) {
      await engine.batch(Array.from({ length: 50 }, (_, j) => ({ sql: 'INSERT INTO blob_rows VALUES ($1, $2)', params: [i + j, row] })), { atomic: true });
    }
    const snapshot = await engine.dumpDataDir();
    await engine.close();
    const t = performance.now();
    const pg = await createWorkerdPGlite({ dataDir: snapshot });
    await pg.query('SELECT count(*) FROM blob_rows');
    const ms = performance.now() - t;
    await pg.close();
    return { ms, snapshotBytes: snapshot.size };
  }
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    // Every call gets its own DO so cold starts are cold and loops do not share tables.
    const stub = env.BENCH.get(env.BENCH.newUniqueId());
    const kind = (url.searchParams.get('engine') ?? 'do-sqlite') as Kind;
    if (url.pathname === '/point') return Response.json(await stub.point(kind));
    if (url.pathname === '/capture') return Response.json(await stub.capture(kind));
    if (url.pathname === '/coldstart') return Response.json(await stub.coldStart(url.searchParams.get('mode') !== 'fresh'));
    if (url.pathname === '/coldstart-data') return Response.json(await stub.coldStartWithData(Number(url.searchParams.get('mb') ?? 8)));
    return new Response('not found', { status: 404 });
  },
};
