import { describe, expect, it } from 'vitest';
import { toSqlite, type Catalog, type CatalogColumn } from '../../engines/dialect/sqlite.js';
import { createClient } from '@libsql/client';
import { CATALOG_SQL, catalogFromRows } from '../../engines/sqlite-codec.js';
import { VitessError } from '../../rpc/errors.js';

const catalog: Catalog = {
  columns: (t) =>
    (
      ({
        users: [
          { name: 'id', type: 'int8' as const },
          { name: 'email', type: 'text' as const },
          { name: 'active', type: 'bool' as const },
          { name: 'meta', type: 'jsonb' as const },
          { name: 'created', type: 'timestamptz' as const },
          { name: 'born', type: 'date' as const },
        ],
        orders: [
          { name: 'id', type: 'int4' as const },
          { name: 'user_id', type: 'int8' as const },
          { name: 'total', type: 'numeric' as const },
        ],
      }) as Record<string, CatalogColumn[]>
    )[t],
};
const sql = (q: string) => toSqlite(q, catalog).sql;

describe('dialect: Postgres → SQLite', () => {
  it.each([
    [
      '$n parameters become numbered, reused and out of order',
      'SELECT id FROM users WHERE id = $2 OR id = $1 OR email = $2',
      ['"id" = ?2', '"id" = ?1', '"email" = ?2'],
    ],
    [
      'SERIAL primary key becomes the rowid alias with AUTOINCREMENT',
      'CREATE TABLE t (id SERIAL PRIMARY KEY, v TEXT)',
      ['"id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL'],
    ],
    ['BIGSERIAL likewise', 'CREATE TABLE t (id BIGSERIAL PRIMARY KEY)', ['INTEGER PRIMARY KEY AUTOINCREMENT']],
    [
      'type names keep their Postgres name and get SQLite affinity',
      'CREATE TABLE t (id INT PRIMARY KEY, a TEXT, b VARCHAR(5), c BIGINT, d BOOLEAN, e REAL, f DOUBLE PRECISION, g NUMERIC(10,2), h JSON, i JSONB, j BYTEA, k TIMESTAMP, l TIMESTAMPTZ, m DATE, n UUID, o SMALLINT)',
      [
        '"a" TEXT',
        '"b" VARCHAR(5)',
        '"c" BIGINT',
        '"d" BOOLEAN',
        '"e" REAL',
        '"f" DOUBLE PRECISION',
        '"g" NUMERIC(10,2)',
        '"h" JSON TEXT',
        '"i" JSONB TEXT',
        '"j" BYTEA BLOB',
        '"k" TIMESTAMP TEXT',
        '"l" TIMESTAMPTZ TEXT',
        '"m" DATE TEXT',
        '"n" UUID TEXT',
        '"o" SMALLINT',
      ],
    ],
    [
      'VARCHAR(n) length is enforced by a named CHECK',
      'CREATE TABLE t (id INT PRIMARY KEY, b VARCHAR(5))',
      ['CONSTRAINT "t_b_length" CHECK (length("b") <= 5)'],
    ],
    [
      'typed text columns get CHECKs',
      'CREATE TABLE t (id INT PRIMARY KEY, d BOOLEAN, j JSONB, ts TIMESTAMPTZ)',
      ['CHECK ("d" IN (0, 1))', 'CHECK (json_valid("j"))', `CHECK (strftime('%Y-%m-%dT%H:%M:%fZ', "ts") IS "ts")`],
    ],
    [
      'DEFAULT now() becomes an ISO-8601 UTC timestamp',
      'CREATE TABLE t (id INT PRIMARY KEY, at TIMESTAMPTZ DEFAULT now())',
      [`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`],
    ],
    ['CURRENT_TIMESTAMP too', 'SELECT CURRENT_TIMESTAMP', [`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`]],
    ['gen_random_uuid() becomes a v4 uuid expression', 'SELECT gen_random_uuid()', ['randomblob', "'-4'"]],
    ['RETURNING', 'INSERT INTO users (email) VALUES ($1) RETURNING id, email', ['RETURNING "id" AS "id", "email" AS "email"']],
    ['ON CONFLICT DO NOTHING', 'INSERT INTO users (id) VALUES (1) ON CONFLICT DO NOTHING', ['ON CONFLICT DO NOTHING']],
    [
      'ON CONFLICT DO UPDATE SET = EXCLUDED',
      'INSERT INTO users (id, email) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email',
      ['ON CONFLICT ("id") DO UPDATE SET "email" = "excluded"."email"'],
    ],
    ['ILIKE becomes LIKE (case-insensitive in SQLite)', 'SELECT id FROM users WHERE email ILIKE $1', ['"email" LIKE ?1']],
    ['LIKE becomes a case-sensitive GLOB', "SELECT id FROM users WHERE email LIKE 'a%'", ['GLOB replace(']],
    [
      ':: casts',
      "SELECT '1'::int, 2::text, '3'::numeric, 'x'::jsonb, '2024-01-01'::date, 1.5::float8",
      ["CAST('1' AS INTEGER)", 'CAST(2 AS TEXT)', "CAST('3' AS NUMERIC)", "json('x')", "date('2024-01-01')", 'CAST(1.5 AS REAL)'],
    ],
    ['numeric to int rounds like Postgres', 'SELECT 2.5::int', ['CAST(round(2.5) AS INTEGER)']],
    ['true/false become 1/0', 'SELECT id FROM users WHERE active = true OR active = false', ['"active" = 1', '"active" = 0']],
    ['-> and ->> on json use JSON paths; ->> yields text', "SELECT meta->'a'->>'b', meta->>0 FROM users", [`("meta" -> '$."a"')`, `json_type(`, `'$[0]'`]],
    ['|| concatenation', "SELECT email || '!' FROM users", ['("email" || \'!\')']],
    ['LIMIT/OFFSET, and OFFSET alone', 'SELECT id FROM users OFFSET 5', ['LIMIT -1 OFFSET 5']],
    ['ORDER BY spells out Postgres NULL ordering', 'SELECT id FROM users ORDER BY email, id DESC', ['"email" ASC NULLS LAST', '"id" DESC NULLS FIRST']],
    [
      'COALESCE, CASE, IN, BETWEEN',
      "SELECT COALESCE(email, 'x'), CASE WHEN id > 1 THEN 'a' ELSE 'b' END FROM users WHERE id IN (1, 2) AND id BETWEEN 1 AND 5",
      ['coalesce(', 'CASE WHEN', 'IN (1, 2)', 'BETWEEN 1 AND 5'],
    ],
    [
      'EXISTS and scalar subqueries',
      'SELECT (SELECT count(*) FROM orders o WHERE o.user_id = u.id) FROM users u WHERE EXISTS (SELECT 1 FROM orders)',
      ['(SELECT count(*) AS "count" FROM "orders" AS "o"', 'EXISTS (SELECT 1'],
    ],
    [
      'CTEs',
      'WITH big AS (SELECT user_id FROM orders WHERE total > 10) SELECT count(*) FROM big',
      ['WITH "big" AS (SELECT "user_id" AS "user_id" FROM "orders"'],
    ],
    ['GROUP BY / HAVING', 'SELECT user_id, sum(total) FROM orders GROUP BY user_id HAVING count(*) > 1', ['GROUP BY "user_id" HAVING (count(*) > 1)']],
    [
      'window functions',
      'SELECT row_number() OVER (PARTITION BY user_id ORDER BY id) FROM orders',
      ['row_number() OVER (PARTITION BY "user_id" ORDER BY "id" ASC NULLS LAST)'],
    ],
    [
      'CREATE [UNIQUE] INDEX, named when Postgres would name it',
      'CREATE UNIQUE INDEX ON users (email)',
      ['CREATE UNIQUE INDEX "users_email_idx" ON "users" ("email")'],
    ],
    ['ALTER TABLE ADD COLUMN', "ALTER TABLE users ADD COLUMN nick TEXT DEFAULT 'x'", [`ALTER TABLE "users" ADD COLUMN "nick" TEXT DEFAULT ('x')`]],
    ['DROP TABLE', 'DROP TABLE IF EXISTS users', ['DROP TABLE IF EXISTS "users"']],
    [
      'writes to timestamp and date columns are normalized',
      'INSERT INTO users (id, created, born) VALUES (1, $1, $2)',
      [`coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', ?1), strftime('%Y-%m-%dT%H:%M:%fZ', ?1 || ':00'), ?1)`, 'coalesce(date(?2), ?2)'],
    ],
    [
      'select lists get Postgres output names',
      'SELECT count(*), id::text, email FROM users GROUP BY id',
      ['count(*) AS "count"', 'AS "id"', '"email" AS "email"'],
    ],
  ])('%s', (_name, input, fragments) => {
    const out = sql(input);
    for (const f of fragments) expect(out).toContain(f);
  });

  it('infers result column types from the catalog and expressions', () => {
    const t = toSqlite("SELECT id, active, meta->>'a' AS a, count(*) AS n, avg(total) AS av, sum(id) AS s, created FROM users, orders", catalog);
    expect(t.columnTypes).toEqual(['int8', 'bool', 'text', 'int8', 'numeric', 'numeric', 'timestamptz']);
  });

  it('expands * from the catalog so every column is typed', () => {
    const t = toSqlite('SELECT * FROM orders', catalog);
    expect(t.sql).toBe('SELECT "orders"."id" AS "id", "orders"."user_id" AS "user_id", "orders"."total" AS "total" FROM "orders"');
    expect(t.columnTypes).toEqual(['int4', 'int8', 'numeric']);
  });

  it('reads int8 results as text where the driver would round them (DO SQLite)', () => {
    expect(toSqlite('SELECT user_id FROM orders', catalog, { int8AsText: true }).sql).toContain('CAST("user_id" AS TEXT)');
  });

  it('counts parameters as the highest $n used', () => {
    expect(toSqlite('SELECT $3::int, $1::int', catalog).paramCount).toBe(3);
  });
});

