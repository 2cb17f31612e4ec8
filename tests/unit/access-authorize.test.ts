/**
 * Statement authorization for tokens (router/access/authorize.ts): grants on keyspaces, tables,
 * statement kinds and functions, in every position a table can take; row filters as rewrites,
 * checked against PGlite: a rewritten statement over every tenant's rows sees and changes exactly
 * what the original does over a single-tenant copy.
 */
import { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { parseOne } from '../../engines/dialect/parse.js';
import { authorizeStatement, internalTables } from '../../router/access/authorize.js';
import { ADMIN, type Grants } from '../../router/access/grants.js';
import { planQuery } from '../../router/planner/planner.js';
import { MemorySchema } from '../../router/planner/schema.js';
import { parseVSchema } from '../../router/vschema.js';
import { VitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';

vi.mock('../../engines/dialect/parse.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../engines/dialect/parse.js')>();
  return { ...m, parseOne: vi.fn(m.parseOne) };
});

const grants = (g: Partial<Grants>): Grants => ({ admin: false, keyspaces: '*', readOnly: false, tables: '*', rows: [], ...g });
const noInternal = (t: string) => t.startsWith('_vt_');
const run = (sql: string, g: Grants, params: SqlValue[] = [], keyspace = 'main') => authorizeStatement(sql, params, keyspace, g, noInternal);

/** The error `fn` throws. */
function thrown(fn: () => unknown): VitessError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VitessError) return e;
    throw e;
  }
  throw new Error('not refused');
}

const refusal = (sql: string, g: Grants, params: SqlValue[] = []) => thrown(() => run(sql, g, params));

function expectForbidden(sql: string, g: Grants, mentions: string | RegExp, params: SqlValue[] = []): VitessError {
  const e = refusal(sql, g, params);
  expect(e.code, e.message).toBe('FORBIDDEN');
  expect(e.message).toMatch(mentions);
  return e;
}

const expectAllowed = (sql: string, g: Grants, params: SqlValue[] = []) => expect(() => run(sql, g, params)).not.toThrow();

describe('admin, keyspaces', () => {
  test('an admin token gets the statement back untouched, unparsed', () => {
    const calls = vi.mocked(parseOne).mock.calls.length;
    const params = [1];
    const out = run('SELEC not even sql FROM _vt_changes', ADMIN, params);
    expect(out).toEqual({ sql: 'SELEC not even sql FROM _vt_changes', params });
    expect(out.params).toBe(params);
    expect(vi.mocked(parseOne).mock.calls.length).toBe(calls);
  });

  test('a keyspace not granted is refused by name', () => {
    const g = grants({ keyspaces: ['main'] });
    expect(() => run('SELECT 1', g, [], 'main')).not.toThrow();
    const e = thrown(() => run('SELECT 1', g, [], 'other'));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toContain('"other"');
  });

  test('unparsable SQL is a SYNTAX error, as in the planner', () => {
    expect(refusal('SELEC 1', grants({})).code).toBe('SYNTAX');
    // The parser reads no DELETE … USING: it never reaches a shard unchecked.
    expect(refusal('DELETE FROM a USING secret WHERE a.id = secret.id', grants({ tables: ['a'] })).code).toBe('SYNTAX');
  });
});

