/**
 * Differential test: random schemas, rows and queries give the same result through the planner
 * and executor on 1, 2, 4 and 8 shards (libSQL in memory, one engine per shard), and on 2 PGlite
 * shards (schemas of one instance), as on one unsharded PGlite. Order matters only where the
 * query has ORDER BY (the generator makes such an order total).
 * Every mismatch found is kept below as a fixed regression case.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { openPglite } from '../../engines/postgres.js';
import type { ShardCursor } from '../../router/engine/executor.js';
import { Planner } from '../../router/planner/planner.js';
import { parseVSchema } from '../../router/vschema.js';
import { equalRanges } from '../../rpc/keyspace/keyrange.js';
import type { ResultSet } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import {
  canon,
  chance,
  ddl,
  describeCase,
  genInsertReturning,
  genInserts,
  genQuery,
  genSchema,
  genWrite,
  type Col,
  type ColType,
  type Query,
  type Schema,
  type Stmt,
  type Table,
} from '../differential/model.js';

// ---- shards and the oracle ----------------------------------------------------------------

/** A sharded configuration: libSQL with 1, 2, 4, 8 shards, and PGlite with 2 (as schemas of the oracle's instance). */
interface Config {
  label: string;
  n: number;
  engine: 'sqlite' | 'pglite';
  cursor: ShardCursor;
}

let oracle: StorageEngine;
const configs: Config[] = [];
const engines: StorageEngine[] = [];

