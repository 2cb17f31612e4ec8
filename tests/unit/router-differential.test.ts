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
import type { ShardCursor } from '../../router/planner/executor.js';
import { Planner } from '../../router/planner/planner.js';
import { parseVSchema } from '../../router/vschema.js';
import { equalRanges } from '../../rpc/keyspace/keyrange.js';
import type { ResultSet } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';

// ---- the model ----------------------------------------------------------------------------

type ColType = 'int' | 'text' | 'numeric' | 'bool';
interface Col { name: string; type: ColType }
interface Table { name: string; alias: string; cols: Col[]; reference: boolean; vindex?: string; lookup?: string }
/** The vindex type of t1 (t2 is co-located with it, so uses the same one). */
type VindexType = 'hash' | 'consistent_hash' | 'range';
interface Schema { tables: Table[]; vindexType?: VindexType }
interface Stmt { sql: string; params: SqlValue[] }
interface Query extends Stmt { ordered: boolean }

const DOMAIN: Record<ColType, SqlValue[]> = {
  int: [-3, -1, 0, 1, 2, 3, 7, null],
  text: ['a', 'B', 'b', '', 'é', 'ab', null],
  numeric: ['0', '1.5', '-2.25', '10', '0.75', null],
  bool: [true, false, null],
};
const SQL_TYPE: Record<ColType, string> = { int: 'INT', text: 'TEXT', numeric: 'NUMERIC', bool: 'BOOLEAN' };

const ddl = (t: Table) => `CREATE TABLE ${t.name} (${t.cols.map((c) => `${c.name} ${SQL_TYPE[c.type]}${c.name === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')})`;

function literal(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return `'${v.replace(/'/g, "''")}'`;
  return String(v);
}

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
  const ranges = shards.map((shard, i) => ({ ...(i > 0 && { from: i * 40 / c.n }), ...(i < c.n - 1 && { to: (i + 1) * 40 / c.n }), shard }));
  const type = schema.vindexType ?? 'hash';
  for (const t of schema.tables) {
    tables[t.name] = t.reference ? { type: 'reference' } : {
      vindex: { type, column: t.vindex ?? 'id', ...(type === 'range' && { ranges }) },
      ...(t.lookup && { lookups: [{ column: t.lookup }] }),
    };
  }
  return parseVSchema({ keyspaces: [{ name: 'main', engine: c.engine, shards: c.n, tables }] });
}

/** Rows as comparable text: bigints and numbers of one value print the same. */
function canon(r: ResultSet, ordered: boolean, approxNumeric: boolean): string[] {
  const rows = r.rows.map((row) => JSON.stringify(r.fields.map((f) => {
    const v = row[f.name];
    if (typeof v === 'bigint') return `${v}`;
    if (typeof v === 'string' && f.type === 'numeric' && approxNumeric) return Number(v).toPrecision(12);
    return v instanceof Uint8Array ? [...v] : v;
  })));
  return ordered ? rows : rows.sort();
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
    // One SQLite shard runs SQLite's own AVG, in float precision (see docs/routing.md).
    const approx = c.n === 1 && c.engine === 'sqlite';
    const plan = (await planner.run(`EXPLAIN ${q.sql}`, [], 'main', c.cursor)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const where = `${c.label}\nquery: ${q.sql} ${JSON.stringify(q.params)}\nplan:\n${plan}\n${context}`;
    expect(actual.fields.map((f) => f.name), where).toEqual(expected.fields.map((f) => f.name));
    expect(canon(actual, q.ordered, approx), where).toEqual(canon(expected, q.ordered, approx));
  }
}

/** A write: every configuration changes as many rows as the oracle. */
async function checkWrite(planners: Planners, w: Stmt, context: string): Promise<void> {
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
    expect(canon(actual, false, false), where).toEqual(canon(expected, false, false));
  }
}

// ---- random schemas, rows and queries ----------------------------------------------------

