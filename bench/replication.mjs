// Replication's figures for `npm run bench`, measured in one wrangler process
// (bench/replication.wrangler.jsonc: VTGate plus a few bench-only routes, replication-worker.ts):
//   1. replication lag at a fixed write rate: time from a write's result until the replica in a
//      region has applied it (its `waitFor` answers), with the writes driven inside the Worker
//      (VTGate's session code, no HTTP) and from Node over HTTP; write capacity with and without
//      replicas;
//   2. replica apply throughput (catching up on a backlog of single-row commits) vs a raw batched
//      insert of the same rows into a fresh engine of the replica's kind, as single-row and as
//      multi-row INSERTs;
//   3. read throughput through VTGate with 1 vs 2 replicas per shard (and primaries alone).
// Run alone with `node_modules/.bin/node bench/replication.mjs`; bench/run.mjs may include it.
import { cpus as cpuList, loadavg } from 'node:os';
import { startWrangler } from '../scripts/wrangler-dev.mjs';
import { authHeaders, jsonPost } from './auth.mjs';
import { fmt, table } from './measure.mjs';

const RATES = [100, 250, 500]; // writes/s driven inside the Worker, each for SECONDS
const HTTP_RATES = [20, 40]; // writes/s driven from Node over HTTP
const SECONDS = 6;
const PROBES_PER_SECOND = 25; // writes followed to their replica (about)
const MAX_IN_FLIGHT = 64;
const MAX_SLIP_MS = 1_000; // a rate the schedule slips more than this behind is not sustained
const CAPACITY_MS = 3_000;
const CAPACITY_IN_FLIGHT = 32;
const APPLY_ROWS = 6_000; // the backlog a paused replica catches up on, per round
const APPLY_ROUNDS = 3;
const RAW_BATCH = 200; // rows per transaction in the raw baseline (= the replica's apply group)
const RAW_MULTI_ROWS = 25; // rows per INSERT in the multi-row baseline (4 columns: 100 parameters, the engines' limit)
const READ_OPS = 600; // per target per round
const READ_ROUNDS = 3;
const READ_CONCURRENCY = 8;
const READ_ROWS = 400;

const cpus = cpuList().length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
/** A bookmark's positions (`b1.` + base64url JSON of { "keyspace/shard": lsn }). */
const positions = (bookmark) => JSON.parse(Buffer.from(bookmark.slice(3), 'base64url').toString());

async function post(url, body) {
  const res = await fetch(url, jsonPost(body));
  const json = await res.json();
  if (!res.ok || json.error) throw new Error(`${url}: ${JSON.stringify(json.error ?? json)}`);
  return json;
}

