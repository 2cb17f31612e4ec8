import { describe, expect, test } from 'vitest';
import { VitessError, type ErrorCode } from '../../rpc/errors.js';
import { explainLines } from '../../router/planner/explain.js';
import type { Aggregate, Insert, Limit, MergeSort, Plan, Primitive, Project, Route } from '../../router/planner/plan.js';
import { Planner, planQuery } from '../../router/planner/planner.js';
import { MemorySchema } from '../../router/planner/schema.js';
import { parseVSchema } from '../../router/vschema.js';

const vschema = parseVSchema({
  keyspaces: [
    {
      name: 'main',
      engine: 'sqlite',
      shards: 4,
      regions: ['wnam'],
      tables: {
        users: { vindex: { type: 'hash', column: 'id' }, lookups: [{ column: 'email' }] },
        orders: { vindex: { type: 'hash', column: 'user_id' } },
        events: {
          vindex: {
            type: 'range',
            column: 'day',
            ranges: [
              { to: 100, shard: '-40' },
              { from: 100, shard: '40-80' },
            ],
          },
        },
        tags: { vindex: { type: 'consistent_hash', column: 'name' } },
        countries: { type: 'reference' },
      },
    },
    { name: 'one', engine: 'pglite', shards: 1 },
  ],
});
const schema = new MemorySchema({
  users: {
    primaryKey: ['id'],
    columns: [
      { name: 'id', type: 'int' },
      { name: 'email', type: 'text' },
      { name: 'name', type: 'text' },
      { name: 'age', type: 'int' },
    ],
  },
  orders: {
    primaryKey: ['id'],
    columns: [
      { name: 'id', type: 'int' },
      { name: 'user_id', type: 'int' },
      { name: 'total', type: 'numeric' },
    ],
  },
  notes: {
    primaryKey: ['note_id', 'v'],
    columns: [
      { name: 'note_id', type: 'int' },
      { name: 'v', type: 'int' },
      { name: 'body', type: 'text' },
    ],
  },
  countries: {
    primaryKey: ['code'],
    columns: [
      { name: 'code', type: 'text' },
      { name: 'name', type: 'text' },
    ],
  },
});

const plan = (sql: string, keyspace = 'main'): Plan => planQuery(sql, { vschema, keyspace, schema });

function refused(sql: string, code: ErrorCode, message: RegExp): void {
  let err: unknown;
  try {
    plan(sql);
  } catch (e) {
    err = e;
  }
  expect(err, sql).toBeInstanceOf(VitessError);
  expect((err as VitessError).code, (err as VitessError).message).toBe(code);
  expect((err as VitessError).message).toMatch(message);
}

/** The primitives from the root down, following inputs. */
function chain(p: Primitive): Primitive[] {
  const out = [p];
  while ('input' in p) out.push((p = p.input));
  return out;
}
const ops = (pl: Plan) => chain(pl.root).map((p) => p.op);
const routeOf = (pl: Plan) => chain(pl.root).at(-1) as Route;

