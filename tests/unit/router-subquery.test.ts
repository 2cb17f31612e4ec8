/**
 * Uncorrelated subqueries over sharded tables: planned on their own, run first, their results
 * bound as parameters of the outer plan. Plans are checked as data; results on four libSQL
 * shards against one PGlite holding the same rows.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { openPglite } from '../../engines/postgres.js';
import type { ShardCursor } from '../../router/engine/executor.js';
import { explainLines } from '../../router/planner/explain.js';
import type { Plan, Route, Subquery } from '../../router/planner/plan.js';
import { Planner, planQuery } from '../../router/planner/planner.js';
import { MemorySchema } from '../../router/planner/schema.js';
import { parseVSchema } from '../../router/vschema.js';
import { equalRanges, shardFor } from '../../rpc/keyspace/keyrange.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { VitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';
import { canon } from '../differential/model.js';

const TABLES = { users: { vindex: { type: 'hash', column: 'id' } }, orders: { vindex: { type: 'hash', column: 'user_id' } }, countries: { type: 'reference' } };
const vschema = parseVSchema({ keyspaces: [{ name: 'main', engine: 'sqlite', shards: 4, tables: TABLES }] });
const SHARDS = equalRanges(4);
const DDL = [
  'CREATE TABLE users (id INT PRIMARY KEY, name TEXT, seats INT, score NUMERIC)',
  'CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, total NUMERIC)',
  'CREATE TABLE countries (code TEXT PRIMARY KEY, name TEXT)',
];
const schema = new MemorySchema({
  users: {
    primaryKey: ['id'],
    columns: ['id', 'name', 'seats', 'score'].map((name) => ({ name, type: 'int' })),
  },
  orders: { primaryKey: ['id'], columns: ['id', 'user_id', 'total'].map((name) => ({ name, type: 'int' })) },
  countries: { primaryKey: ['code'], columns: ['code', 'name'].map((name) => ({ name, type: 'text' })) },
});
const plan = (sql: string): Plan => planQuery(sql, { vschema, keyspace: 'main', schema });

function refusal(sql: string): VitessError {
  try {
    plan(sql);
  } catch (e) {
    if (e instanceof VitessError) return e;
    throw e;
  }
  throw new Error(`planned: ${sql}`);
}

describe('planning', () => {
  test('a scalar subquery is planned on its own (here an aggregate) and bound as the next parameter', () => {
    const p = plan('SELECT id FROM users WHERE seats = (SELECT max(seats) FROM users WHERE id <> $1)');
    const root = p.root as Subquery;
    expect(root.op).toBe('Subquery');
    expect(root.inputs).toHaveLength(1);
    expect(root.inputs[0]).toMatchObject({ kind: 'value', param: 1 });
    expect(root.inputs[0]!.input.op).toBe('Aggregate');
    expect(root.outer).toMatchObject({ op: 'Route', target: { type: 'all' } });
    expect((root.outer as Route).sql).toMatch(/seats = \(\$2\)/);
    expect(p.kind).toBe('scatter');
    expect(p.tables).toEqual(['users']);
  });

  test('IN (subquery) on the vindex column routes to the shards of its values', () => {
    const p = plan('SELECT id FROM orders WHERE user_id IN (SELECT id FROM users WHERE seats > $1) ORDER BY id');
    const root = p.root as Subquery;
    expect(root.inputs[0]).toMatchObject({ kind: 'list', param: 1, present: 2 });
    expect(p.kind).toBe('multi-shard');
    expect(explainLines(p)).toEqual([
      'multi-shard select on keyspace main',
      'Subquery list → $2 (has values → $3)',
      '  Route main → all shards (-40, 40-80, 80-c0, c0-)',
      '    SELECT id FROM users WHERE (seats > ($1))  [$1]',
      'Project drop __vt_o0',
      '  MergeSort __vt_o0 ASC NULLS LAST',
      '    Route main → shard of hash(user_id) = $2',
      '      SELECT id , id AS "__vt_o0" FROM orders WHERE (($2) AND (user_id IN ($1))) ORDER BY id ASC NULLS LAST  [$2, $3]',
    ]);
  });

  test('EXISTS, NOT IN, subqueries in UPDATE and DELETE, nested subqueries', () => {
    expect((plan('SELECT id FROM users WHERE NOT EXISTS (SELECT 1 FROM orders WHERE total > 5)').root as Subquery).inputs[0]!.kind).toBe('exists');
    expect((plan('SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM orders)').root as Subquery).outer).toMatchObject({ target: { type: 'all' } });
    expect(plan('UPDATE users SET name = $1 WHERE id IN (SELECT user_id FROM orders WHERE total > $2)').statement).toBe('update');
    expect(plan('DELETE FROM orders WHERE total = (SELECT max(total) FROM orders)').root.op).toBe('Subquery');
    const nested = plan('SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE total = (SELECT max(total) FROM orders))').root as Subquery;
    expect(nested.inputs[0]!.input.op).toBe('Subquery');
  });

  test('subqueries over reference tables stay in the statement', () => {
    expect(plan("SELECT id FROM users WHERE name IN (SELECT name FROM countries WHERE code = 'fr')").root.op).toBe('Route');
  });

  test('correlated subqueries and other places are refused, naming the construct', () => {
    const e = refusal('SELECT id FROM users u WHERE seats > (SELECT count(*) FROM orders o WHERE o.user_id = u.id)');
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(
      /correlated subquery \(SELECT .*\) over sharded table orders is not supported across shards: it refers to u\.id of the outer query/,
    );
    expect(e.details.construct).toBe('correlated subquery');
    // Unqualified: orders has no column "seats", users has.
    expect(refusal('SELECT id FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE total > seats)').message).toMatch(/refers to seats of the outer query/);
    expect(refusal('SELECT id, (SELECT max(seats) FROM users) FROM users').message).toMatch(
      /subquery over sharded table users is not supported here: .*only uncorrelated subqueries in WHERE/,
    );
    expect(refusal('SELECT id FROM users WHERE id = ANY (SELECT user_id FROM orders)').message).toMatch(
      /ANY \(subquery\) over sharded table orders .*IN \(subquery\)/,
    );
    expect(refusal('SELECT id FROM users WHERE seats = (SELECT seats, id FROM users)').message).toBe('subquery must return only one column');
    expect(refusal('SELECT id FROM users WHERE id IN (SELECT id, seats FROM users)').message).toBe('subquery has too many columns');
  });
});

// ---- execution: four libSQL shards against one PGlite --------------------------------------

let oracle: StorageEngine;
const shards = new Map<string, StorageEngine>();
const calls: { shard: string; sql: string }[] = [];
const cursor: ShardCursor = {
  execute: (_ks, shard, sql, params) => {
    calls.push({ shard, sql });
    return shards.get(shard)!.query(sql, params);
  },
};
const planner = new Planner(vschema);

const ROWS = [
  'INSERT INTO users (id, name, seats, score) VALUES (1, $1, 4, 1.50), (2, $2, 7, 2.25), (3, NULL, 7, NULL), (4, $3, 2, 10), (5, $4, NULL, 0.75), (6, $5, 3, 1.50)',
  'INSERT INTO orders (id, user_id, total) VALUES (1, 1, 10), (2, 2, 20.5), (3, 2, 5), (4, 4, 7.25), (5, 6, NULL), (6, 9, 3)',
  "INSERT INTO countries (code, name) VALUES ('fr', 'ann'), ('de', 'bob')",
];
const NAMES: SqlValue[] = ['ann', 'bob', "o'hara", 'dee', 'é'];

beforeAll(async () => {
  oracle = await openPglite();
  for (const s of SHARDS) shards.set(s, await LibsqlEngine.open(':memory:'));
  for (const sql of DDL) {
    await oracle.query(sql);
    await planner.run(sql, [], 'main', cursor);
  }
  for (const [i, sql] of ROWS.entries()) {
    const params = i === 0 ? NAMES : [];
    await oracle.query(sql, params);
    await planner.run(sql, params, 'main', cursor);
  }
}, 60_000);

afterAll(async () => {
  await oracle?.close();
  for (const e of shards.values()) await e.close();
});

async function same(sql: string, params: SqlValue[] = [], ordered = false): Promise<void> {
  const expected = await oracle.query(sql, params);
  const actual = await planner.run(sql, params, 'main', cursor);
  expect(
    actual.fields.map((f) => f.name),
    sql,
  ).toEqual(expected.fields.map((f) => f.name));
  expect(canon(actual, ordered), sql).toEqual(canon(expected, ordered));
  expect(actual.affected, sql).toBe(expected.affected);
}

describe('execution, sharded = one database', () => {
  test.each([
    ['SELECT id, name FROM users WHERE seats = (SELECT max(seats) FROM users) ORDER BY id', []],
    ['SELECT id FROM users WHERE score > (SELECT avg(score) FROM users) ORDER BY id', []],
    ['SELECT id FROM users WHERE score = (SELECT score FROM users WHERE id = $1)', [6]],
    ['SELECT id FROM users WHERE seats = (SELECT seats FROM users WHERE id = 99)', []],
    ['SELECT id FROM orders WHERE user_id IN (SELECT id FROM users WHERE seats >= $1) ORDER BY id', [4]],
    ['SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE total > $1) ORDER BY id', [100]],
    ['SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM orders WHERE total > $1) ORDER BY id', [100]],
    ['SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM orders) ORDER BY id', []],
    ['SELECT id FROM users WHERE seats NOT IN (SELECT seats FROM users WHERE id < 4) ORDER BY id', []],
    ['SELECT id FROM users WHERE name IN (SELECT name FROM users WHERE id IN (1, 3, 5)) ORDER BY id', []],
    ['SELECT id FROM users WHERE score IN (SELECT total FROM orders) OR score IN (SELECT score FROM users WHERE id = 1) ORDER BY id', []],
    ['SELECT id FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE total > $1) ORDER BY id', [20]],
    ['SELECT id FROM users WHERE NOT EXISTS (SELECT 1 FROM orders WHERE total > $1) ORDER BY id', [20]],
    ['SELECT count(*) AS n, sum(score) AS s FROM users WHERE id IN (SELECT user_id FROM orders WHERE total = (SELECT max(total) FROM orders))', []],
    ["SELECT code FROM countries WHERE name IN (SELECT name FROM users WHERE name <> 'x') ORDER BY code", []],
    ['SELECT id FROM users WHERE id = (SELECT min(user_id) FROM orders) AND seats > $1', [0]],
  ] as [string, SqlValue[]][])('%s %j', async (sql, params) => {
    await same(sql, params, /ORDER BY/.test(sql));
  });

  test('IN on the vindex column reaches only the shards of the values; an empty list reaches one shard and matches nothing', async () => {
    calls.length = 0;
    await same('SELECT id, total FROM orders WHERE user_id IN (SELECT id FROM users WHERE seats = 7) ORDER BY id', [], true);
    const outer = calls.filter((c) => / FROM orders /.test(c.sql));
    expect(outer.map((c) => c.shard).sort()).toEqual([...new Set([2, 3].map((id) => shardFor(hashId(id)!, SHARDS)))].sort());
    calls.length = 0;
    await same('SELECT id FROM orders WHERE user_id IN (SELECT id FROM users WHERE seats > 100)', []);
    expect(calls.filter((c) => / FROM orders /.test(c.sql))).toHaveLength(1);
  });

  test('a scalar subquery with more than one row is an error, as in Postgres', async () => {
    await expect(oracle.query('SELECT id FROM users WHERE seats = (SELECT seats FROM users)')).rejects.toThrow(
      'more than one row returned by a subquery used as an expression',
    );
    await expect(planner.run('SELECT id FROM users WHERE seats = (SELECT seats FROM users)', [], 'main', cursor)).rejects.toThrow(
      'more than one row returned by a subquery used as an expression',
    );
  });

  test('the plan is cached and its values are looked up each time it runs', async () => {
    const sql = 'SELECT id FROM users WHERE seats = (SELECT max(seats) FROM users) ORDER BY id';
    const first = planner.plan(sql, 'main');
    await same(sql, [], true);
    const change = 'UPDATE users SET seats = $1 WHERE id = $2';
    await oracle.query(change, [9, 4]);
    await planner.run(change, [9, 4], 'main', cursor);
    await same(sql, [], true);
    expect(planner.plan(sql, 'main')).toBe(first);
  });

  test('UPDATE and DELETE with subqueries in WHERE', async () => {
    await same('UPDATE users SET name = $1 WHERE id IN (SELECT user_id FROM orders WHERE total < $2) RETURNING id, name', ['cheap', 8]);
    await same('UPDATE orders SET total = total + 1 WHERE total = (SELECT max(total) FROM orders) RETURNING id, total', []);
    await same('DELETE FROM orders WHERE user_id NOT IN (SELECT id FROM users) RETURNING id', []);
    await same('SELECT id, user_id, total FROM orders ORDER BY id', [], true);
    await same('SELECT id, name, seats FROM users ORDER BY id', [], true);
  });
});
