// What the adapters cost, for `npm run bench`: the same point SELECT through the plain client, the
// Drizzle adapter (on that client) and `vitess proxy` (node-postgres → the Postgres wire → one
// client per connection), side by side in one run against one `wrangler dev`, rounds alternating.
// Run alone with `node bench/adapters.mjs` (after `npm run build`); bench/run.mjs includes it.
import { eq } from 'drizzle-orm';
import { bigint, pgTable, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { createClient } from '../dist/client/index.js';
import { drizzle } from '../dist/client/orm/drizzle.js';
import { startProxy } from '../dist/client/proxy/pg-server.js';
import { bundleWorker, startWrangler } from '../scripts/wrangler-dev.mjs';
import './auth.mjs'; // VITESS_JWT_SECRET for wrangler, VITESS_TOKEN for the clients
import { fmt, measure, table } from './measure.mjs';

const ROWS = 200;
const OPS = 500; // one at a time, per path per round
const ROUNDS = 3;

const kv = pgTable('bench_kv', { id: bigint('id', { mode: 'number' }).primaryKey(), v: text('v').notNull() });

export async function adaptersBench(log = (m) => process.stdout.write(`${m}\n`)) {
  log('bench: starting wrangler dev for the adapters …');
  // Run as one bundle: edits to the sources during the run do not reload the Worker.
  const bundle = await bundleWorker('bench/gateway.wrangler.jsonc');
  const w = await startWrangler({ config: bundle.config });
  const client = await createClient({ endpoint: w.url, keyspace: 'main' }).connect();
  const proxy = await startProxy({ endpoint: w.url, token: process.env.VITESS_TOKEN, host: '127.0.0.1', port: 0 });
  const pgClient = new pg.Client({ host: proxy.host, port: proxy.port, user: 'bench', password: process.env.VITESS_TOKEN, database: 'main' });
  try {
    await pgClient.connect();
    await client.execute('CREATE TABLE bench_kv (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
    for (let i = 0; i < ROWS; i += 50) {
      const ids = Array.from({ length: 50 }, (_, k) => i + k);
      await client.execute(
        `INSERT INTO bench_kv (id, v) VALUES ${ids.map((_, k) => `($${k * 2 + 1}, $${k * 2 + 2})`).join(', ')}`,
        ids.flatMap((id) => [id, `value ${id}`]),
      );
    }
    const db = drizzle(client);
    const SELECT = 'SELECT id, v FROM bench_kv WHERE id = $1';
    const paths = {
      'plain client': (i) => client.execute(SELECT, [i % ROWS]),
      'Drizzle adapter': (i) =>
        db
          .select()
          .from(kv)
          .where(eq(kv.id, i % ROWS)),
      'vitess proxy (node-postgres)': (i) => pgClient.query(SELECT, [i % ROWS]),
    };
    // Every path answers the same row before anything is timed.
    for (const [name, op] of Object.entries(paths)) {
      const out = await op(7);
      const row = Array.isArray(out) ? out[0] : out.rows[0];
      if (row?.v !== 'value 7') throw new Error(`${name}: expected the row with v = "value 7", got ${JSON.stringify(row)}`);
    }
    const sums = Object.fromEntries(Object.keys(paths).map((k) => [k, { ops: 0, p50: 0, p99: 0 }]));
    for (let round = 0; round < ROUNDS; round++) {
      log(`bench: adapters, round ${round + 1}/${ROUNDS} …`);
      for (const [name, op] of Object.entries(paths)) {
        await measure(50, op); // warm-up
        const r = await measure(OPS, op);
        for (const k of ['ops', 'p50', 'p99']) sums[name][k] += r[k] / ROUNDS;
      }
    }
    const base = sums['plain client'];
    return `## Adapters: Drizzle and the Postgres wire

The same point \`SELECT\` (\`${SELECT}\`, ${ROWS} rows, keyspace \`main\`: 4 DO SQLite shards under
\`wrangler dev\`), ${OPS} one at a time per path per round, mean of ${ROUNDS} rounds with the paths
alternating: the plain client over its WebSocket; the Drizzle adapter on that client
(\`@dotdo/vitess/drizzle\`, a query built by Drizzle each time); node-postgres through
\`vitess proxy\` (the Postgres wire on loopback, then one client session per connection).

${table(
  ['path', 'ops/s', 'p50 ms', 'p99 ms', 'p50 ÷ plain client'],
  Object.entries(sums).map(([name, r]) => [name, fmt(r.ops), fmt(r.p50, 2), fmt(r.p99, 2), fmt(r.p50 / base.p50, 2)]),
)}

Throughput ÷ the plain client: Drizzle ${fmt(sums['Drizzle adapter'].ops / base.ops, 2)}×, proxy ${fmt(sums['vitess proxy (node-postgres)'].ops / base.ops, 2)}×.
`;
  } finally {
    await pgClient.end().catch(() => undefined);
    await proxy.close();
    await client.disconnect();
    await w.stop();
    bundle.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(await adaptersBench());