/** Shards as schemas of one PGlite: each statement runs under its shard's search_path, one at a time. */
function schemaCursor(pg: StorageEngine): ShardCursor {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    execute(_ks, shard, sql, params) {
      const run = queue.then(async () => {
        await pg.query(`SET search_path TO "shard${shard}"`);
        try {
          return await pg.query(sql, params);
        } finally {
          await pg.query('SET search_path TO public');
        }
      });
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

beforeAll(async () => {
  oracle = await openPglite();
  for (const n of [1, 2, 4, 8]) {
    const m = new Map<string, StorageEngine>();
    for (const s of equalRanges(n)) m.set(s, await LibsqlEngine.open(':memory:'));
    engines.push(...m.values());
    configs.push({ label: `libsql × ${n}`, n, engine: 'sqlite', cursor: { execute: (_ks, shard, sql, params) => m.get(shard)!.query(sql, params) } });
  }
  for (const s of equalRanges(2)) await oracle.query(`CREATE SCHEMA "shard${s}"`);
  configs.push({ label: 'pglite × 2', n: 2, engine: 'pglite', cursor: schemaCursor(oracle) });
}, 60_000);

afterAll(async () => {
  await oracle?.close();
  for (const e of engines) await e.close();
});

function vschemaFor(schema: Schema, c: Config) {
  const tables: Record<string, unknown> = {};
  const shards = equalRanges(c.n);
  // range: ids split evenly over the shards (bounds 5, 10, … for 8 shards).
  const ranges = shards.map((shard, i) => ({ ...(i > 0 && { from: (i * 40) / c.n }), ...(i < c.n - 1 && { to: ((i + 1) * 40) / c.n }), shard }));
  const type = schema.vindexType ?? 'hash';
  for (const t of schema.tables) {
    tables[t.name] = t.reference
      ? { type: 'reference' }
      : {
          vindex: { type, column: t.vindex ?? 'id', ...(type === 'range' && { ranges }) },
          ...(t.lookup && { lookups: [{ column: t.lookup }] }),
        };
  }
  return parseVSchema({ keyspaces: [{ name: 'main', engine: c.engine, shards: c.n, tables }] });
}

type Planners = Map<Config, Planner>;

async function setUp(schema: Schema, inserts: Stmt[]): Promise<Planners> {
  const drops = schema.tables.map((t) => `DROP TABLE IF EXISTS ${t.name}`);
  const lookupDrops = schema.tables.flatMap((t) => (t.lookup ? [`DROP TABLE IF EXISTS ${t.name}_${t.lookup}_lookup`] : []));
  for (const d of drops) await oracle.query(d);
  for (const t of schema.tables) await oracle.query(ddl(t));
  for (const s of inserts) await oracle.query(s.sql, s.params);
  const planners: Planners = new Map();
  for (const c of configs) {
    const planner = new Planner(vschemaFor(schema, c));
    for (const d of [...lookupDrops, ...drops]) await planner.run(d, [], 'main', c.cursor);
    for (const t of schema.tables) await planner.run(ddl(t), [], 'main', c.cursor);
    for (const s of inserts) await planner.run(s.sql, s.params, 'main', c.cursor);
    planners.set(c, planner);
  }
  return planners;
}

async function check(planners: Planners, q: Query, context: string): Promise<void> {
  const expected = await oracle.query(q.sql, q.params);
  for (const [c, planner] of planners) {
    let actual: ResultSet;
    try {
      actual = await planner.run(q.sql, q.params, 'main', c.cursor);
    } catch (e) {
      throw new Error(`${c.label}: ${(e as Error).message}\nquery: ${q.sql} ${JSON.stringify(q.params)}\n${context}`);
    }
    const plan = (await planner.run(`EXPLAIN ${q.sql}`, [], 'main', c.cursor)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const where = `${c.label}\nquery: ${q.sql} ${JSON.stringify(q.params)}\nplan:\n${plan}\n${context}`;
    expect(
      actual.fields.map((f) => f.name),
      where,
    ).toEqual(expected.fields.map((f) => f.name));
    expect(canon(actual, q.ordered), where).toEqual(canon(expected, q.ordered));
  }
}

/** A write: every configuration changes as many rows as the oracle, and returns the same rows (in the same order when `ordered`). */
async function checkWrite(planners: Planners, w: Stmt & { ordered?: boolean }, context: string): Promise<void> {
  const expected = await oracle.query(w.sql, w.params);
  for (const [c, planner] of planners) {
    const where = `${c.label}\nwrite: ${w.sql} ${JSON.stringify(w.params)}\n${context}`;
    let actual: ResultSet;
    try {
      actual = await planner.run(w.sql, w.params, 'main', c.cursor);
    } catch (e) {
      throw new Error(`${where}\n${(e as Error).message}`);
    }
    expect(actual.affected, where).toBe(expected.affected);
    expect(canon(actual, !!w.ordered), where).toEqual(canon(expected, !!w.ordered));
  }
}

// ---- regressions ---------------------------------------------------------------------------

const cols = (spec: string): Col[] =>
  spec.split(',').map((c) => {
    const [name, type] = c.trim().split(' ') as [string, ColType];
    return { name, type };
  });
const T1 = (spec = 'id int, x0 int'): Table => ({ name: 't1', alias: 'a', cols: cols(spec), reference: false });
const T2 = (spec = 'id int, t1_id int, y0 int'): Table => ({ name: 't2', alias: 'b', cols: cols(spec), reference: false, vindex: 't1_id' });

interface Regression {
  name: string;
  schema: Schema;
  rows: Stmt[];
  query: Omit<Query, 'params'> & { params?: SqlValue[] };
}

const REGRESSIONS: Regression[] = [
  {
    // GROUP BY the vindex column of a LEFT JOIN's nullable side: the NULL group spans shards.
    name: 'group by an outer-joined vindex column is not shard-local',
    schema: { tables: [T1(), T2()] },
    rows: [
      { sql: 'INSERT INTO t1 (id, x0) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0)', params: [] },
      { sql: 'INSERT INTO t2 (id, t1_id, y0) VALUES (1, 1, 5)', params: [] },
    ],
    query: { sql: 'SELECT b.t1_id AS g0, count(*) AS n FROM t1 AS a LEFT JOIN t2 AS b ON b.t1_id = a.id GROUP BY 1 ORDER BY 1', ordered: true },
  },
  {
    // Output names repeat (a.id, b.id): the row objects keep one, DISTINCT must still see both.
    name: 'DISTINCT over repeated output names',
    schema: { tables: [T1(), T2()] },
    rows: [
      { sql: 'INSERT INTO t1 (id, x0) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0)', params: [] },
      { sql: 'INSERT INTO t2 (id, t1_id, y0) VALUES (1, 1, 5)', params: [] },
    ],
    query: { sql: 'SELECT DISTINCT a.id, b.id FROM t1 AS a LEFT JOIN t2 AS b ON b.t1_id = a.id ORDER BY a.id, b.id', ordered: true },
  },
  {
    name: 'DISTINCT over repeated aggregate output names',
    schema: { tables: [T1('id int, x0 int, x1 int')] },
    rows: [{ sql: 'INSERT INTO t1 (id, x0, x1) VALUES (1, 1, 1), (2, 1, NULL), (3, 2, 5), (4, 3, 6)', params: [] }],
    query: { sql: 'SELECT DISTINCT count(*), count(a.x1) FROM t1 AS a GROUP BY a.x0', ordered: false },
  },
  {
    // Under a range vindex rows 21, 22 and 23 share a keyspace id, so they share one lookup entry
    // per value: moving row 21 off x0 = 0 deleted the entry rows 22 and 23 still needed, and the
    // lookup sent the query to row 1's shard alone.
    name: 'a lookup entry shared by rows of one keyspace id outlives the row that leaves',
    schema: { tables: [{ ...T1(), lookup: 'x0' }], vindexType: 'range' },
    rows: [
      { sql: 'INSERT INTO t1 (id, x0) VALUES (1, 0), (21, 0), (22, 0), (23, 0), (24, 3)', params: [] },
      { sql: 'UPDATE t1 SET x0 = 7 WHERE id = 21', params: [] },
      { sql: 'DELETE FROM t1 WHERE id = 24', params: [] },
    ],
    query: { sql: 'SELECT a.id FROM t1 AS a WHERE a.x0 = 0 ORDER BY a.id', ordered: true },
  },
  {
    // Grouped by the sharding column, AVG ran on the (SQLite) shards in float precision.
    name: 'AVG grouped by the sharding column is exact',
    schema: { tables: [T1(), T2()] },
    rows: [
      { sql: 'INSERT INTO t1 (id, x0) VALUES (1, 0), (2, 0), (3, 0), (4, 0)', params: [] },
      { sql: 'INSERT INTO t2 (id, t1_id, y0) VALUES (1, 1, 0), (2, 1, 0), (4, 1, 0), (5, 2, 0), (6, 3, 0), (9, 3, 0)', params: [] },
    ],
    query: { sql: 'SELECT b.t1_id AS g0, avg(b.id) AS a1 FROM t1 AS a JOIN t2 AS b ON b.t1_id = a.id GROUP BY b.t1_id ORDER BY 1', ordered: true },
  },
];

// ---- the tests ------------------------------------------------------------------------------

/** Runs of the property: 40 by default (~50 s on 2 cores); ROUTER_DIFF_RUNS=500 for a longer hunt. */
const RUNS = Number(process.env.ROUTER_DIFF_RUNS ?? 40);

describe('differential: sharded (libSQL × 1, 2, 4, 8; PGlite × 2) vs unsharded PGlite', () => {
  test(
    'random schemas, rows and queries',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.gen(), async (g) => {
          const schema = genSchema(g);
          const inserts = genInserts(g, schema);
          const context = describeCase(schema, inserts);
          const planners = await setUp(schema, inserts);
          for (let i = 0; i < 8; i++) {
            if (chance(g, 0.1)) await checkWrite(planners, genInsertReturning(g, schema, 100 + 10 * i), context);
            else if (chance(g, 0.25)) await checkWrite(planners, genWrite(g, schema), context);
            else await check(planners, genQuery(g, schema), context);
          }
        }),
        {
          numRuns: RUNS,
          endOnFailure: !process.env.ROUTER_DIFF_SHRINK,
          // Replays a reported failure: ROUTER_DIFF_SEED=<seed> ROUTER_DIFF_PATH=<path>.
          ...(process.env.ROUTER_DIFF_SEED && { seed: Number(process.env.ROUTER_DIFF_SEED), path: process.env.ROUTER_DIFF_PATH }),
        },
      );
    },
    60_000 + RUNS * 3_000,
  );

  // Mismatches the property found, kept as fixed cases.
  test.each(REGRESSIONS)('regression: $name', async (r) => {
    await check(await setUp(r.schema, r.rows), { ...r.query, params: r.query.params ?? [] } as Query, r.name);
  });
});
