// The workerd half of `npm run bench`: the same loops as in Node, run inside a Durable Object.
import { DurableObject } from 'cloudflare:workers';
import { ChangeLog, IN_PLACE_LOG } from '../changelog/log.js';
import { DoSqliteEngine } from '../engines/do-sqlite.js';
import type { CapturingEngine } from '../engines/engine.js';
import { PgliteEngine } from '../engines/pglite.js';
import { createWorkerdPGlite, forgetDataFiles, type AssetsBinding } from '../engines/pglite-workerd.js';
// @ts-expect-error plain JS module shared with the Node half
import { pointOps } from './engines.mjs';
// @ts-expect-error plain JS module shared with the Node half
import { measure } from './measure.mjs';

interface Env {
  BENCH: DurableObjectNamespace<BenchHost>;
  ASSETS: AssetsBinding;
}

type Kind = 'do-sqlite' | 'pglite';

export class BenchHost extends DurableObject<Env> {
  private async engine(kind: Kind): Promise<CapturingEngine> {
    return kind === 'do-sqlite' ? new DoSqliteEngine(this.ctx.storage, IN_PLACE_LOG) : new PgliteEngine(await createWorkerdPGlite({ assets: this.env.ASSETS }));
  }

  async point(kind: Kind): Promise<unknown> {
    return pointOps(await this.engine(kind));
  }

  private db: CapturingEngine | undefined;
  private log: ChangeLog | undefined;
  private written = 0;

  /** Capture ratio, step 1: an engine, with capture writing the change log or without, and a table. */
  async captureSetup(kind: Kind, capture: boolean): Promise<void> {
    const db = (this.db = await this.engine(kind));
    if (capture) {
      const log = (this.log = new ChangeLog(this.ctx.storage.sql));
      await db.enableCapture((unit) => {
        log.record(unit);
      });
    }
    await db.query('CREATE TABLE bench_capture (id BIGINT PRIMARY KEY, name TEXT, score INT)');
  }

  /**
   * Step 2, in turns with the other engine's DO: `n` more single-row inserts; the ms they took.
   * `durable`: each insert is on disk (`storage.sync()`) before the next starts, as a write is
   * before its answer leaves the DO; else they commit together when the call ends.
   */
  async captureRound(n: number, durable: boolean): Promise<number> {
    const from = this.written;
    this.written += n;
    const m = await measure(n, async (i: number) => {
      await this.db!.query('INSERT INTO bench_capture VALUES ($1, $2, $3)', [from + i, `user-${from + i}`, (from + i) % 100]);
      if (durable) await this.ctx.storage.sync();
    });
    return (n / m.ops) * 1000;
  }

  /**
   * Step 3: the whole log pulled back in pages, as a replica catching up would; the fastest of 3
   * passes (a pass takes tens of ms, and workerd's clock moves in whole ms).
   */
  async capturePull(): Promise<{ pulled: number; written: number; pullPerSec: number }> {
    const log = this.log!;
    let pulled = 0;
    let best = Infinity;
    for (let pass = 0; pass < 3; pass++) {
      const t = performance.now();
      pulled = 0;
      for (let from = 1; from <= log.lastLsn; ) {
        const { records } = log.pull(from, { maxRecords: 1000 });
        pulled += records.length;
        from = records.at(-1)!.lsn + 1;
      }
      await scheduler.wait(0); // workerd's clock advances across I/O
      best = Math.min(best, performance.now() - t);
    }
    return { pulled, written: this.written, pullPerSec: pulled / (best / 1000) };
  }

  /**
   * Time from nothing to a PGlite that has answered a query, in this (new) DO; `fetchFiles`: in a
   * new isolate too, which first reads PGlite's data files from the static assets.
   */
  async coldStart(preinitialized: boolean, fetchFiles: boolean): Promise<number> {
    if (fetchFiles) forgetDataFiles();
    const t = performance.now();
    const pg = await createWorkerdPGlite({ assets: this.env.ASSETS, preinitialized });
    await pg.query('SELECT 1');
    const ms = performance.now() - t;
    await pg.close();
    return ms;
  }

  /** A PGlite primary's cold start from a data-directory snapshot holding about `mb` MB of rows. */
  async coldStartWithData(mb: number): Promise<{ ms: number; snapshotBytes: number }> {
    const engine = new PgliteEngine(await createWorkerdPGlite({ assets: this.env.ASSETS }));
    await engine.query('CREATE TABLE blob_rows (id INT PRIMARY KEY, body TEXT)');
    const row = 'x'.repeat(1000);
    for (let i = 0; i < mb * 1000; i += 50) {
      await engine.batch(
        Array.from({ length: 50 }, (_, j) => ({ sql: 'INSERT INTO blob_rows VALUES ($1, $2)', params: [i + j, row] })),
        { atomic: true },
      );
    }
    const snapshot = await engine.dumpDataDir();
    await engine.close();
    const t = performance.now();
    const pg = await createWorkerdPGlite({ assets: this.env.ASSETS, dataDir: snapshot });
    await pg.query('SELECT count(*) FROM blob_rows');
    const ms = performance.now() - t;
    await pg.close();
    return { ms, snapshotBytes: snapshot.size };
  }
}

/**
 * Insert throughput without and with capture, each engine in its own DO, run in alternating
 * rounds so that load from elsewhere on the machine hits both alike.
 */
async function captureRatio(env: Env, kind: Kind, writes: number, durable: boolean, rounds = 20): Promise<unknown> {
  const off = env.BENCH.get(env.BENCH.newUniqueId());
  const on = env.BENCH.get(env.BENCH.newUniqueId());
  await off.captureSetup(kind, false);
  await on.captureSetup(kind, true);
  const per = Math.ceil(writes / rounds);
  // A round each to warm up (JIT, plans, the trigger function), not counted.
  await off.captureRound(per, durable);
  await on.captureRound(per, durable);
  let msOff = 0;
  let msOn = 0;
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, too.
    if (r % 2) msOn += await on.captureRound(per, durable);
    msOff += await off.captureRound(per, durable);
    if (!(r % 2)) msOn += await on.captureRound(per, durable);
  }
  const n = per * rounds;
  return { without: { ops: n / (msOff / 1000) }, withCapture: { ops: n / (msOn / 1000) }, ...(await on.capturePull()) };
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    // Every call gets its own DO so cold starts are cold and loops do not share tables.
    const stub = env.BENCH.get(env.BENCH.newUniqueId());
    const kind = (url.searchParams.get('engine') ?? 'do-sqlite') as Kind;
    if (url.pathname === '/point') return Response.json(await stub.point(kind));
    if (url.pathname === '/capture')
      return Response.json(await captureRatio(env, kind, Number(url.searchParams.get('writes') ?? 1500), url.searchParams.get('durable') === '1'));
    if (url.pathname === '/coldstart') return Response.json(await stub.coldStart(url.searchParams.get('mode') !== 'fresh', url.searchParams.has('fetch')));
    if (url.pathname === '/coldstart-data') return Response.json(await stub.coldStartWithData(Number(url.searchParams.get('mb') ?? 8)));
    return new Response('not found', { status: 404 });
  },
};