describe('plan kinds', () => {
  test('single-shard: equality on the vindex column, passed through as written', () => {
    const p = plan('SELECT name FROM users WHERE id = $1 ORDER BY name LIMIT 5');
    expect(p.kind).toBe('single-shard');
    expect(p.root).toEqual({
      op: 'Route',
      keyspace: 'main',
      shards: ['-40', '40-80', '80-c0', 'c0-'],
      target: { type: 'vindex', vindex: { type: 'hash', column: 'id' }, values: [{ param: 0 }] },
      sql: 'SELECT name FROM users WHERE id = $1 ORDER BY name LIMIT 5',
      params: [{ param: 0 }],
    });
    // Equality through a join predicate routes too; a literal is a value as well.
    expect(plan('SELECT * FROM users u JOIN orders o ON o.user_id = u.id WHERE o.user_id = 7').kind).toBe('single-shard');
    expect(routeOf(plan("SELECT * FROM users WHERE id = '7'::int")).target).toMatchObject({ values: [{ literal: '7' }] });
  });

  test('multi-shard: IN on the vindex column', () => {
    const p = plan('SELECT * FROM users WHERE id IN ($1, $2, 3)');
    expect(p.kind).toBe('multi-shard');
    expect(routeOf(p).target).toEqual({ type: 'vindex', vindex: { type: 'hash', column: 'id' }, values: [{ param: 0 }, { param: 1 }, { literal: 3 }] });
    // `id IN ($1)` parses as a bare value, not a list.
    expect(routeOf(plan('SELECT * FROM users WHERE id IN ($1)')).target).toMatchObject({ values: [{ param: 0 }] });
  });

  test('scatter: no vindex predicate; reaches all shards', () => {
    const p = plan('SELECT * FROM users WHERE age > $1');
    expect(p.kind).toBe('scatter');
    expect(p.root).toMatchObject({ op: 'Route', target: { type: 'all' }, sql: 'SELECT * FROM users WHERE age > $1' });
  });

  test('scatter-aggregate: partials on the shards, combined by VTGate', () => {
    const p = plan('SELECT age, count(*) AS n, avg(age) FROM users GROUP BY age HAVING count(*) > $1 ORDER BY n DESC LIMIT 3');
    expect(p.kind).toBe('scatter-aggregate');
    expect(ops(p)).toEqual(['Project', 'Limit', 'Sort', 'Aggregate', 'Route']);
    const agg = chain(p.root).find((x) => x.op === 'Aggregate') as Aggregate;
    expect(agg.groupBy).toEqual(['__vt_g0']);
    expect(agg.columns).toEqual([
      { name: 'age', fn: 'first', args: ['__vt_g0'] },
      { name: 'n', fn: 'count', args: ['__vt_a1'] },
      { name: 'avg', fn: 'avg', args: ['__vt_a2', '__vt_a3'] },
      { name: '__vt_x3', fn: 'count', args: ['__vt_a1'] },
    ]);
    expect(agg.having).toEqual({ kind: 'compare', op: '>', left: { kind: 'column', name: '__vt_x3' }, right: { kind: 'value', value: { param: 0 } } });
    expect(routeOf(p).sql).toMatch(
      /SELECT age AS "__vt_g0" , \(count \(\*\) \) AS "__vt_a1" , \(sum \(age\) \) AS "__vt_a2" , \(count \(age\) \) AS "__vt_a3"\s+FROM users\s+GROUP BY age/,
    );
    expect(routeOf(p).sql).not.toMatch(/HAVING|ORDER|LIMIT/);
  });

  test('grouped by the vindex column, groups are shard-local: shards aggregate alone', () => {
    const p = plan("SELECT u.id, string_agg(o.name, ',') AS n FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id HAVING count(*) > 1");
    expect(p.kind).toBe('scatter');
    expect(p.root).toMatchObject({
      op: 'Route',
      sql: "SELECT u.id, string_agg(o.name, ',') AS n FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id HAVING count(*) > 1",
    });
    // What VTGate can combine, it combines (exactly, whatever the engine), DISTINCT included.
    const d = plan('SELECT u.id, count(DISTINCT o.total) AS n FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id');
    expect(d.kind).toBe('scatter-aggregate');
    expect((chain(d.root).find((x) => x.op === 'Aggregate') as Aggregate).columns[1]).toEqual({ name: 'n', fn: 'count', args: ['__vt_d1'], distinct: true });
  });

  test('lookup: equality on a lookup column reads the lookup table first', () => {
    const p = plan('SELECT * FROM users WHERE email = $1');
    expect(p.kind).toBe('lookup');
    expect(routeOf(p).target).toEqual({ type: 'lookup', lookup: { column: 'email', table: 'users_email_lookup' }, values: [{ param: 0 }] });
  });

  test('unsharded: a one-shard keyspace takes every statement as written', () => {
    const p = plan('SELECT count(*) FROM anything WHERE x IN (SELECT y FROM z)', 'one');
    expect(p.kind).toBe('unsharded');
    expect(p.root).toMatchObject({ op: 'Route', shards: ['-'], target: { type: 'any' } });
  });

  test('reference: reads go to any one shard, writes to every copy', () => {
    expect(plan('SELECT * FROM countries WHERE code = $1').root).toMatchObject({ op: 'Route', target: { type: 'any' } });
    expect(plan('SELECT * FROM countries').kind).toBe('reference');
    const w = plan("UPDATE countries SET name = 'x' WHERE code = $1");
    expect(w.kind).toBe('reference');
    expect(w.root).toMatchObject({ op: 'Route', target: { type: 'all' }, copies: true });
    // A join with a reference table runs on the shards.
    expect(plan('SELECT u.name, c.name FROM users u JOIN countries c ON c.code = u.name WHERE u.id = 1').kind).toBe('single-shard');
  });

  test('range and consistent_hash vindexes route equality the same way', () => {
    expect(routeOf(plan('SELECT * FROM events WHERE day = 150')).target).toMatchObject({ type: 'vindex', vindex: { type: 'range' } });
    expect(plan("SELECT * FROM tags WHERE name = 'x'").kind).toBe('single-shard');
  });

  test('a table the vschema does not name is sharded by hash of its first primary-key column', () => {
    expect(routeOf(plan('SELECT * FROM notes WHERE note_id = 4')).target).toEqual({
      type: 'vindex',
      vindex: { type: 'hash', column: 'note_id' },
      values: [{ literal: 4 }],
    });
    expect(plan('SELECT * FROM notes WHERE v = 4').kind).toBe('scatter');
  });

  test('DDL goes to every shard', () => {
    const p = plan('CREATE INDEX ON orders (total)');
    expect(p.kind).toBe('ddl');
    expect(p.root).toMatchObject({ op: 'Route', target: { type: 'all' } });
  });
});

