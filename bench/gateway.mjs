// VTGate's figures for `npm run bench`, measured side by side in one wrangler process:
// point selects through VTGate vs a minimal Worker forwarding the same SQL to the same DO;
// point selects and inserts vs a Worker on a local D1 binding; 16-shard scatter vs single shard.
// Run alone with `node bench/gateway.mjs`; bench/run.mjs includes it in RESULTS.md.
import { startWrangler } from '../scripts/wrangler-dev.mjs';
import { mintToken } from '../dist/client/cli/token.js';
import { jsonPost } from './auth.mjs';
import { fmt, measure, table } from './measure.mjs';

const ROWS = 400;
const OPS = 1500; // per target per round
const ROUNDS = 3; // targets alternate round by round
const CONCURRENCY = 8;
const LATENCY_OPS = 300; // sequential, for p50 of single-shard vs scatter

async function post(url, body, token) {
  const init = jsonPost(body);
  if (token) init.headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, init);
  const json = await res.json();
  if (!res.ok || json.error) throw new Error(`${url}: ${JSON.stringify(json.error ?? json)}`);
  return json;
}

/** `n` operations from `CONCURRENCY` loops at once; ops/s over the whole run. */
async function throughput(n, op) {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < n; i = next++) await op(i);
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

export async function gatewayBench(log = (m) => process.stdout.write(`${m}\n`)) {
  log('bench: starting wrangler dev for VTGate and its baselines …');
  const w = await startWrangler({ config: 'bench/gateway.wrangler.jsonc' });
  try {
    const gate = (keyspace, sql, params = []) => post(`${w.url}/sql`, { keyspace, sql, params });
    const direct = (keyspace, shard, sql, params = []) => post(`${w.url}/direct`, { keyspace, shard, sql, params });
    const d1 = (sql, params = []) => post(`${w.url}/d1`, { sql, params });
    // Auth on: a keyspace user's token (verified, then its grants checked on the statement);
    // off: the same /sql handler with neither (bench/gateway-worker.ts).
    const user = await mintToken({ keyspace: ['main'], ttl: '24h', sub: 'bench-user' });
    const authOn = (sql, params = []) => post(`${w.url}/sql`, { keyspace: 'main', sql, params }, user);
    const authOff = (sql, params = []) => post(`${w.url}/noauth/sql`, { keyspace: 'main', sql, params });

    log('bench: loading rows …');
    await gate('main', 'CREATE TABLE kv (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
    await gate('main', 'CREATE TABLE kv_ins (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
    await d1('CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    await d1('CREATE TABLE IF NOT EXISTS kv_ins (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const shardOf = [];
    for (let i = 0; i < ROWS; i++) {
      const r = await gate('main', 'INSERT INTO kv (id, v) VALUES ($1, $2)', [i, `value ${i}`]);
      shardOf[i] = r.servedBy.shard;
      await d1('INSERT INTO kv (id, v) VALUES (?, ?)', [i, `value ${i}`]);
    }
    await gate('wide', 'CREATE TABLE items (id BIGINT PRIMARY KEY, grp INT NOT NULL, v TEXT NOT NULL)');
    for (let i = 0; i < ROWS; i += 50) {
      const ids = Array.from({ length: 50 }, (_, k) => i + k);
      await gate(
        'wide',
        `INSERT INTO items (id, grp, v) VALUES ${ids.map((_, k) => `($${k * 2 + 1}, ${(i + k) % 20}, $${k * 2 + 2})`).join(', ')}`,
        ids.flatMap((id) => [id, `item ${id}`]),
      );
    }

    const SELECT = 'SELECT id, v FROM kv WHERE id = $1';
    const targets = {
      gateway: (i) => gate('main', SELECT, [i % ROWS]),
      direct: (i) => direct('main', shardOf[i % ROWS], SELECT, [i % ROWS]),
      d1: (i) => d1('SELECT id, v FROM kv WHERE id = ?', [i % ROWS]),
    };
    let insertId = 0;
    const inserts = {
      gateway: () => {
        const id = insertId++;
        return gate('main', 'INSERT INTO kv_ins (id, v) VALUES ($1, $2)', [id, `v${id}`]);
      },
      d1: () => {
        const id = insertId++;
        return d1('INSERT INTO kv_ins (id, v) VALUES (?, ?)', [id, `v${id}`]);
      },
    };
    const auth = {
      on: (i) => authOn(SELECT, [i % ROWS]),
      off: (i) => authOff(SELECT, [i % ROWS]),
    };
    const sel = { gateway: 0, direct: 0, d1: 0 };
    const ins = { gateway: 0, d1: 0 };
    const au = { on: 0, off: 0 };
    for (const op of [...Object.values(targets), ...Object.values(auth)]) await throughput(200, op); // warm up
    for (let round = 0; round < ROUNDS; round++) {
      log(`bench: VTGate round ${round + 1}/${ROUNDS} …`);
      for (const [name, op] of Object.entries(targets)) sel[name] += (await throughput(OPS, op)) / ROUNDS;
      for (const [name, op] of Object.entries(inserts)) ins[name] += (await throughput(OPS / 3, op)) / ROUNDS;
      // Alternate which goes first, so neither always runs on a warmer process.
      const order = round % 2 ? ['off', 'on'] : ['on', 'off'];
      for (const name of order) au[name] += (await throughput(OPS, auth[name])) / ROUNDS;
    }

    log('bench: 16-shard scatter vs single shard …');
    const single = { p50: 0, p99: 0 };
    const scatter = { p50: 0, p99: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const s = await measure(LATENCY_OPS, (i) => gate('wide', 'SELECT id, grp, v FROM items WHERE id = $1', [i % ROWS]));
      const a = await measure(LATENCY_OPS, (i) => gate('wide', 'SELECT id, grp, v FROM items WHERE grp = $1', [i % 20]));
      single.p50 += s.p50 / ROUNDS;
      single.p99 += s.p99 / ROUNDS;
      scatter.p50 += a.p50 / ROUNDS;
      scatter.p99 += a.p99 / ROUNDS;
    }

    return `## VTGate: routing overhead, D1, scatter

Through \`wrangler dev\` from Node over loopback HTTP (\`POST /sql\`), ${CONCURRENCY} requests in flight,
${OPS} operations per target per round, ${ROUNDS} rounds with the targets alternating, mean ops/s.
*Direct* is a minimal Worker in the same process that forwards the same SQL to the same tablet
DO; *D1* is a Worker on a local D1 binding (\`wrangler dev\`'s D1) running the same statement
in SQLite dialect. Keyspace \`main\`: 4 DO SQLite shards with change capture on.

${table(
  ['operation', 'VTGate ops/s', 'direct to DO ops/s', 'D1 ops/s', 'VTGate / direct (target ≥ 0.8)', 'VTGate / D1 (target ≥ 1.0)'],
  [
    ['point SELECT by primary key', fmt(sel.gateway), fmt(sel.direct), fmt(sel.d1), fmt(sel.gateway / sel.direct, 2), fmt(sel.gateway / sel.d1, 2)],
    ['single-row INSERT', fmt(ins.gateway), '', fmt(ins.d1), '', fmt(ins.gateway / ins.d1, 2)],
  ],
)}

Authentication: the same point SELECT through \`POST /sql\` with a keyspace user's JWT (verified,
then its grants checked on the parsed statement) and through the same handler with neither
(\`/noauth/sql\`, a route of the bench Worker only).

${table(
  ['operation', 'auth on ops/s', 'auth off ops/s', 'on / off (target ≥ 0.95)'],
  [['point SELECT by primary key', fmt(au.on), fmt(au.off), fmt(au.on / au.off, 2)]],
)}

Scatter: keyspace \`wide\` with 16 DO SQLite shards, ${ROWS} rows; ${LATENCY_OPS} queries one at a time per
round, mean of the rounds' percentiles.

${table(
  ['query', 'p50 ms', 'p99 ms'],
  [
    ['single shard (`WHERE id = $1`)', fmt(single.p50, 2), fmt(single.p99, 2)],
    ['16-shard scatter (`WHERE grp = $1`)', fmt(scatter.p50, 2), fmt(scatter.p99, 2)],
  ],
)}

Scatter p50 / single-shard p50: ${fmt(scatter.p50 / single.p50, 2)}× (target ≤ 3×).
`;
  } finally {
    await w.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(await gatewayBench());
