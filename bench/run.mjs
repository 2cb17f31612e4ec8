// `npm run bench`: baselines measured side by side in one run, written to bench/RESULTS.md.
// Node engines run in this process (from dist/); workerd engines inside a DO under wrangler dev.
import { writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { LibsqlEngine } from '../dist/engines/libsql.js';
import { PgliteEngine } from '../dist/engines/pglite.js';
import { startWrangler } from '../scripts/wrangler-dev.mjs';
import { INSERTS, pointOps, SELECTS } from './engines.mjs';
import { fmt, table } from './measure.mjs';

const COLD_STARTS = 5;
const results = [];
const log = (msg) => process.stdout.write(`${msg}\n`);

async function node(name, open) {
  log(`bench: ${name} …`);
  const db = await open();
  results.push({ name, ...(await pointOps(db)) });
  await db.close();
}

const dir = await mkdtemp(join(tmpdir(), 'vitess-bench-'));
try {
  await node('libsql, Node, file', () => LibsqlEngine.open(`file:${join(dir, 'bench.db')}`));
  await node('libsql, Node, memory', () => LibsqlEngine.open(':memory:'));
  await node('pglite, Node, memory', async () => new PgliteEngine(await PGlite.create()));
} finally {
  await rm(dir, { recursive: true, force: true });
}

log('bench: starting wrangler dev for the workerd engines …');
const worker = await startWrangler({ config: 'bench/wrangler.jsonc', readyPath: '/ready' });
const coldStarts = { fresh: [], preinit: [] };
const capture = [];
const DATA_MB = [4, 16];
const withData = [];
try {
  const get = async (path) => {
    const res = await fetch(worker.url + path);
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  for (const engine of ['do-sqlite', 'pglite']) {
    log(`bench: ${engine}, workerd DO …`);
    results.push({ name: `${engine}, workerd DO`, ...(await get(`/point?engine=${engine}`)) });
  }
  for (const engine of ['do-sqlite', 'pglite']) {
    log(`bench: ${engine}, capture on vs off …`);
    capture.push({ engine, ...(await get(`/capture?engine=${engine}`)) });
  }
  for (const mb of DATA_MB) {
    log(`bench: PGlite primary cold start with ${mb} MB …`);
    withData.push({ mb, ...(await get(`/coldstart-data?mb=${mb}`)) });
  }
  for (let i = 0; i < COLD_STARTS; i++) {
    log(`bench: PGlite cold start ${i + 1}/${COLD_STARTS} …`);
    coldStarts.fresh.push(await get('/coldstart?mode=fresh'));
    coldStarts.preinit.push(await get('/coldstart?mode=preinit'));
  }
} finally {
  await worker.stop();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const freshMs = median(coldStarts.fresh);
const preinitMs = median(coldStarts.preinit);
const md = `# Benchmark results

Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} (${process.platform}, Node ${process.version} for the Node rows).
Every row ran in the same run, on the same machine. Baselines later ratios are measured against.

## Point operations per engine and runtime

${INSERTS} single-row autocommit \`INSERT\`s, then ${SELECTS} primary-key \`SELECT\`s, one at a time, Postgres-dialect SQL
through the engine (so SQLite rows include the dialect translation). Inside workerd, clocks
advance only across I/O (a Spectre mitigation), so per-operation latencies there read in whole
milliseconds; the throughput columns are measured over the whole loop and are comparable.

${table(['engine, runtime', 'insert ops/s', 'insert p50 ms', 'insert p99 ms', 'select ops/s', 'select p50 ms', 'select p99 ms'],
  results.map((r) => [r.name, fmt(r.insert.ops), fmt(r.insert.p50, 3), fmt(r.insert.p99, 3), fmt(r.select.ops), fmt(r.select.p50, 3), fmt(r.select.p99, 3)]))}

## PGlite cold start inside a Durable Object

Time from a new DO to a PGlite that has answered \`SELECT 1\`; median of ${COLD_STARTS}.

${table(['start', 'median ms', 'all runs ms'], [
  ['fresh initdb', fmt(freshMs), coldStarts.fresh.map((x) => fmt(x)).join(', ')],
  ['pre-initialized data directory', fmt(preinitMs), coldStarts.preinit.map((x) => fmt(x)).join(', ')],
])}

Pre-initialized vs fresh: ${fmt(freshMs / preinitMs, 1)}× faster (target: pre-initialized ≤ 500 ms).

## Change capture and the change log (inside a DO)

Single-row \`INSERT\`s on the same engine, without capture and with capture (triggers, one
change-log record per commit in the DO's SQLite). Then the whole log pulled back in pages of
1,000 records.

${table(['engine', 'inserts/s, no capture', 'inserts/s, capture', 'ratio (target ≥ 0.6)', 'log pull records/s'],
  capture.map((c) => [c.engine, fmt(c.without.ops), fmt(c.withCapture.ops), fmt(c.withCapture.ops / c.without.ops, 2), fmt(c.pullPerSec)]))}

## PGlite primary cold start with data

Rows of ~1 KB written, the data directory dumped (after a CHECKPOINT), then a new PGlite started
from that snapshot until it answers \`SELECT count(*)\`.

${table(['rows written', 'snapshot MB', 'cold start ms'], withData.map((d) => [`~${d.mb} MB`, fmt(d.snapshotBytes / 1e6, 1), fmt(d.ms)]))}
`;
await writeFile(new URL('./RESULTS.md', import.meta.url), md);
log(md);
