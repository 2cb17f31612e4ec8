// Cross-shard transactions for `npm run bench`: a transfer between two accounts on different
// shards (interactive transaction, two-phase commit) vs one between two accounts on the same
// shard (committed there, no coordinator), through the real client over a WebSocket.
// Run alone with `node bench/twopc.mjs` (after `npm run build`); bench/run.mjs includes it.
// The Worker is bundled once and run as that bundle: edits to the sources during the run do not
// reload it (a reload drops every WebSocket with 1006). A transfer that still fails is counted
// and reported, not fatal: the client reopens its WebSocket on the next call.
import { createClient } from '../dist/client/index.js';
import { bundleWorker, startWrangler } from '../scripts/wrangler-dev.mjs';
import './auth.mjs'; // VITESS_JWT_SECRET for wrangler, VITESS_TOKEN for the clients
import { fmt, measure, table } from './measure.mjs';

const LATENCY_OPS = 200; // one at a time, per kind per round
const THROUGHPUT_OPS = 400; // per kind per round
const CONCURRENCY = 4; // loops, each on its own accounts (no conflicts between them)
const ROUNDS = 2;

async function throughput(n, loops, op) {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    loops.map(async (loop) => {
      for (let i = next++; i < n; i = next++) await op(loop, i);
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

export async function twopcBench(log = (m) => process.stdout.write(`${m}\n`)) {
  log('bench: starting wrangler dev for cross-shard transactions …');
  const bundle = await bundleWorker('bench/gateway.wrangler.jsonc');
  let w;
  const clients = [];
  /** Failed transfers by error code (none expected; e.g. UNAVAILABLE if a socket drops). */
  const failed = new Map();
  try {
    w = await startWrangler({ config: bundle.config });
    const c = await createClient({ endpoint: w.url, keyspace: 'main' }).connect();
    clients.push(c);
    await c.execute('CREATE TABLE bench_accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)');
    const shardOf = new Map();
    for (let id = 1; id <= 64; id++) {
      const r = await c.query('INSERT INTO bench_accounts (id, balance) VALUES ($1, 1000000) RETURNING id', [id]);
      shardOf.set(id, r.servedBy.shard);
    }
    const ids = [...shardOf.keys()];
    const used = new Set();
    const pair = (same) => {
      const a = ids.find((id) => !used.has(id) && ids.some((b) => b !== id && !used.has(b) && (shardOf.get(b) === shardOf.get(id)) === same));
      const b = ids.find((x) => x !== a && !used.has(x) && (shardOf.get(x) === shardOf.get(a)) === same);
      used.add(a);
      used.add(b);
      return [a, b];
    };
    const move = (cl, [from, to]) =>
      cl
        .transaction(
          async (tx) => {
            await tx.execute('UPDATE bench_accounts SET balance = balance - 1 WHERE id = $1', [from]);
            await tx.execute('UPDATE bench_accounts SET balance = balance + 1 WHERE id = $1', [to]);
          },
          { retry: 5 },
        )
        .catch((e) => {
          const code = e?.code ?? e?.name ?? 'Error';
          failed.set(code, (failed.get(code) ?? 0) + 1);
          // A few failures are reported; a broken setup should not pass as a figure.
          if ([...failed.values()].reduce((a, b) => a + b, 0) > 20) throw e;
        });
    const loops = await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        const cl = await createClient({ endpoint: w.url, keyspace: 'main' }).connect();
        clients.push(cl);
        return { cl, single: pair(true), cross: pair(false) };
      }),
    );
    const single = { p50: 0, p99: 0, ops: 0 };
    const cross = { p50: 0, p99: 0, ops: 0 };
    await measure(50, () => move(c, loops[0].single)); // warm up
    await measure(50, () => move(c, loops[0].cross));
    for (let round = 0; round < ROUNDS; round++) {
      log(`bench: cross-shard transactions, round ${round + 1}/${ROUNDS} …`);
      for (const [kind, acc] of [
        ['single', single],
        ['cross', cross],
      ]) {
        const m = await measure(LATENCY_OPS, () => move(c, loops[0][kind]));
        acc.p50 += m.p50 / ROUNDS;
        acc.p99 += m.p99 / ROUNDS;
        acc.ops += (await throughput(THROUGHPUT_OPS, loops, (l) => move(l.cl, l[kind]))) / ROUNDS;
      }
    }
    return `## Cross-shard transactions (two-phase commit)

A transfer: an interactive transaction of two \`UPDATE\`s through the client over a WebSocket,
between two accounts on the same shard (committed there) or on different shards (two-phase
commit through a coordinator DO). Keyspace \`main\`: 4 DO SQLite shards under \`wrangler dev\`.
Latency: ${LATENCY_OPS} transfers one at a time per round; throughput: ${THROUGHPUT_OPS} transfers from
${CONCURRENCY} clients, each on its own accounts; mean of ${ROUNDS} rounds.

${table(
  ['transfer', 'transfers/s', 'p50 ms', 'p99 ms'],
  [
    ['same shard (no 2PC)', fmt(single.ops), fmt(single.p50, 2), fmt(single.p99, 2)],
    ['across two shards (2PC)', fmt(cross.ops), fmt(cross.p50, 2), fmt(cross.p99, 2)],
  ],
)}

Cross-shard / same-shard: throughput ${fmt(cross.ops / single.ops, 2)}×, p50 ${fmt(cross.p50 / single.p50, 2)}×
(2PC adds two round trips to the coordinator; the participants' prepare replaces the commit).
Failed transfers: ${failed.size ? [...failed].map(([code, n]) => `${n} × ${code}`).join(', ') : 'none'}.
`;
  } finally {
    await Promise.all(clients.map((cl) => cl.disconnect()));
    await w?.stop();
    bundle.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(await twopcBench());