describe('merging across shards', () => {
  test('ORDER BY + LIMIT/OFFSET: shards sort and return limit + offset rows; VTGate merges, skips, limits', () => {
    const p = plan('SELECT name FROM users ORDER BY age DESC, 1 LIMIT $1 OFFSET $2');
    expect(ops(p)).toEqual(['Project', 'Limit', 'MergeSort', 'Route']);
    const [project, limit, merge, route] = chain(p.root) as [Project, Limit, MergeSort, Route];
    expect(project.drop).toEqual(['__vt_o0', '__vt_o1']);
    expect(limit).toMatchObject({ count: { param: 0 }, offset: { param: 1 } });
    expect(merge.keys).toEqual([
      { column: '__vt_o0', desc: true, nullsFirst: true },
      { column: '__vt_o1', desc: false, nullsFirst: false },
    ]);
    expect(route.sql).toMatch(/ORDER BY age DESC\s+NULLS FIRST , name ASC\s+NULLS LAST\s+LIMIT \(\$1\)/);
    expect(route.params).toEqual([{ sum: [{ param: 0 }, { param: 1 }] }]);
  });

  test('DISTINCT is applied per shard and again after merging', () => {
    expect(ops(plan('SELECT DISTINCT name FROM users'))).toEqual(['Project', 'Distinct', 'Route']);
  });

  test('plans embed no parameter values: one plan serves every execution', () => {
    const planner = new Planner(vschema, schema);
    const a = planner.plan('SELECT * FROM users WHERE id = $1', 'main');
    expect(planner.plan('SELECT * FROM users WHERE id = $1', 'main')).toBe(a);
    expect(JSON.stringify(a)).not.toMatch(/"literal"/);
  });
});