describe('tables, in every position', () => {
  const g = grants({ tables: ['a', 'b'] });
  // `secret` is not granted; each statement reads or writes it in one position.
  const positions: Record<string, string> = {
    FROM: 'SELECT * FROM secret',
    JOIN: 'SELECT * FROM a JOIN secret ON a.id = secret.id',
    'LEFT JOIN': 'SELECT * FROM a LEFT JOIN secret s ON a.id = s.id',
    'comma join': 'SELECT * FROM a, b, secret',
    'derived table': 'SELECT * FROM (SELECT * FROM secret) s',
    LATERAL: 'SELECT * FROM a, LATERAL (SELECT * FROM secret WHERE secret.id = a.id) s',
    'WHERE IN subquery': 'SELECT * FROM a WHERE id IN (SELECT id FROM secret)',
    EXISTS: 'SELECT * FROM a WHERE EXISTS (SELECT 1 FROM secret WHERE secret.id = a.id)',
    'scalar subquery': 'SELECT (SELECT max(id) FROM secret) FROM a',
    'ANY subquery': 'SELECT * FROM a WHERE id = ANY (SELECT id FROM secret)',
    'ARRAY subquery': 'SELECT ARRAY(SELECT id FROM secret)',
    HAVING: 'SELECT count(*) FROM a GROUP BY id HAVING count(*) > (SELECT count(*) FROM secret)',
    'ORDER BY': 'SELECT * FROM a ORDER BY (SELECT 1 FROM secret LIMIT 1)',
    'JOIN ON': 'SELECT * FROM a JOIN b ON b.id IN (SELECT id FROM secret)',
    UNION: 'SELECT id FROM a UNION SELECT id FROM secret',
    VALUES: 'VALUES (1), ((SELECT 1 FROM secret))',
    'CTE body': 'WITH s AS (SELECT * FROM secret) SELECT * FROM s',
    'nested CTE': 'SELECT * FROM (WITH s AS (SELECT * FROM (SELECT * FROM secret) x) SELECT * FROM s) y',
    'recursive CTE': 'WITH RECURSIVE r(n) AS (SELECT id FROM secret UNION ALL SELECT n + 1 FROM r) SELECT * FROM r',
    'INSERT target': 'INSERT INTO secret (id) VALUES (1)',
    'INSERT … SELECT': 'INSERT INTO a (id) SELECT id FROM secret',
    'INSERT VALUES subquery': 'INSERT INTO a (id) VALUES ((SELECT max(id) FROM secret))',
    'INSERT RETURNING': 'INSERT INTO a (id) VALUES (1) RETURNING (SELECT 1 FROM secret LIMIT 1)',
    'ON CONFLICT SET': 'INSERT INTO a (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET x = (SELECT 1 FROM secret LIMIT 1)',
    'UPDATE target': 'UPDATE secret SET x = 1',
    'UPDATE FROM': 'UPDATE a SET x = secret.x FROM secret WHERE secret.id = a.id',
    'UPDATE SET subquery': 'UPDATE a SET x = (SELECT max(x) FROM secret)',
    'UPDATE RETURNING': 'UPDATE a SET x = 1 RETURNING (SELECT 1 FROM secret LIMIT 1)',
    'DELETE target': 'DELETE FROM secret',
    'DELETE WHERE': 'DELETE FROM a WHERE id IN (SELECT id FROM secret)',
    'DELETE RETURNING': 'DELETE FROM a RETURNING (SELECT 1 FROM secret LIMIT 1)',
    'data-modifying CTE': 'WITH d AS (DELETE FROM secret RETURNING *) SELECT * FROM d',
    'CTE feeding a write': 'WITH s AS (SELECT id FROM secret) DELETE FROM a WHERE id IN (SELECT id FROM s)',
    'function in FROM': 'SELECT * FROM generate_series(1, (SELECT count(*) FROM secret)) g',
    EXPLAIN: 'EXPLAIN SELECT * FROM secret',
  };
  for (const [position, sql] of Object.entries(positions)) {
    test(`${position}: refused, naming the table; granted tables pass`, () => {
      const e = expectForbidden(sql, g, /"secret" is not granted/);
      expect(e.details.table).toBe('secret');
      expectAllowed(sql.replaceAll('secret', 'b'), g);
      expectAllowed(sql, grants({ tables: ['a', 'b', 'secret'] }));
    });
  }

  test('letter case: unquoted names fold to lower case, quoted ones only as Postgres folds them', () => {
    expectAllowed('SELECT * FROM A JOIN "b" ON A.id = "b".id', g);
    expectForbidden('SELECT * FROM "A"', g, /"A" is not granted/);
    expectForbidden('SELECT * FROM a WHERE id IN (SELECT id FROM "SECRET")', g, /"SECRET"/);
    expectForbidden('SELECT * FROM SeCrEt', g, /"secret"/);
  });

  test('a CTE name is no table, in its scope only; what a CTE reads counts', () => {
    expectAllowed('WITH secret AS (SELECT * FROM a) SELECT * FROM secret', g);
    expectAllowed('WITH x AS (SELECT * FROM a), y AS (SELECT * FROM x) SELECT * FROM y', g);
    expectAllowed('WITH RECURSIVE secret(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM secret WHERE n < 3) SELECT * FROM secret', g);
    // Out of the CTE's scope, the name is the table again.
    expectForbidden('SELECT * FROM (WITH secret AS (SELECT 1) SELECT * FROM secret) s, secret', g, /"secret"/);
    // A CTE body sees only the CTEs before it; a body does not see its own name either.
    expectForbidden('WITH x AS (SELECT * FROM secret), secret AS (SELECT 1) SELECT * FROM x', g, /"secret"/);
    expectForbidden('WITH secret AS (SELECT * FROM secret) SELECT * FROM secret', g, /"secret"/);
    // DML targets are always tables.
    expectForbidden('WITH secret AS (SELECT 1) DELETE FROM secret', g, /"secret"/);
  });

  test("tables: '*' reaches every table but internal ones and catalogs", () => {
    const all = grants({});
    expectAllowed('SELECT * FROM anything JOIN public.other ON true', all);
    for (const sql of [
      'SELECT * FROM _vt_changes',
      'SELECT * FROM a WHERE id IN (SELECT id FROM _VT_prepared)',
      'INSERT INTO _vt_sequences (name, next) VALUES ($1, 1)',
    ]) {
      expectForbidden(sql, all, /internal to Vitess\.do/);
    }
    for (const sql of ['SELECT * FROM pg_class', 'SELECT * FROM "PG_shadow"', 'SELECT * FROM sqlite_master', 'SELECT * FROM sqlite_sequence']) {
      expectForbidden(sql, all, /system catalog/);
    }
    for (const sql of [
      'SELECT * FROM pg_catalog.pg_roles',
      'SELECT * FROM information_schema.tables',
      'SELECT * FROM other_schema.a',
      'UPDATE pg_catalog.a SET x = 1',
    ]) {
      expectForbidden(sql, all, /only the default schema/);
    }
  });

  test("internalTables: _vt_*, the keyspace's lookup-vindex tables, SQLite's sequence state", () => {
    const vschema = parseVSchema({
      keyspaces: [
        {
          name: 'main',
          engine: 'sqlite',
          shards: 2,
          tables: { users: { vindex: { type: 'hash', column: 'id' }, lookups: [{ column: 'email' }, { column: 'name', table: 'names_idx' }] } },
        },
        { name: 'other', engine: 'sqlite', shards: 1 },
      ],
    });
    const internal = internalTables(vschema, 'main');
    expect(internalTables(vschema, 'main')).toBe(internal); // one per vschema and keyspace: the cache key
    for (const t of ['_vt_changes', '_vt_sequences', '_vt_sequence_columns', '_vt_seq', 'users_email_lookup', 'NAMES_IDX', 'sqlite_sequence'])
      expect(internal(t), t).toBe(true);
    for (const t of ['users', 'orders', 'vt_changes']) expect(internal(t), t).toBe(false);
    expect(internalTables(vschema, 'other')('users_email_lookup')).toBe(false);
    expect(thrown(() => authorizeStatement('SELECT * FROM users_email_lookup', [], 'main', grants({}), internal)).code).toBe('FORBIDDEN');
  });
});

describe('read-only tokens', () => {
  const ro = grants({ readOnly: true });

  test('queries pass', () => {
    for (const sql of [
      'SELECT * FROM a',
      'SELECT 1 UNION ALL SELECT 2',
      'VALUES (1, 2)',
      'WITH x AS (SELECT * FROM a) SELECT * FROM x',
      'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r',
      'EXPLAIN SELECT * FROM a',
    ])
      expectAllowed(sql, ro);
  });

  test('writes, locks, DDL and sequences are refused', () => {
    expectForbidden('INSERT INTO a (id) VALUES (1)', ro, /INSERT: this token is read-only/);
    expectForbidden('UPDATE a SET x = 1', ro, /UPDATE: this token is read-only/);
    expectForbidden('DELETE FROM a', ro, /DELETE: this token is read-only/);
    expectForbidden('WITH d AS (DELETE FROM a RETURNING *) SELECT * FROM d', ro, /DELETE/);
    expectForbidden('WITH d AS (SELECT 1) INSERT INTO a (id) SELECT 1 FROM d', ro, /INSERT/);
    expectForbidden('EXPLAIN UPDATE a SET x = 1', ro, /read-only/);
    expectForbidden('SELECT * FROM a FOR UPDATE', ro, /FOR UPDATE/);
    expectForbidden('SELECT * FROM a WHERE id IN (SELECT id FROM b FOR SHARE)', ro, /FOR SHARE/);
    expectForbidden('CREATE TABLE t (id int PRIMARY KEY)', ro, /CREATE TABLE: this token is read-only/);
    expectForbidden('DROP TABLE a', ro, /read-only/);
    expectForbidden("SELECT nextval('a_id_seq')", ro, /nextval\(\) advances a sequence/);
    expectForbidden("SELECT currval('a_id_seq')", ro, /currval/);
    expectAllowed('SELECT * FROM a FOR UPDATE', grants({}));
  });
});