type Gen = fc.GeneratorValue;
const pick = <T,>(g: Gen, xs: readonly T[]): T => g(fc.constantFrom, ...xs);
const int = (g: Gen, min: number, max: number): number => g(fc.integer, { min, max });
const chance = (g: Gen, p: number): boolean => int(g, 0, 99) < p * 100;
const some = <T,>(g: Gen, xs: T[], min: number, max: number): T[] => g(fc.subarray, xs, { minLength: Math.min(min, xs.length), maxLength: Math.min(max, xs.length) });

function genSchema(g: Gen): Schema {
  const extra = (prefix: string): Col[] => Array.from({ length: int(g, 1, 3) }, (_, i) => ({ name: `${prefix}${i}`, type: pick(g, ['int', 'text', 'numeric', 'bool'] as const) }));
  const t1: Table = { name: 't1', alias: 'a', cols: [{ name: 'id', type: 'int' }, ...extra('x')], reference: false };
  const lookup = t1.cols.find((c) => c.name !== 'id' && c.type !== 'bool');
  if (lookup && chance(g, 0.5)) t1.lookup = lookup.name;
  const tables = [t1];
  if (chance(g, 0.7)) tables.push({ name: 't2', alias: 'b', cols: [{ name: 'id', type: 'int' }, { name: 't1_id', type: 'int' }, ...extra('y')], reference: false, vindex: 't1_id' });
  if (chance(g, 0.6)) tables.push({ name: 'r', alias: 'c', cols: [{ name: 'id', type: 'int' }, ...extra('z')], reference: true });
  return { tables, vindexType: pick(g, ['hash', 'hash', 'consistent_hash', 'range'] as const) };
}

function genInserts(g: Gen, schema: Schema): Stmt[] {
  const out: Stmt[] = [];
  const t1Rows = int(g, 0, 30);
  for (const t of schema.tables) {
    const n = t.name === 't1' ? t1Rows : int(g, 0, 30);
    if (!n) continue;
    const params: SqlValue[] = [];
    const tuples = Array.from({ length: n }, (_, i) => `(${t.cols.map((c) => {
      const v = c.name === 'id' ? i + 1 : c.name === 't1_id' ? int(g, 1, Math.max(t1Rows, 1) + 1) : pick(g, DOMAIN[c.type]);
      if (chance(g, 0.5)) return literal(v);
      params.push(v);
      return `$${params.length}`;
    }).join(', ')})`);
    out.push({ sql: `INSERT INTO ${t.name} (${t.cols.map((c) => c.name).join(', ')}) VALUES ${tuples.join(', ')}`, params });
  }
  return out;
}

interface Ref { sql: string; col: Col }

/** An UPDATE of a non-key column, or a DELETE, of t1 or t2 under a random filter. */
function genWrite(g: Gen, schema: Schema): Stmt {
  const t = pick(g, schema.tables.filter((x) => !x.reference));
  const params: SqlValue[] = [];
  const value = (v: SqlValue): string => {
    if (v === null || chance(g, 0.5)) return literal(v);
    params.push(v);
    return `$${params.length}`;
  };
  const key = t.vindex ?? 'id';
  const filterCol = pick(g, t.cols);
  const filter = chance(g, 0.3) ? `${key} = ${value(int(g, 1, 12))}`
    : filterCol.type === 'bool' ? `${filterCol.name} IS NULL` : `${filterCol.name} ${pick(g, ['=', '<', '>='])} ${value(pick(g, DOMAIN[filterCol.type].filter((v) => v !== null)))}`;
  const returning = chance(g, 0.3) ? ' RETURNING id' : '';
  const settable = t.cols.filter((c) => c.name !== 'id' && c.name !== t.vindex);
  if (settable.length && chance(g, 0.6)) {
    const c = pick(g, settable);
    return { sql: `UPDATE ${t.name} SET ${c.name} = ${value(pick(g, DOMAIN[c.type]))} WHERE ${filter}${returning}`, params };
  }
  return { sql: `DELETE FROM ${t.name} WHERE ${filter}${returning}`, params };
}

