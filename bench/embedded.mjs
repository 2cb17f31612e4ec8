// Embedded replicas' figures for `npm run bench` (docs/embedded-replicas.md), against VTGate
// under wrangler dev (keyspace `main`: DO SQLite × 4; bench/gateway-worker.ts, whose `/direct`
// loads the rows into the tablets without VTGate's planner — minutes faster than through it):
//   1. bootstrap of ROWS rows into an embedded replica (libsql file, PGlite data directory; the
//      client next to the gateway, so with `compression: false`, and once with gzip) vs a raw
//      local insert of the same rows into a fresh database of the same engine, configured as a
//      replica's is (libsql: WAL, synchronous=NORMAL), two ways: with the engine's own driver
//      (multi-row INSERTs of NATIVE_ROWS rows, one transaction per 5,000 rows), and through the
//      project's StorageEngine with multi-row INSERTs under 100 parameters (the same
//      transactions; what a replica on DO SQLite sends);
//   2. a write through VTGate → visible in an embedded replica (its `waitFor` of the write's
//      bookmark answers), p50/p99, from the write's result and from its start.
// Run alone with `node_modules/.bin/node bench/embedded.mjs` (after `npm run build`);
// EMBEDDED_ROUNDS sets the rounds (default 3).
import { PGlite } from '@electric-sql/pglite';
import { createClient as createLibsqlClient } from '@libsql/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createClient } from '../dist/client/index.js';
import { createReplica, openLocalEngine } from '../dist/replica/index.js';
import { hashId } from '../dist/rpc/keyspace/hash.js';
import { inRange } from '../dist/rpc/keyspace/keyrange.js';
import { startWrangler } from '../scripts/wrangler-dev.mjs';
import { jsonPost } from './auth.mjs';
import { fmt, table } from './measure.mjs';

const ROWS = 100_000;
const RAW_TX_ROWS = 5_000;
const NATIVE_ROWS = 1_000;
const WRITES = 300;
/** Rounds of (native, engine, bootstrap), side by side: the median of each is reported. */
const ROUNDS = Number(process.env.EMBEDDED_ROUNDS ?? 3);
const VSCHEMA = { keyspaces: [{ name: 'main', engine: 'sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'] }] };

// Each timed step starts settled: the previous step's garbage collected, and with it the
// previous database's deferred close (libsql closes a connection for good once its statements
// are finalized, checkpointing the WAL on the main thread then), which would otherwise land in
// the middle of whatever is timed next.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc');
const settle = async () => {
  collect();
  await new Promise((r) => setTimeout(r, 50));
};

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const row = (i) => [i, `user-${i}`, i % 100];

const valuesSql = (n) => Array.from({ length: n }, (_, k) => `($${k * 3 + 1}, $${k * 3 + 2}, $${k * 3 + 3})`).join(', ');
const CREATE = 'CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score INT)';

/** Ids start..end-1 in statements of `per` rows. */
function* chunks(start, end, per) {
  for (let i = start; i < end; i += per) yield Array.from({ length: Math.min(per, end - i) }, (_, k) => i + k);
}

/** The native baseline: the engine's own driver, multi-row INSERTs of NATIVE_ROWS rows, RAW_TX_ROWS per transaction. */
async function nativeInsert(engine, path) {
  let ms;
  if (engine === 'libsql') {
    const db = createLibsqlClient({ url: `file:${path}`, intMode: 'bigint' });
    // Configured as a replica's file is (engines/libsql.ts, LibsqlEngine.open).
    await db.execute('PRAGMA journal_mode = WAL');
    await db.execute('PRAGMA synchronous = NORMAL');
    await db.execute(CREATE);
    const t = performance.now();
    for (let start = 1; start <= ROWS; start += RAW_TX_ROWS) {
      const stmts = [...chunks(start, Math.min(start + RAW_TX_ROWS, ROWS + 1), NATIVE_ROWS)].map((ids) => ({
        sql: `INSERT INTO items (id, name, score) VALUES ${ids.map(() => '(?, ?, ?)').join(', ')}`,
        args: ids.flatMap(row),
      }));
      await db.batch(stmts, 'write'); // one transaction
    }
    ms = performance.now() - t;
    const n = Number((await db.execute('SELECT count(*) AS n FROM items')).rows[0].n);
    db.close();
    if (n !== ROWS) throw new Error(`native insert: ${n} rows`);
  } else {
    const db = await PGlite.create(path);
    await db.query(CREATE);
    const t = performance.now();
    for (let start = 1; start <= ROWS; start += RAW_TX_ROWS) {
      await db.transaction(async (tx) => {
        for (const ids of chunks(start, Math.min(start + RAW_TX_ROWS, ROWS + 1), NATIVE_ROWS))
          await tx.query(`INSERT INTO items (id, name, score) VALUES ${valuesSql(ids.length)}`, ids.flatMap(row));
      });
    }
    ms = performance.now() - t;
    const n = Number((await db.query('SELECT count(*) AS n FROM items')).rows[0].n);
    await db.close();
    if (n !== ROWS) throw new Error(`native insert: ${n} rows`);
  }
  return ms;
}