describe('writes', () => {
  test('a multi-row INSERT is split by row; each row keeps its own parameters', () => {
    const p = plan('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 1.5), (2, $3, $4) ON CONFLICT (id) DO UPDATE SET total = $5 RETURNING id');
    expect(p.kind).toBe('multi-shard');
    const ins = p.root as Insert;
    expect(ins.op).toBe('Insert');
    expect(ins.head).toBe('INSERT INTO orders  (id, user_id, total) VALUES ');
    expect(ins.tail).toMatch(/^\s*ON CONFLICT \(id\) DO UPDATE SET total = \(\$1\)\s+RETURNING id$/);
    expect(ins.tailParams).toEqual([{ param: 4 }]);
    expect(ins.rows).toEqual([
      { sql: '(($1), ($2), (1.5))', params: [{ param: 0 }, { param: 1 }], key: { param: 1 }, lookups: [] },
      { sql: '((2), ($1), ($2))', params: [{ param: 2 }, { param: 3 }], key: { param: 2 }, lookups: [] },
    ]);
    expect(plan('INSERT INTO orders (id, user_id) VALUES (1, 2)').kind).toBe('single-shard');
  });

  test('INSERT keeps lookup values for the lookup table', () => {
    const ins = plan('INSERT INTO users (id, email) VALUES ($1, $2)').root as Insert;
    expect(ins.rows[0]!.lookups).toEqual([{ param: 1 }]);
    expect(ins.lookups).toEqual([{ column: 'email', table: 'users_email_lookup' }]);
  });

  test('UPDATE and DELETE route like SELECT', () => {
    expect(plan('UPDATE orders SET total = 0 WHERE user_id = $1').kind).toBe('single-shard');
    expect(plan('DELETE FROM orders WHERE user_id IN (1, 2)').kind).toBe('multi-shard');
    expect(plan('DELETE FROM orders WHERE total > 5').kind).toBe('scatter');
  });

  test('rows with lookup entries: DELETE returns what the lookup needs; UPDATE of the column moves it', () => {
    const d = plan('DELETE FROM users WHERE id = $1');
    expect(d.root).toMatchObject({ op: 'LookupDelete', returning: false });
    expect(routeOf(d).sql).toMatch(/RETURNING users \.id AS "__vt_k" , users \.email AS "__vt_l0"/);
    const u = plan('UPDATE users SET email = $1 WHERE id = $2');
    expect(u.root).toMatchObject({ op: 'LookupUpdate', before: { sql: expect.stringMatching(/^SELECT users \.id AS "__vt_k" , users \.email AS "__vt_l0"/) } });
    expect(plan('UPDATE users SET name = $1 WHERE id = $2').root.op).toBe('Route');
  });

  test('CREATE TABLE of a table with a lookup vindex creates its lookup table on every shard', () => {
    const p = plan('CREATE TABLE users (id INT PRIMARY KEY, email TEXT, name TEXT)');
    expect(p.root).toMatchObject({
      op: 'Sequence',
      steps: [
        { op: 'Route' },
        {
          op: 'Route',
          sql: expect.stringMatching(
            /CREATE TABLE IF NOT EXISTS users_email_lookup \(value text NOT NULL, keyspace_id TEXT NOT NULL, refs INT NOT NULL, PRIMARY KEY \(value, keyspace_id\)\)/,
          ),
        },
      ],
    });
    expect(p.schemaChange).toEqual({
      kind: 'create',
      table: 'users',
      primaryKey: ['id'],
      columns: [
        { name: 'id', type: 'int' },
        { name: 'email', type: 'text' },
        { name: 'name', type: 'text' },
      ],
    });
  });

  test('the planner learns primary keys from the CREATE TABLEs that ran', () => {
    const planner = new Planner(vschema, new MemorySchema());
    expect(planner.plan('SELECT * FROM pets WHERE pid = 1', 'main').kind).toBe('scatter');
    planner.applied(planner.plan('CREATE TABLE pets (pid INT, name TEXT, PRIMARY KEY (pid))', 'main'));
    expect(planner.plan('SELECT * FROM pets WHERE pid = 1', 'main').kind).toBe('single-shard');
    planner.applied(planner.plan('DROP TABLE pets', 'main'));
    expect(planner.plan('SELECT * FROM pets WHERE pid = 1', 'main').kind).toBe('scatter');
  });
});

