// Embedded replicas' figures for `npm run bench` (docs/embedded-replicas.md), against VTGate
// under wrangler dev (keyspace `main`: DO SQLite × 4):
//   1. bootstrap of ROWS rows into an embedded replica (libsql file, PGlite data directory) vs a
//      raw local insert of the same rows into a fresh database of the same engine (multi-row
//      INSERTs under 100 parameters, one transaction per 5,000 rows);
//   2. a write through VTGate → visible in an embedded replica (its `waitFor` of the write's
//      bookmark answers), p50/p99, from the write's result and from its start.
// Run alone with `node_modules/.bin/node bench/embedded.mjs` (after `npm run build`).
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '../dist/client/index.js';
import { createReplica, openLocalEngine } from '../dist/replica/index.js';
import { startWrangler } from '../scripts/wrangler-dev.mjs';
import { fmt, table } from './measure.mjs';

const ROWS = 100_000;
const LOAD_CONCURRENCY = 4;
const RAW_TX_ROWS = 5_000;
const WRITES = 300;
const VSCHEMA = { keyspaces: [{ name: 'main', engine: 'sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'] }] };

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const row = (i) => [i, `user-${i}`, i % 100];

/** The raw baseline: the same rows into a fresh engine, multi-row INSERTs under 100 parameters, RAW_TX_ROWS per transaction. */
async function rawInsert(engine, path) {
  const db = await openLocalEngine({ engine, path });
  await db.query('CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score INT)');
  const perStatement = 33; // 3 columns: 99 parameters
  const t = performance.now();
  for (let start = 1; start <= ROWS; start += RAW_TX_ROWS) {
    const end = Math.min(start + RAW_TX_ROWS, ROWS + 1);
    await db.transaction(async (tx) => {
      for (let i = start; i < end; i += perStatement) {
        const ids = Array.from({ length: Math.min(perStatement, end - i) }, (_, k) => i + k);
        await tx.query(`INSERT INTO items (id, name, score) VALUES ${ids.map((_, k) => `($${k * 3 + 1}, $${k * 3 + 2}, $${k * 3 + 3})`).join(', ')}`, ids.flatMap(row));
      }
    });
  }
  const ms = performance.now() - t;
  const n = Number((await db.query('SELECT count(*) AS n FROM items')).rows[0].n);
  await db.close();
  if (n !== ROWS) throw new Error(`raw insert: ${n} rows`);
  return ms;
}

async function bootstrap(endpoint, engine, path) {
  const t = performance.now();
  const local = await createReplica({ endpoint, keyspace: 'main', engine, path, pageRows: 5_000 });
  const ms = performance.now() - t;
  const n = Number((await local.query('SELECT count(*) AS n FROM items')).rows[0].n);
  const status = local.status;
  await local.close();
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
  const w = await startWrangler({ vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
  const dir = mkdtempSync(join(tmpdir(), 'vitess-bench-embedded-'));
  try {
    const c = createClient({ endpoint: w.url, keyspace: 'main', timeoutMs: 120_000 });
    await c.execute('CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score INT)');
    await c.execute('CREATE TABLE probe (id BIGINT PRIMARY KEY, v INT)');
    log(`bench: loading ${ROWS} rows through VTGate …`);
    const loadStart = performance.now();
    // Parameterized statements of up to 33 rows (99 parameters; one plan, cached), 20 to a
    // batch; idempotent, so a batch retried after a conflict on a busy machine is harmless.
    const insertRows = (n) => `INSERT INTO items (id, name, score) VALUES ${Array.from({ length: n }, (_, k) => `($${k * 3 + 1}, $${k * 3 + 2}, $${k * 3 + 3})`).join(', ')} ON CONFLICT (id) DO NOTHING`;
    let next = 1;
    await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, async () => {
      while (next <= ROWS) {
        const statements = [];
        for (let s = 0; s < 20 && next <= ROWS; s++) {
          const ids = Array.from({ length: Math.min(33, ROWS + 1 - next) }, (_, k) => next + k);
          next += ids.length;
          statements.push({ sql: insertRows(ids.length), params: ids.flatMap(row) });
        }
        await c.batch(statements);
      }
    }));
    log(`bench: loaded in ${fmt((performance.now() - loadStart) / 1000, 1)} s`);
    const rows = [];
    for (const engine of ['libsql', 'pglite']) {
      const path = (tag) => join(dir, `${engine}-${tag}${engine === 'libsql' ? '.db' : ''}`);
      log(`bench: ${engine}: raw insert and bootstrap of ${ROWS} rows …`);
      const raw = await rawInsert(engine, path('raw'));
      const boot = await bootstrap(w.url, engine, path('replica'));
      rows.push({ engine, raw, boot });
    }
    log('bench: write → visible in an embedded replica …');
    const latency = [];
    for (const engine of ['libsql', 'pglite']) latency.push({ engine, ...(await writeToVisible(w.url, engine)) });
    const loadAfter = loadavg()[0];
    return `## Embedded replicas

\`bench/embedded.mjs\`: VTGate under \`wrangler dev\` (keyspace \`main\`, DO SQLite × 4), the embedded
replica in this Node process over HTTP batch. Load average ${fmt(loadBefore, 1)} before, ${fmt(loadAfter, 1)} after.

Bootstrap: \`createReplica\` until it resolves (schema, ${fmt(ROWS)} rows copied in snapshot pages of
5,000, caught up) into a file (libsql) or a data directory (PGlite), vs the raw baseline: the same
rows inserted into a fresh database of the same engine with multi-row INSERTs under 100
parameters, ${fmt(RAW_TX_ROWS)} rows per transaction. Target: bootstrap ≤ 1.5× the raw insert.

${table(['engine', 'raw insert ms', 'bootstrap ms', 'snapshot pages', 'bootstrap / raw'],
  rows.map((r) => [r.engine, fmt(r.raw), fmt(r.boot.ms), fmt(r.boot.pages), `${fmt(r.boot.ms / r.raw, 2)}×`]))}

Write → visible: ${WRITES} single-row upserts through VTGate by another client, one at a time; the
time until the replica's \`waitFor(bookmark)\` answers (the write applied locally), from the
write's result and from its start.

${table(['replica engine', 'from result p50 ms', 'from result p99 ms', 'from start p50 ms', 'from start p99 ms'],
  latency.map((l) => [l.engine, fmt(pct(l.fromResult, 50), 1), fmt(pct(l.fromResult, 99), 1), fmt(pct(l.fromStart, 50), 1), fmt(pct(l.fromStart, 99), 1)]))}
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