export async function replicationBench(log = (m) => process.stdout.write(`${m}\n`)) {
  log('bench: starting wrangler dev for replication …');
  const loadBefore = loadavg()[0];
  const w = await startWrangler({ config: 'bench/replication.wrangler.jsonc' });
  try {
    const gate = (keyspace, sql, params = [], extra = {}) => post(`${w.url}/sql`, { keyspace, sql, params, ...extra });
    const wait = (keyspace, shard, region, lsn, timeoutMs = 30_000) => post(`${w.url}/bench/wait`, { keyspace, shard, region, lsn, timeoutMs });
    const replica = (keyspace, shard, region, op) => post(`${w.url}/bench/replica`, { keyspace, shard, region, op });
    const status = async (keyspace) => (await (await fetch(`${w.url}/status`, { headers: authHeaders() })).json()).keyspaces.find((k) => k.name === keyspace);
    /** Until every replica of the keyspace streams at its primary's LSN. */
    const caughtUp = async (keyspace) => {
      for (const deadline = Date.now() + 120_000; ; ) {
        const ks = await status(keyspace);
        if (ks.shards.every((s) => s.replicas.every((r) => r.state === 'streaming' && r.appliedLsn === s.lsn))) return ks;
        if (Date.now() > deadline) throw new Error(`replicas of ${keyspace} did not catch up: ${JSON.stringify(ks.shards.map((s) => s.replicas))}`);
        await sleep(100);
      }
    };

    // ---- 1. lag at a sustained write rate ------------------------------------------------------
    log('bench: replication lag …');
    await gate('main', 'CREATE TABLE lag (id BIGINT PRIMARY KEY, v TEXT NOT NULL, at BIGINT NOT NULL)');
    for (const region of ['wnam', 'weur']) await gate('main', 'SELECT count(*) FROM lag', [], { consistency: 'eventual', region });
    const ks = await caughtUp('main');
    const regions = ks.regions;
    let nextId = 0;
    const insert = () => {
      const id = nextId++;
      return gate('main', 'INSERT INTO lag (id, v, at) VALUES ($1, $2, $3)', [id, `v${id}`, Date.now()]);
    };
    // The floor of the method: a wait for an LSN the replica has already applied (one round trip).
    const floor = [];
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      await wait('main', ks.shards[i % ks.shards.length].shard, regions[i % 2], 1);
      floor.push(performance.now() - t);
    }
    // What this machine sustains: writes/s with CAPACITY_IN_FLIGHT writers back to back.
    let capacity;
    {
      const until = performance.now() + CAPACITY_MS;
      let n = 0;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: CAPACITY_IN_FLIGHT }, async () => {
          while (performance.now() < until) {
            await insert();
            n++;
          }
        }),
      );
      capacity = n / ((performance.now() - t) / 1000);
      await caughtUp('main');
    }
    // In the Worker, as fast as 32 writers go: with 2 replicas per shard, and without replicas.
    log('bench: write capacity inside the Worker, with and without replicas …');
    await gate('norep', 'CREATE TABLE lag (id BIGINT PRIMARY KEY, v TEXT NOT NULL, at BIGINT NOT NULL)');
    const workerCapacity = {};
    for (let round = 0; round < 2; round++) {
      for (const keyspace of round ? ['norep', 'main'] : ['main', 'norep']) {
        const r = await post(`${w.url}/bench/lag`, {
          keyspace,
          rate: 1000,
          seconds: 1.5,
          probesPerSecond: 0,
          maxInFlight: CAPACITY_IN_FLIGHT,
          maxSlipMs: 1e9,
          fromId: 10_000_000 + nextId,
        });
        nextId += 1500;
        if (r.failed) throw new Error(`${r.failed} writes failed: ${r.error}`);
        workerCapacity[keyspace] = (workerCapacity[keyspace] ?? 0) + r.issued / r.seconds / 2;
      }
      await caughtUp('main');
    }
    // In the Worker: writes through VTGate's session code at a fixed rate, no HTTP in the way.
    const workerRuns = [];
    // Besides the fixed rates, half of what this machine just sustained: a lag measured at a
    // rate that is actually held, whatever else the machine is doing.
    const halfCapacity = Math.max(5, Math.round(workerCapacity.main / 2));
    for (const rate of [halfCapacity, ...RATES]) {
      log(`bench: ${rate} writes/s for ${SECONDS} s, driven inside the Worker …`);
      const r = await post(`${w.url}/bench/lag`, {
        keyspace: 'main',
        rate,
        seconds: SECONDS,
        probesPerSecond: PROBES_PER_SECOND,
        maxInFlight: MAX_IN_FLIGHT,
        maxSlipMs: MAX_SLIP_MS,
        fromId: nextId,
      });
      nextId += rate * SECONDS;
      if (r.failed) throw new Error(`${r.failed} writes failed at ${rate} writes/s: ${r.error}`);
      workerRuns.push({
        rate,
        offered: Math.round(rate * SECONDS),
        achieved: r.issued / r.seconds,
        issued: r.issued,
        sustained: r.slip <= MAX_SLIP_MS,
        slip: r.slip,
        samples: r.lags.length,
        p50: pct(r.lags, 50),
        p99: pct(r.lags, 99),
        max: Math.max(...r.lags),
      });
      await caughtUp('main');
    }
    // From Node over HTTP, as a client sees it, at rates this machine sustains that way.
    const lagRuns = [];
    for (const rate of HTTP_RATES) {
      log(`bench: ${rate} writes/s for ${SECONDS} s over HTTP (capacity that way ${fmt(capacity)} writes/s) …`);
      const n = rate * SECONDS;
      const every = Math.max(1, Math.round(rate / PROBES_PER_SECOND));
      const lags = [];
      let inFlight = 0;
      let slip = 0;
      let issued = 0;
      const done = [];
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const due = t0 + (i * 1000) / rate;
        const early = due - performance.now();
        if (early > 0) await sleep(early);
        while (inFlight >= MAX_IN_FLIGHT) await sleep(1);
        slip = Math.max(slip, performance.now() - due);
        if (slip > MAX_SLIP_MS) break; // not sustained: the queue would only grow
        inFlight++;
        issued++;
        done.push(
          (async () => {
            try {
              const r = await insert();
              if (i % every) return;
              const acked = performance.now();
              const [at, lsn] = Object.entries(positions(r.bookmark))[0];
              await wait('main', at.split('/')[1], regions[(i / every) % regions.length], lsn);
              lags.push(performance.now() - acked);
            } finally {
              inFlight--;
            }
          })(),
        );
      }
      await Promise.all(done);
      const seconds = (performance.now() - t0) / 1000;
      lagRuns.push({
        rate,
        offered: n,
        achieved: issued / seconds,
        issued,
        sustained: slip <= MAX_SLIP_MS,
        slip,
        samples: lags.length,
        p50: pct(lags, 50),
        p99: pct(lags, 99),
        max: Math.max(...lags),
      });
      await caughtUp('main');
    }

    // ---- 2. apply throughput vs a raw batched insert -------------------------------------------
    const applyRuns = [];
    for (const [keyspace, pair, kind] of [
      ['apsq', 'do-sqlite → do-sqlite', 'do-sqlite'],
      ['appgsq', 'pglite → do-sqlite', 'do-sqlite'],
      ['appg', 'pglite → pglite', 'pglite'],
    ]) {
      log(`bench: apply throughput, ${pair} …`);
      await gate(keyspace, 'CREATE TABLE applied (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score INT, note TEXT)');
      await gate(keyspace, 'SELECT count(*) FROM applied', [], { consistency: 'eventual', region: 'wnam' });
      await caughtUp(keyspace);
      const apply = [];
      const raw = [];
      const multi = [];
      const write = [];
      for (let round = 0; round < APPLY_ROUNDS; round++) {
        // A backlog: the replica paused (still registered, so the log is kept), rows committed one by one.
        await replica(keyspace, '-', 'wnam', 'pause');
        const tw = performance.now();
        const lsns = await post(`${w.url}/bench/write`, { keyspace, from: round * APPLY_ROWS, n: APPLY_ROWS, concurrency: 8 });
        write.push(APPLY_ROWS / ((performance.now() - tw) / 1000));
        const lsn = lsns[`${keyspace}/-`];
        const t = performance.now();
        await replica(keyspace, '-', 'wnam', 'resume');
        const got = await wait(keyspace, '-', 'wnam', lsn, 300_000);
        if (got.applied < lsn) throw new Error(`${keyspace}: replica applied ${got.applied} of ${lsn}`);
        apply.push(APPLY_ROWS / ((performance.now() - t) / 1000));
        // The same rows into a fresh engine of the replica's kind, in transactions of RAW_BATCH:
        // single-row INSERTs, then multi-row INSERTs.
        for (const [out, perStatement] of [
          [raw, 1],
          [multi, RAW_MULTI_ROWS],
        ]) {
          const { id } = await post(`${w.url}/bench/raw-setup`, { kind });
          const tr = performance.now();
          const { rows } = await post(`${w.url}/bench/raw-insert`, { id, n: APPLY_ROWS, batch: RAW_BATCH, perStatement });
          out.push(APPLY_ROWS / ((performance.now() - tr) / 1000));
          if (rows !== APPLY_ROWS) throw new Error(`raw insert: ${rows} rows`);
        }
      }
      applyRuns.push({
        pair,
        apply: pct(apply, 50),
        raw: pct(raw, 50),
        multi: pct(multi, 50),
        ratios: apply.map((a, i) => a / raw[i]),
        multiRatios: apply.map((a, i) => a / multi[i]),
        write: pct(write, 50),
      });
    }

    // ---- 3. read throughput with 1 vs 2 replicas per shard --------------------------------------
    log('bench: reads with 1 vs 2 replicas per shard …');
    await gate('main', 'CREATE TABLE kv (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
    for (let i = 0; i < READ_ROWS; i += 50) {
      const ids = Array.from({ length: 50 }, (_, k) => i + k);
      await gate(
        'main',
        `INSERT INTO kv (id, v) VALUES ${ids.map((_, k) => `($${k * 2 + 1}, $${k * 2 + 2})`).join(', ')}`,
        ids.flatMap((id) => [id, `value ${id}`]),
      );
    }
    for (const region of regions) await gate('main', 'SELECT count(*) FROM kv', [], { consistency: 'eventual', region });
    await caughtUp('main');
    const SELECT = 'SELECT id, v FROM kv WHERE id = $1';
    const targets = {
      primaries: (i) => gate('main', SELECT, [i % READ_ROWS], { consistency: 'strong' }),
      '1 replica per shard': (i) => gate('main', SELECT, [i % READ_ROWS], { consistency: 'eventual', region: regions[0] }),
      '2 replicas per shard': (i) => gate('main', SELECT, [i % READ_ROWS], { consistency: 'eventual', region: regions[i % 2] }),
    };
    const served = {};
    const throughput = async (name, n, op) => {
      let next = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: READ_CONCURRENCY }, async () => {
          for (let i = next++; i < n; i = next++) {
            const r = await op(i);
            const k = `${name}: ${r.servedBy.role} ${r.servedBy.role === 'replica' ? r.servedBy.region : ''}`.trim();
            served[k] = (served[k] ?? 0) + 1;
          }
        }),
      );
      return n / ((performance.now() - start) / 1000);
    };
    const reads = Object.fromEntries(Object.keys(targets).map((k) => [k, 0]));
    for (const [name, op] of Object.entries(targets)) await throughput(name, 100, op); // warm up
    for (let round = 0; round < READ_ROUNDS; round++) {
      log(`bench: reads round ${round + 1}/${READ_ROUNDS} …`);
      for (const [name, op] of Object.entries(targets)) reads[name] += (await throughput(name, READ_OPS, op)) / READ_ROUNDS;
    }

    const target500 = workerRuns.find((r) => r.rate === 500);
    const loadAfter = loadavg()[0];
    const lagTable = (runs) =>
      table(
        ['offered writes/s', 'achieved writes/s', 'sustained', 'writes offered / issued', 'followed', 'lag p50 ms', 'lag p99 ms', 'lag max ms'],
        runs.map((r) => [
          fmt(r.rate),
          fmt(r.achieved),
          r.sustained ? 'yes' : `no (${fmt(r.slip / 1000, 1)} s behind)`,
          `${fmt(r.offered)} / ${fmt(r.issued)}`,
          fmt(r.samples),
          fmt(r.p50, 1),
          fmt(r.p99, 1),
          fmt(r.max, 1),
        ]),
      );
    return `## Replication: lag, apply throughput, reads from replicas

Keyspace \`main\`: 4 DO SQLite shards, a DO SQLite replica of each in two regions (wnam, weur;
simulated locally: every DO runs in the one \`wrangler dev\` process). Writes are single-row
\`INSERT\`s issued on a fixed schedule (open loop, at most ${MAX_IN_FLIGHT} in flight; a run whose schedule slips
more than ${fmt(MAX_SLIP_MS)} ms behind is stopped: not sustained). About ${PROBES_PER_SECOND} writes a second are followed:
right after the write's result, the replica of its shard in a region (alternating) is asked to
\`waitFor\` its LSN; the lag is the time from the result until that answer. Load average (1 min)
${fmt(loadBefore, 1)} at the start, ${fmt(loadAfter, 1)} at the end, on ${cpus} cores.

**Driven inside the Worker** (\`POST /bench/lag\`: the writes go through VTGate's own session code
and the tablet DOs; no HTTP, no wrangler proxy; workerd's clock advances across I/O, so
millisecond resolution). The first row is offered half the write capacity measured just before
(below), so that one rate is sustained whatever the load; a run that is not sustained stopped
early, and its few lags say little:

${lagTable(workerRuns)}

Target: p99 ≤ 50 ms at 500 writes/s: ${!target500 ? 'not measured' : !target500.sustained ? `not met: 500 writes/s is not sustained here (${fmt(target500.achieved)} achieved)` : `${fmt(target500.p99, 1)} ms — ${target500.p99 <= 50 ? 'met' : 'not met'}`}.

Write capacity inside the Worker (${CAPACITY_IN_FLIGHT} writers back to back, mean of 2 rounds): ${fmt(workerCapacity.main)} writes/s with a replica
of each shard in two regions, ${fmt(workerCapacity.norep)} writes/s for the same keyspace without replicas (every DO,
replicas included, shares this machine's CPU).

**Driven from Node over HTTP** (\`POST /sql\` per write, as a client sees it). Through
\`wrangler dev\` this machine sustains ${fmt(capacity)} writes/s with ${CAPACITY_IN_FLIGHT} writers back to back, so only low rates.
The lag includes one loopback round trip to the replica: a wait for an LSN already applied takes
p50 ${fmt(pct(floor, 50), 1)} ms, p99 ${fmt(pct(floor, 99), 1)} ms.

${lagTable(lagRuns)}

Apply throughput: the replica of a one-shard keyspace is paused, ${fmt(APPLY_ROWS)} single-row \`INSERT\`s are
committed on the primary (${fmt(APPLY_ROWS)} log records; written from inside the Worker, 8 at a time), the
replica is resumed and timed until it has applied the last one (it pulls 500 records per call and
applies up to 200 per transaction, runs of upserts joined into multi-row statements). The baselines
insert the same rows into a fresh engine of the replica's kind in another DO, ${RAW_BATCH} rows per
transaction: as single-row \`INSERT\`s (*raw*), and as \`INSERT\`s of ${RAW_MULTI_ROWS} rows (*raw multi-row*: 100
parameters, the engines' limit). All timed from Node around one call; ${APPLY_ROUNDS} rounds alternating,
medians (the per-round columns list each round's ratio).

${table(
  [
    'primary → replica',
    'replica apply rows/s',
    'raw rows/s',
    'raw multi-row rows/s',
    'apply / raw (target ≥ 0.7)',
    'per round',
    'apply / raw multi-row',
    'per round',
    'primary commits/s while writing the backlog',
  ],
  applyRuns.map((r) => [
    r.pair,
    fmt(r.apply),
    fmt(r.raw),
    fmt(r.multi),
    fmt(r.apply / r.raw, 2),
    r.ratios.map((x) => fmt(x, 2)).join(', '),
    fmt(r.apply / r.multi, 2),
    r.multiRatios.map((x) => fmt(x, 2)).join(', '),
    fmt(r.write),
  ]),
)}

Reads: point \`SELECT\`s by primary key through VTGate (\`POST /sql\`), ${READ_CONCURRENCY} in flight, ${fmt(READ_OPS)} per
target per round, ${READ_ROUNDS} rounds alternating, mean ops/s. *1 replica per shard*: every read asks for
region wnam; *2 replicas per shard*: reads alternate wnam and weur; *primaries*: \`strong\`.

${table(
  ['reads served by', 'ops/s'],
  Object.entries(reads).map(([k, v]) => [k, fmt(v)]),
)}

Served as asked: ${Object.entries(served)
      .map(([k, v]) => `${k} × ${fmt(v)}`)
      .join('; ')}.
Locally every DO shares the same CPU, so a second replica adds no hardware; what it can add is a
second single-threaded DO per shard to take requests.
`;
  } finally {
    await w.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(await replicationBench());