/** Through the StorageEngine: the same rows, multi-row INSERTs under 100 parameters, RAW_TX_ROWS per transaction. */
async function rawInsert(engine, path) {
  const db = await openLocalEngine({ engine, path });
  await db.query(CREATE);
  const t = performance.now();
  for (let start = 1; start <= ROWS; start += RAW_TX_ROWS) {
    await db.transaction(async (tx) => {
      // 3 columns: 33 rows are 99 parameters.
      for (const ids of chunks(start, Math.min(start + RAW_TX_ROWS, ROWS + 1), 33))
        await tx.query(`INSERT INTO items (id, name, score) VALUES ${valuesSql(ids.length)}`, ids.flatMap(row));
    });
  }
  const ms = performance.now() - t;
  const n = Number((await db.query('SELECT count(*) AS n FROM items')).rows[0].n);
  await db.close();
  if (n !== ROWS) throw new Error(`raw insert: ${n} rows`);
  return ms;
}

/** The copy, from an opened database (opening it — PGlite's initdb — is not timed, as for the raw inserts). */
async function bootstrap(endpoint, engine, path, compression) {
  const db = await openLocalEngine({ engine, path });
  const t = performance.now();
  const local = await createReplica({ endpoint, keyspace: 'main', engine: db, client: { compression } });
  const ms = performance.now() - t;
  const n = Number((await local.query('SELECT count(*) AS n FROM items')).rows[0].n);
  const status = local.status;
  await local.close();
  await db.close();
  if (n !== ROWS) throw new Error(`bootstrap (${engine}): ${n} rows`);
  return { ms, pages: status.snapshotPages };
}

async function writeToVisible(endpoint, engine) {
  const local = await createReplica({ endpoint, keyspace: 'main', engine, tables: ['probe'] });
  const writer = createClient({ endpoint, keyspace: 'main' });
  const fromResult = [];
  const fromStart = [];
  for (let i = 0; i < WRITES; i++) {
    const t0 = performance.now();
    const w = await writer.execute('INSERT INTO probe (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v', [i % 50, i]);
    const t1 = performance.now();
    await local.waitFor(w.bookmark, 10_000);
    const t2 = performance.now();
    fromResult.push(t2 - t1);
    fromStart.push(t2 - t0);
  }
  await local.close();
  return { fromResult, fromStart };
}