describe('functions: an allowlist', () => {
  const g = grants({ tables: ['a'] });

  test('pure functions pass, in any position', () => {
    for (const sql of [
      "SELECT lower(x), upper(x), length(x), concat(x, 'y'), replace(x, 'a', 'b'), substr(x, 1, 2), x || 'y' FROM a",
      'SELECT abs(x), round(x, 2), floor(x), greatest(x, 1), least(x, 2), coalesce(x, 0), nullif(x, 0), random() FROM a',
      "SELECT now(), date_trunc('day', now()), extract(year from now()), to_char(now(), 'YYYY'), gen_random_uuid()",
      "SELECT jsonb_build_object('a', x), to_jsonb(x), json_agg(x), jsonb_array_length('[1]'::jsonb) FROM a",
      "SELECT count(*), sum(x), avg(x), min(x), max(x), string_agg(x::text, ','), bool_and(x > 1) FROM a",
      'SELECT row_number() OVER (ORDER BY x), rank() OVER (PARTITION BY x ORDER BY id), lag(x) OVER (ORDER BY id) FROM a',
      'SELECT CAST(x AS int), x::text FROM a WHERE x = ANY($1) AND EXISTS (SELECT 1) ORDER BY lower(x)',
      'SELECT pg_catalog.lower(x) FROM a, generate_series(1, 3) g',
    ])
      expectAllowed(sql, g, [[1]]);
  });

  test('anything else is refused by name, wherever it is called', () => {
    const refusedCalls: Record<string, string> = {
      "SELECT set_config('search_path', 'x', false)": 'set_config',
      "SELECT pg_notify('c', 'x')": 'pg_notify',
      "SELECT lo_import('/etc/passwd')": 'lo_import',
      "SELECT pg_read_file('/etc/passwd')": 'pg_read_file',
      "SELECT query_to_xml('SELECT * FROM secret', true, true, '')": 'query_to_xml',
      "SELECT * FROM a WHERE x IN (SELECT table_to_xml('secret', true, true, ''))": 'table_to_xml',
      "SELECT cursor_to_xml('c', 1, true, true, '')": 'cursor_to_xml',
      "SELECT * FROM dblink('host=x', 'SELECT 1') t": 'dblink',
      'SELECT pg_advisory_lock(1)': 'pg_advisory_lock',
      'SELECT * FROM a ORDER BY pg_sleep(10)': 'pg_sleep',
      'SELECT * FROM a WHERE x > (SELECT pg_sleep(1)::text::int)': 'pg_sleep',
      "SELECT current_setting('x')": 'current_setting',
      "SELECT setval('a_id_seq', 1)": 'setval',
      'SELECT lastval()': 'lastval',
      'SELECT pg_catalog.pg_sleep(1)': 'pg_catalog.pg_sleep',
      'SELECT public.lower(x) FROM a': 'public.lower',
      'SELECT "Lower"(x) FROM a': 'Lower',
      'SELECT my_function(x) FROM a': 'my_function',
      "SELECT * FROM query_to_xml('SELECT 1', true, true, '') q": 'query_to_xml',
      'INSERT INTO a (id) VALUES (pg_backend_pid())': 'pg_backend_pid',
      'UPDATE a SET x = 1 WHERE pg_try_advisory_lock(id)': 'pg_try_advisory_lock',
      'CREATE TABLE t (id int PRIMARY KEY, x int DEFAULT pg_backend_pid())': 'pg_backend_pid',
      'CREATE INDEX i ON a (my_immutable(x))': 'my_immutable',
    };
    for (const [sql, fn] of Object.entries(refusedCalls)) {
      const e = expectForbidden(sql, grants({ tables: ['a', 't'] }), new RegExp(`function ${fn.replace('.', '\\.')}\\(\\)`));
      expect(e.details.construct).toBe(`${fn}()`);
    }
  });

  test("sequences: nextval/currval for writing tokens, by name, not VTGate's own", () => {
    const w = grants({});
    expectAllowed("INSERT INTO a (id) VALUES (nextval('a_id_seq'))", w);
    expectAllowed("CREATE TABLE t (id bigint DEFAULT nextval('t_seq'::regclass) PRIMARY KEY)", w);
    expectAllowed("SELECT currval('a_id_seq')", w);
    expectForbidden("SELECT nextval('_vt_seq')", w, /internal/);
    expectForbidden("SELECT nextval('pg_catalog.x')", w, /string literal of the default schema/);
    expectForbidden('SELECT nextval(x) FROM a', w, /string literal/);
  });

  test('operators of other schemas, and statements other than queries, DML and DDL', () => {
    expectAllowed('SELECT 1 OPERATOR(pg_catalog.+) 2', g);
    expectForbidden('SELECT 1 OPERATOR(myschema.+) 2', g, /operators of schema "myschema"/);
    for (const [sql, what] of [
      ["SET search_path TO 'x'", 'SET'],
      ['BEGIN', 'BEGIN'],
      ['TRUNCATE a', 'TRUNCATE TABLE'],
      ['CREATE VIEW v AS SELECT * FROM a', 'CREATE VIEW'],
      ['DO $$ BEGIN PERFORM 1; END $$', 'DO'],
      ["CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql", 'CREATE FUNCTION'],
      ['SHOW search_path', 'SHOW'],
      ['CREATE EXTENSION dblink', 'CREATE EXTENSION'],
      ['DROP SEQUENCE s', 'DROP SEQUENCE'],
      ['PREPARE p AS SELECT * FROM secret', 'PREPARE'],
      ["COMMENT ON TABLE a IS 'x'", 'COMMENT'],
      ['CREATE SCHEMA s', 'CREATE SCHEMA'],
      ['COMMIT', 'COMMIT'],
    ] as const) {
      expectForbidden(sql, g, `${what} statements are not allowed`);
    }
    // What the parser does not read cannot run either.
    for (const sql of ['COPY a TO STDOUT', "COPY a FROM PROGRAM 'id'", 'LOCK TABLE a', 'CALL p()', 'SELECT * INTO t FROM a', 'LISTEN c']) {
      expect(refusal(sql, g).code, sql).toBe('SYNTAX');
    }
  });
});

