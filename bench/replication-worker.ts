// Worker for the replication part of `npm run bench` (bench/replication.mjs): VTGate itself, and
// beside it the routes the benchmark needs:
// - `POST /bench/lag`: writes at a fixed rate from inside the Worker, following some to a replica;
// - `POST /bench/write`: rows written from inside the Worker, one commit each;
// - `POST /bench/wait`: a replica's `waitFor` (when it has applied an LSN);
// - `POST /bench/replica`: pause, resume, status;
// - `POST /bench/raw-setup`, `/bench/raw-insert`: the baseline, the same rows inserted in batches
//   into a fresh engine of the replica's kind.
import { DurableObject } from 'cloudflare:workers';
import { DoSqliteEngine } from '../engines/do-sqlite.js';
import type { StorageEngine } from '../engines/engine.js';
import { PgliteEngine } from '../engines/pglite.js';
import { createWorkerdPGlite } from '../engines/pglite-workerd.js';
import { decodeBookmark } from '../rpc/bookmark.js';
import type { ReplicaApi, Stub } from '../rpc/do-api.js';
import { stubOf } from '../rpc/do-stub.js';
import { VTCoordinator, VTGate, VTReplica, VTSequence, VTTablet } from '../router/server.js';
import { ADMIN } from '../router/access/grants.js';
import { Session } from '../router/session.js';
import { configuredVSchema, Topology, type Env } from '../router/topology.js';

export { VTCoordinator, VTReplica, VTSequence, VTTablet };

type Kind = 'do-sqlite' | 'pglite';
type Replica = Pick<ReplicaApi, 'waitFor' | 'pause' | 'resume' | 'status'>;

interface BenchEnv extends Env {
  RAW: DurableObjectNamespace<RawInsert>;
}

/** The rows both sides write: row i of the benchmark table. */
const APPLY_TABLE = 'CREATE TABLE applied (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score INT, note TEXT)';
const applyRow = (i: number): [number, string, number, string] => [i, `user-${i}`, i % 100, `note ${i} ${'x'.repeat(40)}`];
const APPLY_INSERT = 'INSERT INTO applied (id, name, score, note) VALUES ($1, $2, $3, $4)';
/** An INSERT of `rows` rows (4 parameters each). */
const multiInsert = (rows: number) =>
  `INSERT INTO applied (id, name, score, note) VALUES ${Array.from({ length: rows }, (_, r) => `($${r * 4 + 1}, $${r * 4 + 2}, $${r * 4 + 3}, $${r * 4 + 4})`).join(', ')}`;

/**
 * The baseline: a fresh engine in a fresh DO (`setup`), then rows 0..n-1 in transactions of
 * `batch` rows, as INSERTs of `perStatement` rows each (`insert`, timed by the caller: inside
 * workerd clocks advance only across I/O, and DO SQLite does none).
 */
export class RawInsert extends DurableObject<Env> {
  private db: StorageEngine | undefined;

  async setup(kind: Kind): Promise<void> {
    this.db = kind === 'do-sqlite' ? new DoSqliteEngine(this.ctx.storage) : new PgliteEngine(await createWorkerdPGlite({ assets: this.env.ASSETS }));
    await this.db.query(APPLY_TABLE);
  }

  async insert(n: number, batch: number, perStatement: number): Promise<number> {
    const db = this.db!;
    for (let i = 0; i < n; i += batch) {
      const end = Math.min(i + batch, n);
      const statements = [];
      for (let j = i; j < end; j += perStatement) {
        const rows = Math.min(perStatement, end - j);
        statements.push({ sql: multiInsert(rows), params: Array.from({ length: rows }, (_, k) => applyRow(j + k)).flat() });
      }
      await db.batch(statements, { atomic: true });
    }
    const rows = Number((await db.query('SELECT count(*) AS n FROM applied')).rows[0]!.n);
    await db.close();
    this.db = undefined;
    return rows;
  }
}

interface Target {
  keyspace: string;
  shard: string;
  region: string;
}

interface WriteRows {
  keyspace: string;
  from: number;
  n: number;
  concurrency: number;
}

/** Rows `from`..`from + n - 1` of the apply table, one commit each, through VTGate's session code; the last LSN per shard. */
async function writeRows(env: Env, o: WriteRows): Promise<Record<string, number>> {
  const topology = new Topology(configuredVSchema(env), env);
  let lsns: Record<string, number> = {};
  let next = o.from;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      for (let i = next++; i < o.from + o.n; i = next++) {
        const r = await new Session(topology, o.keyspace, undefined, ADMIN).run(APPLY_INSERT, applyRow(i));
        for (const [k, v] of Object.entries(decodeBookmark(r.bookmark))) lsns = { ...lsns, [k]: Math.max(lsns[k] ?? 0, v) };
      }
    }),
  );
  return lsns;
}