export async function embeddedBench(log = (m) => process.stdout.write(`${m}\n`)) {
  log('bench: starting wrangler dev for embedded replicas …');
  const loadBefore = loadavg()[0];
  const w = await startWrangler({ config: 'bench/gateway.wrangler.jsonc', vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
  const dir = mkdtempSync(join(tmpdir(), 'vitess-bench-embedded-'));
  try {
    const c = createClient({ endpoint: w.url, keyspace: 'main', timeoutMs: 120_000 });
    await c.execute(CREATE);
    await c.execute('CREATE TABLE probe (id BIGINT PRIMARY KEY, v INT)');
    log(`bench: loading ${ROWS} rows into the tablets …`);
    const loadStart = performance.now();
    // Each row to the shard its id hashes to, straight to the tablet (captured into its log like
    // any write), shards in parallel: 33 rows (99 parameters) per statement.
    const shards = VSCHEMA.keyspaces[0].shards;
    await Promise.all(
      shards.map(async (shard) => {
        const ids = Array.from({ length: ROWS }, (_, k) => k + 1).filter((id) => inRange(hashId(id), shard));
        for (let i = 0; i < ids.length; i += 33) {
          const part = ids.slice(i, i + 33);
          const body = JSON.stringify({
            keyspace: 'main',
            shard,
            sql: `INSERT INTO items (id, name, score) VALUES ${valuesSql(part.length)} ON CONFLICT (id) DO NOTHING`,
            params: part.flatMap(row),
          });
          // Idempotent, so a request cut (e.g. by wrangler dev reloading) is simply sent again.
          for (let attempt = 1; ; attempt++) {
            const res = await fetch(`${w.url}/direct`, jsonPost(body)).catch((e) => e);
            if (res instanceof Response && res.ok) break;
            if (attempt >= 5) throw new Error(`loading shard ${shard}: ${res instanceof Response ? `HTTP ${res.status} ${await res.text()}` : res}`);
            await new Promise((r) => setTimeout(r, 500 * attempt));
          }
        }
      }),
    );
    log(`bench: loaded in ${fmt((performance.now() - loadStart) / 1000, 1)} s`);
    const rows = [];
    for (const engine of ['libsql', 'pglite']) {
      const path = (tag) => join(dir, `${engine}-${tag}${engine === 'libsql' ? '.db' : ''}`);
      const runs = [];
      for (let round = 1; round <= ROUNDS; round++) {
        log(`bench: ${engine}: raw inserts and bootstrap of ${ROWS} rows, round ${round} of ${ROUNDS} …`);
        const native = await settle().then(() => nativeInsert(engine, path(`native${round}`)));
        const raw = await settle().then(() => rawInsert(engine, path(`raw${round}`)));
        const boot = await settle().then(() => bootstrap(w.url, engine, path(`replica${round}`), false));
        const gzip = await settle().then(() => bootstrap(w.url, engine, path(`gzip${round}`), true));
        runs.push({ native, raw, boot, gzip });
      }
      const median = (f) => pct(runs.map(f), 50);
      rows.push({
        engine,
        native: median((r) => r.native),
        raw: median((r) => r.raw),
        boot: { ms: median((r) => r.boot.ms), pages: runs[0].boot.pages },
        gzip: median((r) => r.gzip.ms),
        ratios: runs.map((r) => r.boot.ms / r.native),
      });
    }
    log('bench: write → visible in an embedded replica …');
    const latency = [];
    for (const engine of ['libsql', 'pglite']) latency.push({ engine, ...(await writeToVisible(w.url, engine)) });
    const loadAfter = loadavg()[0];
    return `## Embedded replicas

\`bench/embedded.mjs\`: VTGate under \`wrangler dev\` (keyspace \`main\`, DO SQLite × 4), the embedded
replica in this Node process over HTTP batch. Load average ${fmt(loadBefore, 1)} before, ${fmt(loadAfter, 1)} after.

Bootstrap: \`createReplica\` on an opened database until it resolves (schema, ${fmt(ROWS)} rows copied in
snapshot pages of the default size, caught up) into a file (libsql) or a data directory (PGlite),
the client asking for uncompressed answers (\`compression: false\`: it runs next to the gateway),
and once more with gzip (last column); opening the database is timed in neither. Compared with
two raw local inserts of the same rows into a fresh database of the same engine, configured as a
replica's is (libsql: WAL, synchronous=NORMAL), ${fmt(RAW_TX_ROWS)} rows per transaction, in
${ROUNDS} rounds side by side (each into a new database; each timed step starts after a garbage
collection and a 50 ms pause, so that none pays for the previous one's deferred close), medians shown:
*native*, the engine's own driver (\`@libsql/client\` batch, PGlite transaction) with multi-row
INSERTs of ${fmt(NATIVE_ROWS)} rows; *engine*, through the project's StorageEngine with multi-row INSERTs
under its 100-parameter limit (33 rows), what a replica on DO SQLite sends (libsql and PGlite
replicas load a page's JSON text whole through the engine's \`loadJson\`). Target:
bootstrap ≤ 1.5× the raw insert.

${table(
  [
    'engine',
    'native insert ms',
    'engine insert ms',
    'bootstrap ms',
    'snapshot pages',
    'bootstrap / native',
    'bootstrap / engine',
    'bootstrap / native, each round',
    'bootstrap gzip ms',
  ],
  rows.map((r) => [
    r.engine,
    fmt(r.native),
    fmt(r.raw),
    fmt(r.boot.ms),
    fmt(r.boot.pages),
    `${fmt(r.boot.ms / r.native, 2)}×`,
    `${fmt(r.boot.ms / r.raw, 2)}×`,
    r.ratios.map((x) => `${fmt(x, 2)}×`).join(', '),
    fmt(r.gzip),
  ]),
)}

Write → visible: ${WRITES} single-row upserts through VTGate by another client, one at a time; the
time until the replica's \`waitFor(bookmark)\` answers (the write applied locally), from the
write's result and from its start.

${table(
  ['replica engine', 'from result p50 ms', 'from result p99 ms', 'from start p50 ms', 'from start p99 ms'],
  latency.map((l) => [l.engine, fmt(pct(l.fromResult, 50), 1), fmt(pct(l.fromResult, 99), 1), fmt(pct(l.fromStart, 50), 1), fmt(pct(l.fromStart, 99), 1)]),
)}
`;
  } finally {
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(await embeddedBench());
  process.exit(0);
}