describe('dialect: refused constructs name what is at fault', () => {
  it.each([
    ['SELECT DISTINCT ON (email) id FROM users', 'UNSUPPORTED', /DISTINCT ON/],
    ['SELECT id FROM users FOR UPDATE', 'UNSUPPORTED', /FOR UPDATE/],
    ['SELECT id FROM users FULL JOIN orders ON true', 'UNSUPPORTED', /FULL JOIN/],
    ['SELECT id FROM users RIGHT JOIN orders ON true', 'UNSUPPORTED', /RIGHT JOIN/],
    ['SELECT email ~ $1 FROM users', 'UNSUPPORTED', /operator ~/],
    ["SELECT meta @> '{}' FROM users", 'UNSUPPORTED', /operator @>/],
    ['SELECT to_char(created, $1) FROM users', 'UNSUPPORTED', /function to_char\(\)/],
    ["SELECT string_agg(email, ',' ORDER BY email) FROM users", 'UNSUPPORTED', /ORDER BY inside string_agg/],
    ['SELECT created::text FROM users', 'UNSUPPORTED', /cast from timestamptz to text/],
    ["SELECT 'abc'::bytea", 'UNSUPPORTED', /bytea/],
    ['CREATE TABLE t (id INT PRIMARY KEY, tags TEXT[])', 'UNSUPPORTED', /array/],
    ['CREATE TABLE t (id INT PRIMARY KEY, p POINT)', 'UNSUPPORTED', /type point/i],
    ['CREATE TABLE t (n SERIAL, id INT PRIMARY KEY)', 'UNSUPPORTED', /SERIAL column t\.n/],
    ['CREATE TEMPORARY TABLE t (id INT PRIMARY KEY)', 'UNSUPPORTED', /TEMPORARY/],
    ['CREATE INDEX ON users USING gin (meta)', 'UNSUPPORTED', /index method gin/],
    ['ALTER TABLE users ADD COLUMN x INT UNIQUE', 'UNSUPPORTED', /UNIQUE/],
    ['ALTER TABLE users ALTER COLUMN email SET NOT NULL', 'UNSUPPORTED', /ALTER COLUMN/],
    ['DROP TABLE users CASCADE', 'UNSUPPORTED', /CASCADE/],
    // DEFAULT writes the catalog's default: a table it does not know has none to write.
    ['INSERT INTO nosuch (id) VALUES (DEFAULT)', 'UNSUPPORTED', /DEFAULT in VALUES/],
    ['INSERT INTO users (id) VALUES (1) ON CONFLICT ON CONSTRAINT users_pkey DO NOTHING', 'UNSUPPORTED', /ON CONSTRAINT/],
    ['UPDATE users SET email = o.total FROM orders o', 'UNSUPPORTED', /UPDATE … FROM/],
    ['SELECT 1; SELECT 2', 'UNSUPPORTED', /one SQL statement/],
    ['BEGIN', 'UNSUPPORTED', /BEGIN/],
    ['SELECT row_number() FROM users', 'UNSUPPORTED', /needs an OVER clause/],
    ['SELECT nope FROM users', 'NOT_FOUND', /column "nope" does not exist/],
    ['SELECT u.nope FROM users u', 'NOT_FOUND', /column "u\.nope" does not exist/],
    ['SELEC 1', 'SYNTAX', /syntax error at or near "1" \(position 7\)/],
    ['SELECT $101::int', 'LIMIT_EXCEEDED', /100 parameters/],
  ])('%s', (input, code, message) => {
    let err: unknown;
    try {
      toSqlite(input, catalog, { maxParams: 100 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VitessError);
    expect((err as VitessError).code).toBe(code);
    expect((err as VitessError).message).toMatch(message);
  });
});

describe('dialect: ORDER BY on NOT NULL columns', () => {
  const strict: Catalog = {
    columns: (t) =>
      (
        ({
          items: [
            { name: 'id', type: 'int8' as const, notNull: true },
            { name: 'name', type: 'text' as const, notNull: true },
            { name: 'score', type: 'int4' as const },
          ],
          tags: [
            { name: 'item', type: 'int8' as const, notNull: true },
            { name: 'tag', type: 'text' as const, notNull: true },
          ],
        }) as Record<string, CatalogColumn[]>
      )[t],
  };

  it('drops the NULLS clause and sorts an int8 read as text by its column', () => {
    const t = toSqlite('SELECT * FROM items WHERE id > $1 ORDER BY id LIMIT 10', strict, { int8AsText: true }).sql;
    expect(t).toContain('ORDER BY "items"."id" ASC LIMIT');
    expect(toSqlite('SELECT name, score FROM items ORDER BY name DESC, score', strict).sql).toContain('ORDER BY "name" DESC, "score" ASC NULLS LAST');
    expect(toSqlite('SELECT i.id AS n FROM items i ORDER BY n DESC', strict, { int8AsText: true }).sql).toContain('ORDER BY "i"."id" DESC');
    // Another output has the column's bare name: the key is qualified, so it means the column.
    expect(toSqlite('SELECT id AS n, score AS id FROM items ORDER BY n', strict, { int8AsText: true }).sql).toContain('ORDER BY "items"."id" ASC');
    // An expression is no column to walk: its value is cast back to sort.
    expect(toSqlite('SELECT (id + 1) AS n FROM items ORDER BY n', strict, { int8AsText: true }).sql).toContain('ORDER BY CAST("n" AS INTEGER) ASC');
  });

  it('keeps it where a NOT NULL column can still read NULL: the outer side of a LEFT JOIN, a UNION', () => {
    expect(toSqlite('SELECT i.id, t.tag FROM items i LEFT JOIN tags t ON t.item = i.id ORDER BY t.tag', strict).sql).toContain(
      'ORDER BY "t"."tag" ASC NULLS LAST',
    );
    expect(toSqlite('SELECT name FROM items UNION SELECT tag FROM tags ORDER BY tag', strict).sql).toContain('NULLS LAST');
    // An ORDER BY name means the output first: here a nullable one.
    expect(toSqlite('SELECT score AS id FROM items ORDER BY id', strict).sql).toContain('ORDER BY "id" ASC NULLS LAST');
  });

  it('lets SQLite page a table by primary key through its index, with Postgres NULL order where NULLs can occur', async () => {
    const db = createClient({ url: ':memory:' });
    try {
      for (const ddl of [
        'CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score INT)',
        'CREATE TABLE tags (item BIGINT, tag TEXT, PRIMARY KEY (item, tag))',
      ]) {
        await db.execute(toSqlite(ddl, { columns: () => undefined }).sql);
      }
      const real = catalogFromRows((await db.execute(CATALOG_SQL)).rows.map((r) => Array.from({ length: r.length }, (_, i) => r[i])));
      const cat: Catalog = { columns: (t) => real.get(t) };
      const pages = [
        'SELECT * FROM items WHERE (id) > ($1) ORDER BY id LIMIT 5000',
        'SELECT * FROM tags WHERE (item, tag) > ($1, $2) ORDER BY item, tag LIMIT 5000',
        // A full page's last key (changelog/snapshot.ts): the key columns alone, unqualified.
        'SELECT id FROM items WHERE (id) > ($1) ORDER BY id LIMIT 1 OFFSET 4999',
        'SELECT item, tag FROM tags WHERE (item, tag) > ($1, $2) ORDER BY item, tag LIMIT 1 OFFSET 4999',
      ];
      for (const int8AsText of [false, true]) {
        for (const q of pages) {
          const plan = (
            await db.execute({ sql: `EXPLAIN QUERY PLAN ${toSqlite(q, cat, { int8AsText }).sql}`, args: [1, 'a'].slice(0, q.includes('$2') ? 2 : 1) })
          ).rows.map((r) => String(r.detail));
          expect(plan.join(' | '), q).not.toContain('TEMP B-TREE');
        }
      }
      await db.execute("INSERT INTO items VALUES (1, 'a', NULL), (2, 'b', 5), (3, 'c', 1)");
      await db.execute("INSERT INTO tags VALUES (2, 'x'), (3, 'w')");
      const ordered = await db.execute(toSqlite('SELECT i.id, t.tag FROM items i LEFT JOIN tags t ON t.item = i.id ORDER BY t.tag, i.id', cat).sql);
      expect(ordered.rows.map((r) => [Number(r.id), r.tag])).toEqual([
        [3, 'w'],
        [2, 'x'],
        [1, null],
      ]);
      const byScore = await db.execute(toSqlite('SELECT id FROM items ORDER BY score', cat).sql);
      expect(byScore.rows.map((r) => Number(r.id))).toEqual([3, 2, 1]);
      // Read as text, int8 keys still sort as numbers: 17 after 5.
      await db.execute("INSERT INTO items VALUES (17, 'd', 0), (5, 'e', 0)");
      const byId = await db.execute({ sql: toSqlite('SELECT id FROM items WHERE (id) > ($1) ORDER BY id', cat, { int8AsText: true }).sql, args: [2] });
      expect(byId.rows.map((r) => r.id)).toEqual(['3', '5', '17']);
    } finally {
      db.close();
    }
  });
});