function genQuery(g: Gen, schema: Schema): Query {
  const byName = (n: string) => schema.tables.find((t) => t.name === n);
  const [t1, t2, r] = [byName('t1')!, byName('t2'), byName('r')];
  const froms: { sql: string; tables: Table[] }[] = [{ sql: 't1 AS a', tables: [t1] }];
  if (t2) {
    froms.push({ sql: 't2 AS b', tables: [t2] });
    froms.push({ sql: 't1 AS a JOIN t2 AS b ON b.t1_id = a.id', tables: [t1, t2] });
    froms.push({ sql: 't1 AS a LEFT JOIN t2 AS b ON b.t1_id = a.id', tables: [t1, t2] });
  }
  if (r) {
    const intCol = t1.cols.find((c) => c.type === 'int' && c.name !== 'id')?.name ?? 'id';
    froms.push({ sql: `t1 AS a JOIN r AS c ON c.id = a.${intCol}`, tables: [t1, r] });
    froms.push({ sql: `r AS c JOIN t1 AS a ON a.${intCol} = c.id`, tables: [t1, r] });
    froms.push({ sql: `t1 AS a LEFT JOIN r AS c ON c.id = a.${intCol}`, tables: [t1, r] });
  }
  const from = pick(g, froms);
  const refs: Ref[] = from.tables.flatMap((t) => t.cols.map((col) => ({ sql: `${t.alias}.${col.name}`, col })));
  const params: SqlValue[] = [];
  const value = (v: SqlValue): string => {
    if (v === null || chance(g, 0.5)) return literal(v);
    params.push(v);
    return `$${params.length}`;
  };
  const someValue = (c: Col) => pick(g, DOMAIN[c.type].filter((v) => v !== null));

  // WHERE: routing predicates on the vindex columns, and filters.
  const preds: string[] = [];
  for (let i = int(g, 0, 2); i > 0; i--) {
    const kind = int(g, 0, 5);
    const base = from.tables[0]!;
    const vcol = `${base.alias}.${base.vindex ?? 'id'}`;
    if (kind === 0) preds.push(`${vcol} = ${value(int(g, 1, 12))}`);
    else if (kind === 1) preds.push(`${vcol} IN (${Array.from({ length: int(g, 2, 4) }, () => value(int(g, 1, 12))).join(', ')})`);
    else {
      const ref = pick(g, refs);
      const op = ref.col.type === 'bool' ? pick(g, ['=', 'IS NULL', 'IS NOT NULL']) : pick(g, ['=', '<', '>=', '<>', 'IS NULL', 'IS NOT NULL']);
      preds.push(op.startsWith('IS') ? `${ref.sql} ${op}` : `${ref.sql} ${op} ${value(someValue(ref.col))}`);
    }
  }
  const where = preds.length ? ` WHERE ${preds.length === 2 && chance(g, 0.3) ? `(${preds[0]} OR ${preds[1]})` : preds.join(' AND ')}` : '';
  const keys = from.tables.map((t) => `${t.alias}.id`);

  const limit = () => {
    if (!chance(g, 0.5)) return '';
    const l = chance(g, 0.8) ? ` LIMIT ${value(int(g, 0, 6))}` : '';
    const o = chance(g, 0.5) ? ` OFFSET ${value(int(g, 0, 4))}` : '';
    return l + o;
  };
  const dir = () => pick(g, ['', ' ASC', ' DESC', ' DESC NULLS LAST', ' ASC NULLS FIRST']);

  if (chance(g, 0.5)) {
    // Plain rows.
    const distinct = chance(g, 0.3);
    const cols = some(g, refs, 1, 3);
    const star = from.tables.length === 1 && !distinct && chance(g, 0.2);
    const select = star ? '*' : cols.map((c) => c.sql).join(', ');
    let order = '';
    let tail = '';
    if (chance(g, 0.6)) {
      // A total order: DISTINCT orders by every output column, else by some columns then the keys.
      const by = distinct ? cols.map((c) => c.sql) : [...some(g, refs, 0, 2).map((c) => c.sql), ...keys];
      order = ` ORDER BY ${by.map((b) => b + dir()).join(', ')}`;
      tail = limit();
    }
    return { sql: `SELECT ${distinct ? 'DISTINCT ' : ''}${select} FROM ${from.sql}${where}${order}${tail}`, params, ordered: !!order };
  }

  // Aggregates.
  const groups = some(g, refs, 0, 2);
  const numeric = refs.filter((c) => c.col.type === 'int' || c.col.type === 'numeric');
  const ordered = refs.filter((c) => c.col.type !== 'bool');
  const bools = refs.filter((c) => c.col.type === 'bool');
  const aggs = Array.from({ length: int(g, 1, 3) }, () => {
    const kind = int(g, 0, 6);
    if (kind === 0 || (kind >= 3 && !numeric.length)) return 'count(*)';
    if (kind === 1) return `count(${pick(g, refs).sql})`;
    if (kind === 2) return `${pick(g, ['min', 'max'])}(${pick(g, ordered).sql})`;
    if (kind === 6 && bools.length) return `${pick(g, ['bool_and', 'bool_or'])}(${pick(g, bools).sql})`;
    return `${pick(g, ['sum', 'avg'])}(${pick(g, numeric).sql})`;
  });
  const select = [...groups.map((c, i) => `${c.sql} AS g${i}`), ...aggs.map((a, i) => `${a} AS a${i}`)].join(', ');
  const groupBy = groups.length ? ` GROUP BY ${groups.map((c, i) => (chance(g, 0.3) ? `${i + 1}` : c.sql)).join(', ')}` : '';
  // (pgsql-ast-parser does not parse HAVING without GROUP BY.)
  const havings = [() => `count(*) > ${value(int(g, 0, 3))}`, () => `${aggs[0]} IS NOT NULL`, () => `count(*) >= 1 AND ${aggs[0]} IS NULL`];
  const having = groups.length && chance(g, 0.3) ? ` HAVING ${pick(g, havings)()}` : '';
  let order = '';
  let tail = '';
  if (groups.length && chance(g, 0.6)) {
    const first = chance(g, 0.4) ? [`a0${dir()}`] : [];
    order = ` ORDER BY ${[...first, ...groups.map((_, i) => (chance(g, 0.5) ? `g${i}` : `${i + 1}`) + dir())].join(', ')}`;
    tail = limit();
  } else if (!groups.length) {
    tail = limit();
  }
  return { sql: `SELECT ${select} FROM ${from.sql}${where}${groupBy}${having}${order}${tail}`, params, ordered: !!order || !groups.length };
}

