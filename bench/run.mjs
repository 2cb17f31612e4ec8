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
import './auth.mjs'; // VITESS_JWT_SECRET for every wrangler started here, VITESS_TOKEN for the clients
import { INSERTS, pointOps, SELECTS } from './engines.mjs';
import { gatewayBench } from './gateway.mjs';
import { twopcBench } from './twopc.mjs';
import { adaptersBench } from './adapters.mjs';
import { replicationBench } from './replication.mjs';
import { fmt, measure, table } from './measure.mjs';

const COLD_STARTS = 5;
// Capture on vs off is measured this many times (fresh engines each time) and the median ratio
// reported.
const CAPTURE_RUNS = 5;
const CAPTURE_WRITES = 1500;
// Each one waits for a file sync (~ms), so fewer.
const CAPTURE_DURABLE_WRITES = 400;
// `--only capture`: just the capture ratios, printed, RESULTS.md left alone (for iterating).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only && only !== 'capture') throw new Error('--only: the one section it can run alone is "capture"');
const results = [];
const log = (msg) => process.stdout.write(`${msg}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The run with the median ratio, of CAPTURE_RUNS runs of `once()` → { without, withCapture }. */
async function medianCapture(once) {
  const runs = [];
  for (let i = 0; i < CAPTURE_RUNS; i++) {
    const r = await once();
    // One log record per committed insert, and one for the CREATE TABLE: nothing lost.
    if (r.pulled !== r.written + 1) throw new Error(`capture: expected ${r.written + 1} log records, got ${r.pulled}`);
    runs.push(r);
  }
  const ratio = (r) => r.withCapture.ops / r.without.ops;
  const mid = median(runs.map(ratio));
  return { ...runs.find((r) => ratio(r) === mid), ratios: runs.map(ratio) };
}

/** The Node twin of the DO's /capture: two engines, alternating rounds; the sink keeps changes in memory. */
async function pgliteCaptureNode(rounds = 20) {
  const off = new PgliteEngine(await PGlite.create());
  const on = new PgliteEngine(await PGlite.create());
  const records = [];
  await on.enableCapture((changes) => {
    records.push(changes);
  });
  for (const db of [off, on]) await db.query('CREATE TABLE bench_capture (id BIGINT PRIMARY KEY, name TEXT, score INT)');
  const per = Math.ceil(CAPTURE_WRITES / rounds);
  const ms = new Map([
    [off, 0],
    [on, 0],
  ]);
  const round = async (db, r) => {
    const m = await measure(per, (i) => db.query('INSERT INTO bench_capture VALUES ($1, $2, $3)', [r * per + i, `user-${r * per + i}`, (r * per + i) % 100]));
    ms.set(db, ms.get(db) + (per / m.ops) * 1000);
  };
  for (const db of [off, on]) await round(db, rounds); // warm-up, not counted
  for (const db of [off, on]) ms.set(db, 0);
  for (let r = 0; r < rounds; r++) for (const db of r % 2 ? [on, off] : [off, on]) await round(db, r);
  await off.close();
  await on.close();
  const ops = (db) => ({ ops: (per * rounds) / (ms.get(db) / 1000) });
  return { without: ops(off), withCapture: ops(on), pulled: records.length, written: per * (rounds + 1) };
}

async function node(name, open) {
  log(`bench: ${name} …`);
  const db = await open();
  results.push({ name, ...(await pointOps(db)) });
  await db.close();
}

if (!only) {
  const dir = await mkdtemp(join(tmpdir(), 'vitess-bench-'));
  try {
    await node('libsql, Node, file', () => LibsqlEngine.open(`file:${join(dir, 'bench.db')}`));
    await node('libsql, Node, memory', () => LibsqlEngine.open(':memory:'));
    await node('pglite, Node, memory', async () => new PgliteEngine(await PGlite.create()));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const captureNode = [];
log('bench: pglite, Node, capture on vs off …');
captureNode.push({ engine: 'pglite, Node (sink in memory)', ...(await medianCapture(pgliteCaptureNode)) });

log('bench: starting wrangler dev for the workerd engines …');
const worker = await startWrangler({ config: 'bench/wrangler.jsonc', readyPath: '/ready' });
const coldStarts = { fresh: [], preinit: [], preinitFetch: [] };
const capture = [];
const captureDurable = [];
const DATA_MB = [4, 16];
const withData = [];
try {
  const get = async (path) => {
    const res = await fetch(worker.url + path);
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  for (const engine of only ? [] : ['do-sqlite', 'pglite']) {
    log(`bench: ${engine}, workerd DO …`);
    results.push({ name: `${engine}, workerd DO`, ...(await get(`/point?engine=${engine}`)) });
  }
  for (const engine of ['do-sqlite', 'pglite']) {
    log(`bench: ${engine}, capture on vs off …`);
    capture.push({ engine: `${engine}, workerd DO`, ...(await medianCapture(() => get(`/capture?engine=${engine}&writes=${CAPTURE_WRITES}`))) });
    log(`bench: ${engine}, capture on vs off, each write durable …`);
    captureDurable.push({
      engine: `${engine}, workerd DO, each write durable`,
      ...(await medianCapture(() => get(`/capture?engine=${engine}&writes=${CAPTURE_DURABLE_WRITES}&durable=1`))),
    });
  }
  for (const mb of only ? [] : DATA_MB) {
    log(`bench: PGlite primary cold start with ${mb} MB …`);
    withData.push({ mb, ...(await get(`/coldstart-data?mb=${mb}`)) });
  }
  for (let i = 0; i < (only ? 0 : COLD_STARTS); i++) {
    log(`bench: PGlite cold start ${i + 1}/${COLD_STARTS} …`);
    coldStarts.fresh.push(await get('/coldstart?mode=fresh'));
    coldStarts.preinit.push(await get('/coldstart?mode=preinit'));
    coldStarts.preinitFetch.push(await get('/coldstart?mode=preinit&fetch'));
  }
} finally {
  await worker.stop();
}

const captureTable = table(
  ['engine, runtime', 'inserts/s, no capture', 'inserts/s, capture', 'ratio (target ≥ 0.6)', `ratios of the ${CAPTURE_RUNS} runs`, 'log pull records/s'],
  [...capture, ...captureNode, ...captureDurable].map((c) => [
    c.engine,
    fmt(c.without.ops),
    fmt(c.withCapture.ops),
    fmt(c.withCapture.ops / c.without.ops, 2),
    c.ratios.map((r) => fmt(r, 2)).join(', '),
    c.pullPerSec ? fmt(c.pullPerSec) : '',
  ]),
);
if (only) {
  log(captureTable);
  process.exit(0);
}
const gatewaySection = await gatewayBench(log);
const replicationSection = await replicationBench(log);
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

${table(
  ['engine, runtime', 'insert ops/s', 'insert p50 ms', 'insert p99 ms', 'select ops/s', 'select p50 ms', 'select p99 ms'],
  results.map((r) => [r.name, fmt(r.insert.ops), fmt(r.insert.p50, 3), fmt(r.insert.p99, 3), fmt(r.select.ops), fmt(r.select.p50, 3), fmt(r.select.p99, 3)]),
)}

## PGlite cold start inside a Durable Object

Time from a new DO to a PGlite that has answered \`SELECT 1\`; median of ${COLD_STARTS}. PGlite's data
files (its fs bundle, the pre-initialized data directory) come from the Worker's static assets,
once per isolate: the last row is a start in a new isolate, which reads them first.

${table(
  ['start', 'median ms', 'all runs ms'],
  [
    ['fresh initdb', fmt(freshMs), coldStarts.fresh.map((x) => fmt(x)).join(', ')],
    ['pre-initialized data directory', fmt(preinitMs), coldStarts.preinit.map((x) => fmt(x)).join(', ')],
    ['pre-initialized, data files read from the assets first', fmt(median(coldStarts.preinitFetch)), coldStarts.preinitFetch.map((x) => fmt(x)).join(', ')],
  ],
)}

Pre-initialized vs fresh: ${fmt(freshMs / preinitMs, 1)}× faster (target: pre-initialized ≤ 500 ms).

## Change capture and the change log

Single-row \`INSERT\`s, ${CAPTURE_WRITES} into an engine without capture and ${CAPTURE_WRITES} into one with
capture (triggers, one change-log record per commit in the DO's SQLite), each engine in its own
fresh DO, in alternating rounds of ${CAPTURE_WRITES / 20} after a warm-up round each, so that load elsewhere on
the machine hits both alike. The run with the median ratio of ${CAPTURE_RUNS} is shown. Then the whole
log pulled back in pages of 1,000 records (the fastest of 3 passes). The Node row is the same with two PGlite instances and
an in-memory sink (no DO log).

What the two sides measure: the same statement through the same engine class (for DO SQLite
\`DoSqliteEngine.query\`: translation cache, bind, the insert, \`changes()\`), each in a DO of its own.
A round runs inside one call, so DO SQLite commits its inserts together when the call ends
(its implicit transaction), outside the timing, on both sides: the ratio is of CPU per statement,
the strictest reading. With capture, each insert also fires its trigger, which writes the change
into the log's change table and its header row in \`_vt_log\`
(docs/primary.md: capture in place).

The rows *each write durable* are the same with ${CAPTURE_DURABLE_WRITES} inserts, each one on disk
(\`storage.sync()\`) before the next starts, as every acknowledged write is before its answer leaves
the DO: write throughput as a client of one shard sees it, without the RPC around it. For PGlite
without capture nothing goes to the DO's storage at all (its data directory is in memory), so
that side's sync costs nothing and the ratio holds the whole cost of making the write durable.

${captureTable}

## PGlite primary cold start with data

Rows of ~1 KB written, the data directory dumped (after a CHECKPOINT), then a new PGlite started
from that snapshot until it answers \`SELECT count(*)\`.

${table(
  ['rows written', 'snapshot MB', 'cold start ms'],
  withData.map((d) => [`~${d.mb} MB`, fmt(d.snapshotBytes / 1e6, 1), fmt(d.ms)]),
)}

${gatewaySection}
${replicationSection}
${await twopcBench(log)}
${await adaptersBench(log)}
${await (await import('./embedded.mjs')).embeddedBench(log)}
${await (await import('./browser.mjs')).browserBench(log)}
${await (await import('./yjs.mjs')).yjsBench(log)}`;
await writeFile(new URL('./RESULTS.md', import.meta.url), md);
log(md);