interface LagRun {
  keyspace: string;
  rate: number;
  seconds: number;
  probesPerSecond: number;
  maxInFlight: number;
  maxSlipMs: number;
  fromId: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Writes at a fixed rate from inside the Worker, through VTGate's own session code (no HTTP, no
 * wrangler proxy in the way), and follows some writes to a replica: the lag is the time from the
 * write's result until the replica's `waitFor` answers. Clocks in workerd advance across I/O,
 * which both ends of the interval are: millisecond resolution.
 */
async function lagRun(env: Env, o: LagRun): Promise<unknown> {
  const topology = new Topology(configuredVSchema(env), env);
  const regions = topology.keyspace(o.keyspace).regions;
  const n = Math.round(o.rate * o.seconds);
  const every = Math.max(1, Math.round(o.rate / o.probesPerSecond));
  const lags: number[] = [];
  const pending = new Set<Promise<void>>();
  let slip = 0;
  let issued = 0;
  let failed = 0;
  let error: string | undefined;
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / o.rate;
    if (due > Date.now()) await sleep(due - Date.now());
    while (pending.size >= o.maxInFlight) await Promise.race(pending);
    slip = Math.max(slip, Date.now() - due);
    if (slip > o.maxSlipMs) break;
    issued++;
    const id = o.fromId + i;
    const p = (async () => {
      try {
        const r = await new Session(topology, o.keyspace, undefined, ADMIN).run('INSERT INTO lag (id, v, at) VALUES ($1, $2, $3)', [id, `v${id}`, Date.now()]);
        if (!o.probesPerSecond || i % every) return;
        const acked = Date.now();
        const [at, lsn] = Object.entries(decodeBookmark(r.bookmark))[0]!;
        const replica = stubOf<Replica>(env.REPLICA!.getByName(`${at}/${regions[(i / every) % regions.length]}`));
        await replica.waitFor(lsn, 30_000);
        lags.push(Date.now() - acked);
      } catch (e) {
        failed++;
        error ??= String((e as Error).message ?? e);
      }
    })().finally(() => pending.delete(p));
    pending.add(p);
  }
  await Promise.all(pending);
  return { issued, failed, error, seconds: (Date.now() - t0) / 1000, slip, lags };
}

export default class BenchGate extends VTGate {
  private replicaOf(t: Target): Stub<Replica> {
    return stubOf<Replica>(this.env.REPLICA!.getByName(`${t.keyspace}/${t.shard}/${t.region}`));
  }

  override async fetch(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (req.method !== 'POST' || !path.startsWith('/bench/')) return super.fetch(req);
    const body = (await req.json()) as Target & {
      lsn?: number;
      timeoutMs?: number;
      op?: string;
      kind?: Kind;
      n?: number;
      batch?: number;
      perStatement?: number;
      id?: string;
    };
    try {
      if (path === '/bench/write') return Response.json(await writeRows(this.env, body as unknown as WriteRows));
      if (path === '/bench/lag') return Response.json(await lagRun(this.env, body as unknown as LagRun));
      if (path === '/bench/wait') return Response.json({ applied: await this.replicaOf(body).waitFor(body.lsn ?? 0, body.timeoutMs ?? 10_000) });
      if (path === '/bench/replica') {
        const r = this.replicaOf(body);
        if (body.op === 'pause') await r.pause();
        if (body.op === 'resume') await r.resume();
        return Response.json(await r.status());
      }
      // The baseline in two calls, so that the caller times the inserts alone.
      if (path === '/bench/raw-setup') {
        const ns = (this.env as BenchEnv).RAW;
        const id = ns.newUniqueId();
        await ns.get(id).setup(body.kind ?? 'do-sqlite');
        return Response.json({ id: id.toString() });
      }
      if (path === '/bench/raw-insert') {
        const ns = (this.env as BenchEnv).RAW;
        return Response.json({ rows: await ns.get(ns.idFromString(body.id!)).insert(body.n ?? 1000, body.batch ?? 200, body.perStatement ?? 1) });
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return Response.json({ error: String((e as Error).message ?? e) }, { status: 500 });
    }
  }
}
