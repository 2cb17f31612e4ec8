// What merging costs, for `npm run bench`: a Yjs update merged into a row's bytea column with
// `applyUpdate` (a VTGate transaction: read the state, merge, write it back; docs/yjs.md) beside a
// plain UPDATE writing the same bytes over a bytea column, side by side in one run against one
// `wrangler dev`, rounds alternating. Run alone with `node bench/yjs.mjs` (after `npm run build`);
// bench/run.mjs includes it.
import * as Y from 'yjs';
import { createClient } from '../dist/client/index.js';
import { bundleWorker, startWrangler } from '../scripts/wrangler-dev.mjs';
import './auth.mjs'; // VITESS_JWT_SECRET for wrangler, VITESS_TOKEN for the clients
import { fmt, measure, table } from './measure.mjs';

const ROWS = 50;
const OPS = 300; // one at a time, per path per round
const ROUNDS = 3;

export async function yjsBench(log = (m) => process.stdout.write(`${m}\n`)) {
  log('bench: starting wrangler dev for Yjs columns …');
  const bundle = await bundleWorker('bench/gateway.wrangler.jsonc');
  const w = await startWrangler({ config: bundle.config });
  const client = await createClient({ endpoint: w.url, keyspace: 'main' }).connect();
  try {
    await client.execute('CREATE TABLE bench_yjs (id BIGINT PRIMARY KEY, body BYTEA, raw BYTEA)');
    await client.execute(`INSERT INTO bench_yjs (id) VALUES ${Array.from({ length: ROWS }, (_, i) => `(${i})`).join(', ')}`);
    // Per path, one document per row, edited one character at a time: each op sends that edit's update.
    const docsFor = () => Array.from({ length: ROWS }, () => new Y.Doc());
    const [docs, plainDocs] = [docsFor(), docsFor()];
    const nextUpdate = (of, row) => {
      let update;
      const doc = of[row];
      doc.once('update', (u) => {
        update = u;
      });
      const t = doc.getText('body');
      t.insert(t.length, 'x');
      return update;
    };
    const paths = {
      'plain UPDATE of a bytea column': (i) => client.execute('UPDATE bench_yjs SET raw = $1 WHERE id = $2', [nextUpdate(plainDocs, i % ROWS), i % ROWS]),
      'applyUpdate (merged)': (i) => client.applyUpdate('bench_yjs', { id: i % ROWS }, 'body', nextUpdate(docs, i % ROWS)),
    };
    const sums = Object.fromEntries(Object.keys(paths).map((k) => [k, { ops: 0, p50: 0, p99: 0 }]));
    for (let round = 0; round < ROUNDS; round++) {
      log(`bench: Yjs columns, round ${round + 1}/${ROUNDS} …`);
      for (const [name, op] of Object.entries(paths)) {
        await measure(30, op); // warm-up
        const r = await measure(OPS, op);
        for (const k of ['ops', 'p50', 'p99']) sums[name][k] += r[k] / ROUNDS;
      }
    }
    // Every merge is in the rows: each row's text is as long as the edits its document made.
    const { rows } = await client.query('SELECT id, body FROM bench_yjs ORDER BY id');
    for (const r of rows) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, r.body);
      if (doc.getText('body').toString() !== docs[r.id].getText('body').toString()) throw new Error(`row ${r.id}: a merge is missing`);
    }
    const base = sums['plain UPDATE of a bytea column'];
    const merged = sums['applyUpdate (merged)'];
    return `## Yjs columns: a merge beside a plain write

Keyspace \`main\` (4 DO SQLite shards under \`wrangler dev\`), ${ROWS} rows; each op is a
one-character edit's Yjs update for one row, ${OPS} one at a time per path per round, mean of
${ROUNDS} rounds with the paths alternating: written over a bytea column with a plain \`UPDATE\`,
and merged into the row's Yjs state with \`applyUpdate\` (a VTGate transaction on the row's
shard: read the state, \`Y.mergeUpdates\`, write it back). Checked after: every row holds every
merge.

${table(
  ['path', 'ops/s', 'p50 ms', 'p99 ms'],
  Object.entries(sums).map(([name, r]) => [name, fmt(r.ops), fmt(r.p50, 2), fmt(r.p99, 2)]),
)}

Yjs update apply ÷ plain column update on the primary: p50 ${fmt(merged.p50 / base.p50, 2)}×, throughput ${fmt(merged.ops / base.ops, 2)}×.
`;
  } finally {
    await client.disconnect();
    await w.stop();
    bundle.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(await yjsBench());