describe('DDL', () => {
  const g = grants({ tables: ['a', 'b', 'orders'], rows: [{ table: 'orders', column: 'tenant_id', value: 42 }] });

  test('on granted tables only', () => {
    expectAllowed('CREATE TABLE a (id int PRIMARY KEY, x text)', g);
    expectAllowed('CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY, b_id int REFERENCES b (id))', g);
    expectAllowed('ALTER TABLE a ADD COLUMN y int', g);
    expectAllowed('ALTER TABLE a RENAME TO b', g);
    expectAllowed('CREATE INDEX a_x ON a (lower(x)) WHERE x IS NOT NULL', g);
    expectAllowed('DROP TABLE a, b', g);
    expectAllowed('CREATE SEQUENCE a START 10', g);
    expectAllowed('CREATE TABLE anything (id int PRIMARY KEY)', grants({}));
    expectForbidden('CREATE TABLE c (id int PRIMARY KEY)', g, /"c" is not granted/);
    expectForbidden('CREATE TABLE _vt_x (id int PRIMARY KEY)', grants({}), /internal/);
    expectForbidden('CREATE TABLE pg_x (id int PRIMARY KEY)', grants({}), /system catalog/);
    expectForbidden('CREATE TABLE a (id int REFERENCES secret (id))', g, /"secret" is not granted/);
    expectForbidden('CREATE TABLE a (LIKE secret)', g, /"secret"/);
    expectForbidden('ALTER TABLE a ADD CONSTRAINT fk FOREIGN KEY (x) REFERENCES secret (id)', g, /"secret"/);
    expectForbidden('ALTER TABLE a RENAME TO secret', g, /"secret"/);
    expectForbidden('ALTER TABLE a RENAME TO _vt_changes', grants({}), /internal/);
    expectForbidden('ALTER TABLE secret ADD COLUMN y int', g, /"secret"/);
    expectForbidden('DROP TABLE a, secret', g, /"secret"/);
    expectForbidden('DROP TABLE _vt_changes', grants({}), /internal/);
    expectForbidden('CREATE INDEX i ON secret (x)', g, /"secret"/);
    expectForbidden('CREATE INDEX i ON _vt_changes (x)', grants({}), /internal/);
    expectForbidden('CREATE SEQUENCE secret', g, /"secret"/);
  });

  test('never on a row-filtered table, nor pointing at one', () => {
    for (const sql of [
      'DROP TABLE orders',
      'ALTER TABLE orders ADD COLUMN y int',
      'ALTER TABLE ORDERS DROP COLUMN tenant_id',
      'CREATE INDEX i ON orders (x)',
      'CREATE TABLE orders (id int PRIMARY KEY)',
      'CREATE TABLE a (order_id int REFERENCES orders (id))',
      'ALTER TABLE a RENAME TO orders',
    ])
      expectForbidden(sql, g, /row filter on "orders"/i);
  });

  test('constructs that reach beyond the table are refused', () => {
    const all = grants({});
    expectForbidden('CREATE TEMP TABLE a (id int)', all, /CREATE TEMPORARY TABLE/);
    expectForbidden('CREATE TABLE a (id int) INHERITS (b)', all, /INHERITS/);
    expectForbidden('DROP TABLE a CASCADE', all, /CASCADE/);
    expectForbidden('ALTER TABLE a DROP COLUMN x CASCADE', all, /CASCADE/);
    expectForbidden('ALTER TABLE a OWNER TO someone', all, /OWNER TO/);
  });

  test('DROP INDEX needs every table, without row filters', () => {
    expectAllowed('DROP INDEX a_x', grants({}));
    expectForbidden('DROP INDEX a_x', g, /DROP INDEX/);
    expectForbidden('DROP INDEX a_x', grants({ rows: [{ table: 'orders', column: 'tenant_id', value: 1 }] }), /DROP INDEX/);
    expectForbidden('DROP INDEX pg_class_oid_index', grants({}), /system catalog/);
    expectForbidden('DROP INDEX pg_catalog.x', grants({}), /default schema/);
  });
});