// ---- regressions ---------------------------------------------------------------------------

const cols = (spec: string): Col[] => spec.split(',').map((c) => {
  const [name, type] = c.trim().split(' ') as [string, ColType];
  return { name, type };
});
const T1 = (spec = 'id int, x0 int'): Table => ({ name: 't1', alias: 'a', cols: cols(spec), reference: false });
const T2 = (spec = 'id int, t1_id int, y0 int'): Table => ({ name: 't2', alias: 'b', cols: cols(spec), reference: false, vindex: 't1_id' });

interface Regression { name: string; schema: Schema; rows: Stmt[]; query: Omit<Query, 'params'> & { params?: SqlValue[] } }

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
  test('random schemas, rows and queries', async () => {
    await fc.assert(fc.asyncProperty(fc.gen(), async (g) => {
      const schema = genSchema(g);
      const inserts = genInserts(g, schema);
      const context = `schema:\n${schema.tables.map(ddl).join(';\n')}\n(vindexes: ${schema.tables.map((t) => `${t.name}=${t.reference ? 'reference' : `${schema.vindexType}(${t.vindex ?? 'id'})${t.lookup ? ` lookup(${t.lookup})` : ''}`}`).join(', ')})\nrows:\n${inserts.map((s) => `${s.sql} ${JSON.stringify(s.params)}`).join('\n')}`;
      const planners = await setUp(schema, inserts);
      for (let i = 0; i < 8; i++) {
        if (chance(g, 0.25)) await checkWrite(planners, genWrite(g, schema), context);
        else await check(planners, genQuery(g, schema), context);
      }
    }), { numRuns: RUNS, endOnFailure: !process.env.ROUTER_DIFF_SHRINK });
  }, 60_000 + RUNS * 3_000);

  // Mismatches the property found, kept as fixed cases.
  test.each(REGRESSIONS)('regression: $name', async (r) => {
    await check(await setUp(r.schema, r.rows), { ...r.query, params: r.query.params ?? [] } as Query, r.name);
  });
});