describe('refused, with the reason', () => {
  test('joins that are not co-located', () => {
    refused(
      'SELECT * FROM users u JOIN orders o ON o.id = u.id',
      'UNSUPPORTED',
      /join of u and o is not co-located: u is sharded by hash\(u\.id\) and o by hash\(o\.user_id\).*Join them with u\.id = o\.user_id/,
    );
    refused('SELECT * FROM users u, orders o', 'UNSUPPORTED', /not co-located/);
    refused('SELECT * FROM users u JOIN events e ON e.day = u.id', 'UNSUPPORTED', /same vindex type/);
    // Unmatched rows of a reference table would come back from every shard.
    refused(
      'SELECT * FROM countries c LEFT JOIN users u ON u.name = c.name',
      'UNSUPPORTED',
      /LEFT JOIN u keeps the unmatched rows of a table that every shard holds a copy of/,
    );
    expect(plan('SELECT * FROM countries c LEFT JOIN users u ON u.name = c.name WHERE u.id = 3').kind).toBe('single-shard');
    expect(plan('SELECT * FROM users u LEFT JOIN countries c ON u.name = c.name').kind).toBe('scatter');
  });

  test('subqueries over sharded tables, UNION and WITH across shards', () => {
    refused('SELECT (SELECT max(total) FROM orders) FROM users', 'UNSUPPORTED', /subquery over sharded table orders .*no one shard can answer it/);
    refused('SELECT * FROM users u WHERE id IN (SELECT user_id FROM orders o WHERE o.total > u.age)', 'UNSUPPORTED', /correlated subquery .* refers to u\.age/);
    // Uncorrelated, in WHERE: they run first (tests/unit/router-subquery.test.ts).
    expect(plan('SELECT * FROM users WHERE id IN (SELECT user_id FROM orders)').root.op).toBe('Subquery');
    refused('SELECT id FROM users UNION SELECT user_id FROM orders', 'UNSUPPORTED', /UNION over sharded tables/);
    refused('WITH x AS (SELECT * FROM users) SELECT * FROM x', 'UNSUPPORTED', /WITH over sharded tables/);
    // Over reference tables they are fine.
    expect(plan("SELECT * FROM users WHERE name IN (SELECT name FROM countries WHERE code = 'fr')").kind).toBe('scatter');
  });

  test('aggregates that cannot be combined', () => {
    refused('SELECT count(DISTINCT name) FILTER (WHERE age > 1) FROM users', 'UNSUPPORTED', /DISTINCT with FILTER/i);
    refused("SELECT string_agg(DISTINCT name, ',') FROM users", 'UNSUPPORTED', /string_agg\(\) cannot be combined across shards/);
    refused(
      "SELECT string_agg(name, ',') FROM users",
      'UNSUPPORTED',
      /string_agg\(\) cannot be combined across shards; supported across shards: count, sum, avg, min, max/,
    );
    refused('SELECT sum(age) + 1 FROM users', 'UNSUPPORTED', /combines an aggregate with other terms/);
    refused('SELECT name, row_number() OVER (ORDER BY id) FROM users', 'UNSUPPORTED', /window functions are not supported across shards/);
    refused('SELECT * FROM users LIMIT (1 + 1)', 'UNSUPPORTED', /LIMIT with an expression/);
  });

  test('writes that would misplace rows', () => {
    refused(
      'UPDATE users SET id = 2 WHERE id = 1',
      'UNSUPPORTED',
      /UPDATE may not change "id" of table "users": it is the vindex column \(hash\).*another shard/,
    );
    refused('INSERT INTO orders (id, total) VALUES (1, 2)', 'INVALID', /must give its vindex column "user_id" a value/);
    refused('INSERT INTO orders (id, user_id) VALUES (1, $1 + 1)', 'UNSUPPORTED', /row 1 .* vindex column "user_id" must be a literal or a parameter/);
    refused('INSERT INTO orders (id, user_id) SELECT id, id FROM users', 'UNSUPPORTED', /subquery over sharded table users|INSERT … SELECT/);
    refused(
      'INSERT INTO orders (id, user_id) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET user_id = 3',
      'UNSUPPORTED',
      /ON CONFLICT DO UPDATE may not change "user_id"/,
    );
    refused('INSERT INTO mystery (a) VALUES (1)', 'NOT_FOUND', /table "mystery" is unknown to VTGate/);
    refused('UPDATE users SET name = o.id FROM orders o WHERE o.user_id = users.id', 'UNSUPPORTED', /UPDATE … FROM sharded table orders/);
  });

  test('DDL: a sharded table needs a primary key and its vindex column', () => {
    refused('CREATE TABLE logs (msg TEXT)', 'UNSUPPORTED', /CREATE TABLE logs has no primary key: tables in sharded keyspace "main" need one/);
    refused(
      'CREATE TABLE orders (id INT PRIMARY KEY, total NUMERIC)',
      'INVALID',
      /shards table "orders" by column "user_id", which CREATE TABLE orders does not define/,
    );
    refused('ALTER TABLE orders DROP COLUMN user_id', 'UNSUPPORTED', /may not drop or rename "user_id": it is a vindex column/);
    expect(plan('CREATE TABLE logs (msg TEXT)', 'one').kind).toBe('unsharded');
  });

  test('bad input: syntax errors with position, unknown keyspace, unsupported statements', () => {
    refused('SELECT * FROM users WHERE', 'SYNTAX', /syntax error at end of input/);
    refused('SELEC 1', 'SYNTAX', /syntax error at or near "1" \(position 7\)/);
    expect(() => plan('SELECT 1', 'nope')).toThrow(/keyspace "nope" does not exist/);
    refused('TRUNCATE users', 'UNSUPPORTED', /TRUNCATE TABLE statements are not supported by VTGate/);
  });
});

describe('EXPLAIN', () => {
  test('returns the plan; positions in errors still count from the statement start', () => {
    const p = plan('EXPLAIN SELECT count(*) FROM users WHERE age > $1');
    expect(p.statement).toBe('explain');
    expect(explainLines(p)).toEqual([
      'scatter-aggregate select on keyspace main',
      'Aggregate: count = count(__vt_a0)',
      '  Route main → all shards (-40, 40-80, 80-c0, c0-)',
      '    SELECT (count (*) ) AS "__vt_a0" FROM users WHERE (age > ($1))  [$1]',
    ]);
    expect(explainLines(plan('EXPLAIN SELECT * FROM users WHERE id = $1'))[1]).toBe('Route main → shard of hash(id) = $1');
    expect(explainLines(plan('EXPLAIN SELECT * FROM users WHERE email = $1'))[1]).toBe('Route main → shards named by lookup users_email_lookup for email = $1');
    refused('EXPLAIN SELEC 1', 'SYNTAX', /position 15/);
  });
});