describe('row filters: the rewrite', () => {
  const f = { table: 'orders', column: 'tenant_id', value: 42 };
  const g = grants({ tables: ['orders', 'customers', 'notes'], rows: [f, { table: 'customers', column: 'tenant_id', value: 42 }] });

  test('a statement no filter applies to comes back as sent, with its parameters', () => {
    const params = [1];
    const out = run('SELECT  *  FROM notes WHERE id = $1', g, params);
    expect(out.sql).toBe('SELECT  *  FROM notes WHERE id = $1');
    expect(out.params).toBe(params);
  });

  test("SELECT: the condition on the reference's alias, the value as the next parameter", () => {
    expect(run('SELECT * FROM orders', g)).toEqual({ sql: 'SELECT *  FROM orders   WHERE (orders .tenant_id = ($1))', params: [42] });
    const out = run('SELECT * FROM orders o WHERE o.id = $2 AND o.x > $1', g, ['a', 'b']);
    expect(out.sql).toBe('SELECT *  FROM orders  AS o  WHERE (((o .id = ($2)) AND (o .x > ($1))) AND (o .tenant_id = ($3)))');
    expect(out.params).toEqual(['a', 'b', 42]);
    // Letter case: the reference as written, quoted where it must be.
    expect(run('SELECT * FROM ORDERS AS "O"', g).sql).toBe('SELECT *  FROM orders  AS "O"  WHERE ("O" .tenant_id = ($1))');
    expect(run('SELECT * FROM "ORDERS"', grants({ rows: [f] })).sql).toContain('"ORDERS" .tenant_id = ($1)');
  });

  test('one parameter per filter, at any depth', () => {
    const out = run(
      'WITH x AS (SELECT * FROM orders) SELECT * FROM x, customers c WHERE x.id IN (SELECT id FROM orders) AND EXISTS (SELECT 1 FROM customers)',
      g,
    );
    expect(out.params).toEqual([42, 42]);
    expect(out.sql).toContain('WITH x AS (SELECT *  FROM orders   WHERE (orders .tenant_id = ($1)) )');
    expect(out.sql).toContain('(SELECT id  FROM orders   WHERE (orders .tenant_id = ($1)) )');
    expect(out.sql).toContain('(c .tenant_id = ($2))');
    expect(out.sql).toContain('(SELECT (1)  FROM customers   WHERE (customers .tenant_id = ($2)) )');
  });

  test('outer joins: the nullable side is filtered in its ON, or as a filtered derived table', () => {
    expect(run('SELECT * FROM notes n LEFT JOIN orders o ON o.id = n.id', g).sql).toBe(
      'SELECT *  FROM notes  AS n LEFT JOIN orders  AS o ON ((o .id = n .id) AND (o .tenant_id = ($1)))',
    );
    expect(run('SELECT * FROM orders o RIGHT JOIN notes n ON o.id = n.id', g).sql).toBe(
      'SELECT *  FROM orders  AS o RIGHT JOIN notes  AS n ON ((o .id = n .id) AND (o .tenant_id = ($1)))',
    );
    // The preserved side of an outer join: the WHERE.
    expect(run('SELECT * FROM orders o LEFT JOIN notes n ON o.id = n.id', g).sql).toContain('WHERE (o .tenant_id = ($1))');
    expect(run('SELECT * FROM notes n FULL JOIN orders o ON o.id = n.id', g).sql).toBe(
      'SELECT *  FROM notes  AS n FULL JOIN (SELECT *  FROM orders  AS o  WHERE (o .tenant_id = ($1)) )  AS o ON (o .id = n .id)',
    );
    expect(run('SELECT * FROM notes n LEFT JOIN orders USING (id)', g).sql).toBe(
      'SELECT *  FROM notes  AS n LEFT JOIN (SELECT *  FROM orders   WHERE (orders .tenant_id = ($1)) )  AS orders USING (id)',
    );
  });

  test('UPDATE and DELETE stay inside', () => {
    expect(run('UPDATE orders SET x = $1 WHERE id = $2', g, [1, 2])).toEqual({
      sql: 'UPDATE orders   SET x = ($1)  WHERE ((orders .tenant_id = ($3)) AND (id = ($2)))',
      params: [1, 2, 42],
    });
    expect(run('UPDATE notes n SET x = o.x FROM orders o WHERE o.id = n.id', g).sql).toBe(
      'UPDATE notes  AS n  SET x = o .x  FROM orders  AS o  WHERE ((o .tenant_id = ($1)) AND (o .id = n .id))',
    );
    expect(run('DELETE FROM orders AS o', g)).toEqual({ sql: 'DELETE FROM orders  AS o  WHERE (o .tenant_id = ($1))', params: [42] });
    expect(run('DELETE FROM orders WHERE id = 1 RETURNING *', g).sql).toBe(
      'DELETE FROM orders   WHERE ((orders .tenant_id = ($1)) AND (id = (1))) RETURNING *',
    );
  });

  test('UPDATE may set the filter column only to the filter value', () => {
    expectForbidden('UPDATE orders SET tenant_id = 7', g, /tenant_id must be this token's row-filter value/);
    expectForbidden('UPDATE orders SET x = 1, TENANT_ID = tenant_id + 1', g, /TENANT_ID|tenant_id/);
    expectForbidden('UPDATE orders SET tenant_id = $1', g, /tenant_id/, [7]);
    expectAllowed('UPDATE orders SET tenant_id = 42', g);
    expectAllowed('UPDATE orders SET tenant_id = $1', g, ['42']);
  });

  test('INSERT: every row sets the filter column to the filter value', () => {
    expect(run("INSERT INTO orders (id, tenant_id) VALUES (1, 42), (2, $1), (3, '42'), (4, $2::int)", g, [42, 42n])).toEqual({
      sql: "INSERT INTO orders (id, tenant_id) VALUES (1, 42), (2, $1), (3, '42'), (4, $2::int)",
      params: [42, 42n],
    });
    expectForbidden('INSERT INTO orders (id, tenant_id) VALUES (1, 42), (2, 7)', g, /INSERT INTO orders: tenant_id must be/);
    expectForbidden('INSERT INTO orders (id, tenant_id) VALUES (1, $1)', g, /tenant_id must be/, [7]);
    expectForbidden('INSERT INTO orders (id, tenant_id) VALUES (1, $1)', g, /tenant_id must be/, [null]);
    expectForbidden('INSERT INTO orders (id, tenant_id) VALUES (1, $2)', g, /tenant_id must be/, [42]);
    expectForbidden('INSERT INTO orders (id, tenant_id) VALUES (1, DEFAULT)', g, /tenant_id must be/);
    expectForbidden('INSERT INTO orders (id, tenant_id) VALUES (1, 40 + 2)', g, /tenant_id must be/);
    expectForbidden("INSERT INTO orders (id, tenant_id) VALUES (1, '42x'::char(2))", g, /tenant_id must be/);
    expectForbidden('INSERT INTO orders (tenant_id, "TENANT_ID") VALUES (42, 7)', g, /tenant_id must be/);
    expectForbidden('INSERT INTO orders (id, x) VALUES (1, 42)', g, /name the column tenant_id/);
    expectForbidden('INSERT INTO orders VALUES (1, 42)', g, /name the column tenant_id/);
    expectForbidden('INSERT INTO orders (id, tenant_id) SELECT 1, 42', g, /INSERT INTO orders … SELECT/);
    expectForbidden('WITH v AS (SELECT 1) INSERT INTO orders (id, tenant_id) SELECT 1, 42 FROM v', g, /… SELECT/);
  });

  test("INSERT … ON CONFLICT: DO UPDATE leaves other tenants' rows alone; DO NOTHING is fine", () => {
    expect(run('INSERT INTO orders AS o (id, tenant_id, x) VALUES (1, 42, 5) ON CONFLICT (id) DO UPDATE SET x = excluded.x', g).sql).toBe(
      'INSERT INTO orders  AS o (id, tenant_id, x) VALUES ((1), (42), (5)) ON CONFLICT (id) DO UPDATE SET x = excluded .x  WHERE (o .tenant_id = ($1))',
    );
    expect(run('INSERT INTO orders (id, tenant_id) VALUES (1, 42) ON CONFLICT (id) DO UPDATE SET x = 1 WHERE orders.x < 5', g).sql).toContain(
      'WHERE ((orders .tenant_id = ($1)) AND (orders .x < (5)))',
    );
    const sql = 'INSERT INTO orders (id, tenant_id) VALUES (1, 42) ON CONFLICT DO NOTHING';
    expect(run(sql, g).sql).toBe(sql);
    expectForbidden('INSERT INTO orders (id, tenant_id) VALUES (1, 42) ON CONFLICT (id) DO UPDATE SET tenant_id = 7', g, /DO UPDATE SET tenant_id/);
  });

  test('the planner plans the rewrite: a filter on the vindex column reaches one shard', () => {
    const vschema = parseVSchema({
      keyspaces: [{ name: 'main', engine: 'sqlite', shards: 4, tables: { orders: { vindex: { type: 'hash', column: 'tenant_id' } } } }],
    });
    const schema = new MemorySchema({
      orders: {
        primaryKey: ['id'],
        columns: [
          { name: 'id', type: 'int' },
          { name: 'tenant_id', type: 'int' },
          { name: 'x', type: 'int' },
        ],
      },
    });
    for (const sql of [
      'SELECT count(*) FROM orders',
      'UPDATE orders SET x = 1 WHERE id = $1',
      'DELETE FROM orders o WHERE o.x > $1',
      'EXPLAIN SELECT * FROM orders',
    ]) {
      const out = run(sql, g, [1]);
      expect(planQuery(out.sql, { vschema, keyspace: 'main', schema }).kind, out.sql).toBe('single-shard');
    }
  });

  test('the filter value is always a parameter: an injection stays inert', () => {
    const evil = grants({ rows: [{ table: 'orders', column: 'org', value: "' OR 1=1 --" }] });
    const out = run('SELECT * FROM orders', evil);
    expect(out.sql).toBe('SELECT *  FROM orders   WHERE (orders .org = ($1))');
    expect(out.params).toEqual(["' OR 1=1 --"]);
  });

  test('too few parameters for the text: INVALID, as the executor says', () => {
    expect(refusal('SELECT * FROM orders WHERE id = $2', g, [1]).code).toBe('INVALID');
  });

  test('EXPLAIN authorizes and rewrites the statement it explains', () => {
    expect(run('explain SELECT * FROM orders', g).sql).toBe('EXPLAIN SELECT *  FROM orders   WHERE (orders .tenant_id = ($1))');
    expect(run('EXPLAIN SELECT * FROM notes', g).sql).toBe('EXPLAIN SELECT * FROM notes');
  });

  test('cached: a statement is parsed once per grants and keyspace; parameters are checked on every call', () => {
    const sql = 'INSERT INTO orders (id, tenant_id) VALUES ($1, $2) /* cache test */';
    const parses = () => vi.mocked(parseOne).mock.calls.length;
    const before = parses();
    expect(run(sql, g, [1, 42])).toEqual({ sql, params: [1, 42] });
    expect(run(sql, g, [2, 42])).toEqual({ sql, params: [2, 42] });
    expect(parses()).toBe(before + 1);
    expectForbidden(sql, g, /tenant_id must be/, [3, 7]);
    expect(parses()).toBe(before + 1);
    run(sql, grants({ ...g, rows: [{ ...f, value: 7 }] }), [3, 7]);
    run(sql, g, [1, 42], 'other');
    expect(parses()).toBe(before + 3);
    const select = 'SELECT * FROM orders /* cache test */';
    expect(run(select, g).params).toEqual([42]);
    expect(run(select, g)).toEqual(run(select, g));
    expect(parses()).toBe(before + 4);
  });
});

// ---- properties ------------------------------------------------------------------------------

/** A query over aliased FROM items (`l<level>_<i>`), each exposing id, tenant, x. */
type Item = { kind: 'table'; table: number; upper: boolean } | { kind: 'derived'; q: Query } | { kind: 'cte' };
type Join = ',' | 'JOIN' | 'LEFT JOIN' | 'RIGHT JOIN' | 'FULL JOIN' | 'CROSS JOIN' | 'USING';
type Cond = { kind: 'gt'; item: number; k: number } | { kind: 'in'; q: Query } | { kind: 'exists'; table: number; item: number };
interface Query {
  items: { item: Item; join: Join }[];
  where?: Cond;
}
type Stmt =
  | { kind: 'select'; cte?: Query; q: Query }
  | { kind: 'update'; table: number; where?: Cond; set?: Query }
  | { kind: 'delete'; table: number; where?: Cond }
  | { kind: 'insert'; table: number; from: Query };

const JOINS: Join[] = [',', 'JOIN', 'LEFT JOIN', 'RIGHT JOIN', 'FULL JOIN', 'CROSS JOIN', 'USING'];

const arbitraries = fc.letrec<{ query: Query; item: Item; cond: Cond; stmt: Stmt }>((tie) => ({
  item: fc.oneof(
    { depthSize: 'xsmall', maxDepth: 3, withCrossShrink: true },
    { arbitrary: fc.record({ kind: fc.constant('table' as const), table: fc.nat(9), upper: fc.boolean() }), weight: 4 },
    fc.record({ kind: fc.constant('cte' as const) }),
    fc.record({ kind: fc.constant('derived' as const), q: tie('query') as fc.Arbitrary<Query> }),
  ),
  cond: fc.oneof(
    { depthSize: 'xsmall', maxDepth: 3, withCrossShrink: true },
    { arbitrary: fc.record({ kind: fc.constant('gt' as const), item: fc.nat(3), k: fc.integer({ min: 0, max: 3 }) }), weight: 2 },
    fc.record({ kind: fc.constant('exists' as const), table: fc.nat(9), item: fc.nat(3) }),
    fc.record({ kind: fc.constant('in' as const), q: tie('query') as fc.Arbitrary<Query> }),
  ),
  query: fc.record(
    {
      items: fc.array(fc.record({ item: tie('item') as fc.Arbitrary<Item>, join: fc.constantFrom(...JOINS) }), { minLength: 1, maxLength: 3 }),
      where: fc.option(tie('cond') as fc.Arbitrary<Cond>, { nil: undefined }),
    },
    { requiredKeys: ['items'] },
  ),
  stmt: fc.oneof(
    { depthSize: 'xsmall' },
    {
      arbitrary: fc.record(
        {
          kind: fc.constant('select' as const),
          cte: fc.option(tie('query') as fc.Arbitrary<Query>, { nil: undefined }),
          q: tie('query') as fc.Arbitrary<Query>,
        },
        { requiredKeys: ['kind', 'q'] },
      ),
      weight: 3,
    },
    fc.record(
      {
        kind: fc.constant('update' as const),
        table: fc.nat(9),
        where: fc.option(tie('cond') as fc.Arbitrary<Cond>, { nil: undefined }),
        set: fc.option(tie('query') as fc.Arbitrary<Query>, { nil: undefined }),
      },
      { requiredKeys: ['kind', 'table'] },
    ),
    fc.record(
      { kind: fc.constant('delete' as const), table: fc.nat(9), where: fc.option(tie('cond') as fc.Arbitrary<Cond>, { nil: undefined }) },
      { requiredKeys: ['kind', 'table'] },
    ),
    fc.record({ kind: fc.constant('insert' as const), table: fc.nat(9), from: tie('query') as fc.Arbitrary<Query> }),
  ),
}));

const all = (a: string) => `${a}.id, ${a}.tenant, ${a}.x`;
const first = (cols: (a: string) => string) => (alias: (i: number) => string) => cols(alias(0));

/** Renders a statement over `tables` (picked by index); the tables it mentions, CTE names aside. */
function render(s: Stmt, tables: readonly string[]): { sql: string; tables: Set<string> } {
  const mentioned = new Set<string>();
  let level = 0;
  const table = (i: number, upper = false) => {
    const t = tables[i % tables.length]!;
    mentioned.add(t);
    return upper ? t.toUpperCase() : t;
  };
  // `w` is a CTE in the statement's body only: inside its own body it would be a table.
  let cteInScope = false;
  /** `SELECT <cols> FROM …`: every query of one level names its items `l<level>_<i>`. */
  const query = (q: Query, cols: (alias: (i: number) => string, n: number) => string): string => {
    const l = level++;
    const alias = (i: number) => `l${l}_${i}`;
    const from = q.items
      .map(({ item, join }, i) => {
        const source =
          item.kind === 'derived'
            ? `(${query(item.q, first(all))})`
            : item.kind === 'cte' && cteInScope
              ? 'w'
              : table(item.kind === 'table' ? item.table : 0, item.kind === 'table' && item.upper);
        const ref = `${source} AS ${alias(i)}`;
        if (i === 0) return ref;
        // USING needs one item on its left (`id` would be ambiguous otherwise).
        const using = join === 'USING' && (i === 1 || q.items[i - 1]!.join === ',');
        if (join === ',' || (join === 'USING' && !using)) return `, ${ref}`;
        if (using) return ` LEFT JOIN ${ref} USING (id)`;
        if (join === 'CROSS JOIN') return ` CROSS JOIN ${ref}`;
        return ` ${join} ${ref} ON ${alias(i - 1)}.id = ${alias(i)}.id`;
      })
      .join('');
    const where = q.where ? ` WHERE ${cond(q.where, (i) => alias(i % q.items.length))}` : '';
    return `SELECT ${cols(alias, q.items.length)} FROM ${from}${where}`;
  };
  const cond = (c: Cond, item: (i: number) => string): string => {
    switch (c.kind) {
      case 'gt':
        return `${item(c.item)}.x > ${c.k}`;
      case 'exists':
        return `EXISTS (SELECT 1 FROM ${table(c.table)} AS e${level} WHERE e${level}.id = ${item(c.item)}.id)`;
      case 'in':
        return `${item(0)}.id IN (${query(
          c.q,
          first((a) => `${a}.id`),
        )})`;
    }
  };
  let sql: string;
  switch (s.kind) {
    case 'select': {
      const cte = s.cte ? `WITH w AS (${query(s.cte, first(all))}) ` : '';
      cteInScope = !!s.cte;
      // Every item's columns: the null-extended rows of outer joins show.
      sql = `${cte}${query(s.q, (alias, n) => Array.from({ length: n }, (_, i) => all(alias(i))).join(', '))}`;
      break;
    }
    case 'update': {
      const t = table(s.table);
      sql = `UPDATE ${t} AS u SET x = ${
        s.set
          ? `(${query(
              s.set,
              first((a) => `max(${a}.x)`),
            )})`
          : 'u.x + 1'
      }${s.where ? ` WHERE ${cond(s.where, () => 'u')}` : ''}`;
      break;
    }
    case 'delete':
      sql = `DELETE FROM ${table(s.table)} AS u${s.where ? ` WHERE ${cond(s.where, () => 'u')}` : ''}`;
      break;
    case 'insert':
      sql = `INSERT INTO ${table(s.table)} (id, tenant, x) ${query(
        s.from,
        first((a) => `${a}.id + 1000, 0, ${a}.x`),
      )}`;
      break;
  }
  return { sql, tables: mentioned };
}

describe('properties', () => {
  test('a statement passes exactly when every table it mentions is granted (and none is internal)', () => {
    const TABLES = ['a', 'b', 'c', '_vt_d'];
    fc.assert(
      fc.property(arbitraries.stmt, fc.option(fc.subarray(TABLES), { nil: undefined }), (s, granted) => {
        const { sql, tables } = render(s, TABLES);
        const g = grants({ tables: granted ?? '*' });
        const ok = [...tables].every((t) => !t.startsWith('_vt_') && (!granted || granted.includes(t)));
        let passed = true;
        try {
          run(sql, g);
        } catch (e) {
          if (!(e instanceof VitessError) || e.code !== 'FORBIDDEN') throw e;
          passed = false;
          expect(tables.has(e.details.table!.toLowerCase()), `${sql}: ${e.message}`).toBe(true);
        }
        expect(passed, sql).toBe(ok);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- against PGlite ---------------------------------------------------------------------------

/**
 * Schema `every` holds the rows of tenants 1, 2 and 3; schema `one` a copy with tenant 1's rows
 * of the filtered tables (a, b) only. c is shared: the same rows in both.
 */
describe('row filters against PGlite', () => {
  let db: PGlite;
  const TABLES = ['a', 'b', 'c'];
  const tenant = grants({
    tables: TABLES,
    rows: [
      { table: 'a', column: 'tenant', value: 1 },
      { table: 'b', column: 'tenant', value: '1' },
    ],
  });

  beforeAll(async () => {
    db = await PGlite.create();
    const rows = (tenants: number[]) => tenants.flatMap((t) => [1, 2, 3, 4].map((k) => `(${t * 10 + k}, ${t}, ${(t * 7 + k * 3) % 5})`)).join(', ');
    for (const [schema, filtered] of [
      ['every', [1, 2, 3]],
      ['one', [1]],
    ] as const) {
      await db.exec(`CREATE SCHEMA ${schema}; SET search_path TO ${schema};
        CREATE TABLE a (id int PRIMARY KEY, tenant int NOT NULL, x int);
        CREATE TABLE b (id int PRIMARY KEY, tenant text NOT NULL, x int);
        CREATE TABLE c (id int PRIMARY KEY, tenant int NOT NULL, x int);
        INSERT INTO a VALUES ${rows([...filtered])}; INSERT INTO b VALUES ${rows([...filtered])}; INSERT INTO c VALUES ${rows([1, 2, 3])};
        CREATE TABLE n (org text, x int); INSERT INTO n VALUES ('acme', 1), ('globex', 2);`);
    }
  }, 30_000);
  afterAll(() => db?.close());

  const rowsOf = async (schema: string, sql: string, params: SqlValue[] = []): Promise<string[]> => {
    await db.exec(`SET search_path TO ${schema}`);
    const r = await db.query<unknown[]>(sql, params, { rowMode: 'array' });
    return r.rows.map((x) => JSON.stringify(x)).sort();
  };

  /** The tables after a write (rolled back), or the error it failed with. */
  const afterWrite = async (schema: string, sql: string, params: SqlValue[] = []): Promise<Record<string, string[]> | string> => {
    await db.exec(`SET search_path TO ${schema}; BEGIN`);
    try {
      await db.query(sql, params);
      return Object.fromEntries(await Promise.all(TABLES.map(async (t) => [t, await rowsOf(schema, `SELECT * FROM ${t}`)] as const)));
    } catch (e) {
      return `error: ${(e as Error).message}`;
    } finally {
      await db.exec('ROLLBACK');
    }
  };

  /** The rewritten statement over every tenant reads, or changes, what the original does over tenant 1's copy. */
  async function same(sql: string, params: SqlValue[] = []): Promise<void> {
    const out = run(sql, tenant, params);
    if (/^\s*(select|with|values)/i.test(sql)) {
      expect(await rowsOf('every', out.sql, out.params), `${sql}\n→ ${out.sql}`).toEqual(await rowsOf('one', sql, params));
      return;
    }
    const before = await afterWrite('every', 'SELECT 1');
    const every = await afterWrite('every', out.sql, out.params);
    const one = await afterWrite('one', sql, params);
    if (typeof every === 'string' || typeof one === 'string') {
      expect(typeof every, `${sql}\n→ ${out.sql}\n${String(every)} / ${String(one)}`).toBe(typeof one);
      return;
    }
    const mine = (r: string) => JSON.parse(r)[1] === 1 || JSON.parse(r)[1] === '1';
    const b = before as Record<string, string[]>;
    for (const t of ['a', 'b']) {
      expect(every[t]!.filter(mine), `${sql}\n→ ${out.sql}: ${t}`).toEqual(one[t]);
      expect(
        every[t]!.filter((r) => !mine(r)),
        `${sql}: other tenants' ${t}`,
      ).toEqual(b[t]!.filter((r) => !mine(r)));
    }
    expect(every.c, `${sql}: c`).toEqual(one.c);
  }

  test('fixed cases: joins of every kind, subqueries, CTEs, writes', async () => {
    for (const sql of [
      'SELECT * FROM a',
      'SELECT a.id, b.id FROM a JOIN b ON a.id = b.id',
      'SELECT c.id, a.id, a.x FROM c LEFT JOIN a ON a.id = c.id',
      'SELECT c.id, a.id FROM a RIGHT JOIN c ON a.id = c.id',
      'SELECT c.id, a.id FROM c FULL JOIN a ON a.id = c.id',
      'SELECT a.id, c.id FROM a FULL JOIN c ON a.id = c.id',
      'SELECT c.id, a.id, b.id FROM c LEFT JOIN a ON a.id = c.id FULL JOIN b ON b.id = c.id',
      'SELECT c.id, a.id FROM a JOIN b ON a.id = b.id RIGHT JOIN c ON c.id = a.id',
      'SELECT * FROM c LEFT JOIN a USING (id)',
      'SELECT * FROM c, a LEFT JOIN b ON a.id = b.id',
      'SELECT count(*), sum(x) FROM a',
      'SELECT x, count(*) FROM b GROUP BY x HAVING count(*) > 0',
      'SELECT id, row_number() OVER (ORDER BY id) FROM a',
      'SELECT * FROM c WHERE id IN (SELECT id FROM a)',
      'SELECT * FROM c WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.id = c.id)',
      'SELECT (SELECT count(*) FROM a), (SELECT max(x) FROM b)',
      'WITH w AS (SELECT * FROM a) SELECT * FROM w JOIN c ON c.id = w.id',
      'WITH a AS (SELECT * FROM c) SELECT * FROM a',
      'WITH RECURSIVE r(id) AS (SELECT min(id) FROM a UNION SELECT a.id FROM a JOIN r ON a.id = r.id + 1) SELECT * FROM r',
      'SELECT id FROM a UNION ALL SELECT id FROM b UNION SELECT id FROM c',
      'SELECT * FROM c, LATERAL (SELECT count(*) FROM a WHERE a.x = c.x) s',
      'SELECT * FROM (SELECT * FROM a WHERE x > 1) s LEFT JOIN b ON b.id = s.id',
      'UPDATE a SET x = x + 1',
      'UPDATE a SET x = 9 WHERE id IN (SELECT id FROM c)',
      'UPDATE c SET x = (SELECT count(*) FROM a)',
      'UPDATE c SET x = a.x FROM a WHERE a.id = c.id',
      'UPDATE a SET tenant = 1 WHERE x > 2',
      'DELETE FROM a',
      'DELETE FROM b WHERE x < 3 RETURNING *',
      'DELETE FROM c WHERE id IN (SELECT id FROM b)',
      'WITH d AS (DELETE FROM a WHERE x > 1 RETURNING id) UPDATE c SET x = 0 WHERE id IN (SELECT id FROM d)',
      'INSERT INTO c (id, tenant, x) SELECT id + 100, tenant, x FROM a',
      'INSERT INTO a (id, tenant, x) VALUES (99, 1, 0)',
      'INSERT INTO a (id, tenant, x) VALUES (11, 1, 0), (98, 1, 0) ON CONFLICT (id) DO UPDATE SET x = 100',
      'INSERT INTO a (id, tenant, x) VALUES (11, 1, 0) ON CONFLICT DO NOTHING',
    ])
      await same(sql);
    await same('SELECT * FROM a WHERE id > $1 AND x < $2', [12, 4]);
    await same('UPDATE b SET x = $1 WHERE id = $2', [7, 11]);
    await same('UPDATE b SET x = $1 WHERE id = $2', [7, 21]);
  });

  test("ON CONFLICT DO UPDATE: a conflict with another tenant's row leaves it alone", async () => {
    // id 21 is tenant 2's, id 11 tenant 1's: a key spans tenants, so no single-tenant copy models this.
    const out = run('INSERT INTO a (id, tenant, x) VALUES (21, 1, 0), (11, 1, 0) ON CONFLICT (id) DO UPDATE SET x = 100', tenant);
    const after = await afterWrite('every', out.sql, out.params);
    expect(after).not.toBeTypeOf('string');
    expect((after as Record<string, string[]>).a).toEqual(expect.arrayContaining(['[21,2,2]', '[11,1,100]']));
  });

  test('an injected filter value matches nothing', async () => {
    const out = run('SELECT * FROM n', grants({ rows: [{ table: 'n', column: 'org', value: "' OR 1=1 --" }] }));
    expect(await rowsOf('every', out.sql, out.params)).toEqual([]);
    const acme = run('SELECT * FROM n', grants({ rows: [{ table: 'n', column: 'org', value: 'acme' }] }));
    expect(await rowsOf('every', acme.sql, acme.params)).toEqual(['["acme",1]']);
  });

  test('random statements: the rewrite over every tenant = the original over one', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraries.stmt, async (s) => {
        fc.pre(s.kind !== 'insert' || TABLES[s.table % 3] === 'c'); // INSERT … SELECT into a filtered table is refused
        await same(render(s, TABLES).sql);
      }),
      { numRuns: 120 },
    );
  });
});
