/**
 * The engine conformance suite: one list of cases, run unchanged against every engine
 * (libsql and PGlite in Node; DO SQLite and PGlite in workerd). Same inputs, same results.
 */
import { expect } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { VitessError, type ErrorCode } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';

export interface ConformanceCase {
  name: string;
  run: (db: StorageEngine) => Promise<void>;
}

export const cases: ConformanceCase[] = [];
const c = (name: string, run: (db: StorageEngine) => Promise<void>) => cases.push({ name, run });

async function expectError(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<VitessError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected an error').toBeInstanceOf(VitessError);
  const v = err as VitessError;
  expect(v.code, v.message).toBe(code);
  if (message) expect(v.message).toMatch(message);
  return v;
}

const rows = async (db: StorageEngine, sql: string, params?: SqlValue[]) => (await db.query(sql, params)).rows;
const count = async (db: StorageEngine, table: string) => (await rows(db, `SELECT count(*) AS n FROM ${table}`))[0]!.n;

async function people(db: StorageEngine, t: string): Promise<void> {
  await db.query(`CREATE TABLE ${t} (id INT PRIMARY KEY, name TEXT NOT NULL, city TEXT, age INT, score NUMERIC, active BOOLEAN)`);
  await db.batch([
    { sql: `INSERT INTO ${t} VALUES (1, 'Ada', 'London', 36, 9.5, true)` },
    { sql: `INSERT INTO ${t} VALUES (2, 'Bob', 'Paris', 25, 7.25, false)` },
    { sql: `INSERT INTO ${t} VALUES (3, 'cy', 'London', NULL, 8, true)` },
    { sql: `INSERT INTO ${t} VALUES (4, 'Dee', NULL, 41, NULL, NULL)` },
    { sql: `INSERT INTO ${t} VALUES (5, 'Eve', 'Paris', 25, 6.5, true)` },
  ]);
}

// ---- values: every type round-trips -----------------------------------------------------------

const BIG = 2n ** 60n + 1n;
const BYTES = new Uint8Array(Array.from({ length: 256 }, (_, i) => i));
const TS = new Date('2024-03-04T05:06:07.089Z');
const UUID = '8f4e2b1c-3d5a-4e6f-9a0b-1c2d3e4f5a6b';

async function typed(db: StorageEngine, t: string): Promise<void> {
  await db.query(`CREATE TABLE ${t} (id INT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION,
    n NUMERIC, s TEXT, v VARCHAR(20), j JSON, jb JSONB, by BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID)`);
}
const TYPED_ROW: SqlValue[] = [
  1,
  true,
  12,
  -123456,
  BIG,
  1.5,
  3.25,
  '12345.678',
  'héllo 🌍',
  'short',
  { a: [1, 2, { b: null }] },
  [1, 'two', false],
  BYTES,
  '2024-02-29',
  TS,
  TS,
  UUID,
];

c('every value type round-trips through a parameterized insert', async (db) => {
  await typed(db, 'v1');
  await db.query('INSERT INTO v1 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)', TYPED_ROW);
  const [r] = await rows(db, 'SELECT * FROM v1');
  expect(r).toEqual({
    id: 1,
    b: true,
    i2: 12,
    i4: -123456,
    i8: BIG,
    f4: 1.5,
    f8: 3.25,
    n: '12345.678',
    s: 'héllo 🌍',
    v: 'short',
    j: { a: [1, 2, { b: null }] },
    jb: [1, 'two', false],
    by: BYTES,
    d: '2024-02-29',
    ts: TS,
    tz: TS,
    u: UUID,
  });
});

c('result fields carry engine-neutral types', async (db) => {
  await typed(db, 'v2');
  const r = await db.query('SELECT * FROM v2');
  expect(r.fields).toEqual([
    { name: 'id', type: 'int4' },
    { name: 'b', type: 'bool' },
    { name: 'i2', type: 'int2' },
    { name: 'i4', type: 'int4' },
    { name: 'i8', type: 'int8' },
    { name: 'f4', type: 'float4' },
    { name: 'f8', type: 'float8' },
    { name: 'n', type: 'numeric' },
    { name: 's', type: 'text' },
    { name: 'v', type: 'text' },
    { name: 'j', type: 'json' },
    { name: 'jb', type: 'jsonb' },
    { name: 'by', type: 'bytea' },
    { name: 'd', type: 'date' },
    { name: 'ts', type: 'timestamp' },
    { name: 'tz', type: 'timestamptz' },
    { name: 'u', type: 'uuid' },
  ]);
});

c('NULL in every column type reads back as null', async (db) => {
  await typed(db, 'v3');
  await db.query('INSERT INTO v3 (id) VALUES (1)');
  const [r] = await rows(db, 'SELECT b, i2, i4, i8, f4, f8, n, s, v, j, jb, by, d, ts, tz, u FROM v3');
  expect(Object.values(r!)).toEqual(Array(16).fill(null));
});

c('int8 beyond 2^53 stays exact, in parameters, comparisons and results', async (db) => {
  await db.query('CREATE TABLE big1 (id BIGINT PRIMARY KEY, note TEXT)');
  await db.query('INSERT INTO big1 VALUES ($1, $2), ($3, $4)', [BIG, 'big', -BIG, 'neg']);
  expect(await rows(db, 'SELECT id, note FROM big1 WHERE id = $1', [BIG])).toEqual([{ id: BIG, note: 'big' }]);
  expect(await rows(db, 'SELECT id FROM big1 ORDER BY id')).toEqual([{ id: -BIG }, { id: BIG }]);
  expect(await rows(db, 'SELECT 9007199254740993 AS x')).toEqual([{ x: 9007199254740993n }]);
});

c('int8 inside the safe range comes back as a number', async (db) => {
  await db.query('CREATE TABLE big2 (id BIGINT PRIMARY KEY)');
  await db.query('INSERT INTO big2 VALUES ($1)', [9007199254740991n]);
  expect(await rows(db, 'SELECT id FROM big2')).toEqual([{ id: 9007199254740991 }]);
});

c('bytea keeps all 256 byte values and compares by value', async (db) => {
  await db.query('CREATE TABLE bin1 (id INT PRIMARY KEY, data BYTEA)');
  await db.query('INSERT INTO bin1 VALUES (1, $1), (2, $2)', [BYTES, new Uint8Array([0, 0])]);
  expect(await rows(db, 'SELECT id FROM bin1 WHERE data = $1', [BYTES])).toEqual([{ id: 1 }]);
  expect(await rows(db, "SELECT data FROM bin1 WHERE data = '\\x0000'::bytea")).toEqual([{ data: new Uint8Array([0, 0]) }]);
});

c('text keeps unicode, and the empty string is not NULL', async (db) => {
  await db.query('CREATE TABLE txt1 (id INT PRIMARY KEY, s TEXT)');
  await db.query('INSERT INTO txt1 VALUES (1, $1), (2, $2), (3, NULL)', ['日本語 ✓ 🚀 \'quote" \\', '']);
  expect(await rows(db, 'SELECT s FROM txt1 ORDER BY id')).toEqual([{ s: '日本語 ✓ 🚀 \'quote" \\' }, { s: '' }, { s: null }]);
  expect(await rows(db, 'SELECT id FROM txt1 WHERE s IS NULL')).toEqual([{ id: 3 }]);
});

c('numeric values compare and read back exactly', async (db) => {
  await db.query('CREATE TABLE num1 (id INT PRIMARY KEY, n NUMERIC)');
  await db.query("INSERT INTO num1 VALUES (1, 10.5), (2, $1), (3, '-0.25'), (4, 100)", ['9.75']);
  expect(await rows(db, 'SELECT n FROM num1 ORDER BY n')).toEqual([{ n: '-0.25' }, { n: '9.75' }, { n: '10.5' }, { n: '100' }]);
  expect(await rows(db, 'SELECT n FROM num1 WHERE n > 9.750 ORDER BY id')).toEqual([{ n: '10.5' }, { n: '100' }]);
});

c('numeric(p, s) prints every digit of its scale, in expressions and aggregates too', async (db) => {
  await db.query('CREATE TABLE num2 (id INT PRIMARY KEY, g INT, m NUMERIC(10,2))');
  await db.query("INSERT INTO num2 VALUES (1, 1, 7.5), (2, 1, '3'), (3, 2, 12.345), (4, 2, $1), (5, 2, -0.001)", ['0.1']);
  expect(
    await rows(
      db,
      'SELECT m, m + 1 AS plus, m * 2 AS times, m - 0.125 AS minus, -m AS neg, round(m, 1) AS r1, round(m) AS r0, m::numeric(10,3) AS wide, m / 3 AS third FROM num2 ORDER BY id',
    ),
  ).toEqual([
    { m: '7.50', plus: '8.50', times: '15.00', minus: '7.375', neg: '-7.50', r1: '7.5', r0: '8', wide: '7.500', third: '2.5000000000000000' },
    { m: '3.00', plus: '4.00', times: '6.00', minus: '2.875', neg: '-3.00', r1: '3.0', r0: '3', wide: '3.000', third: '1.00000000000000000000' },
    { m: '12.35', plus: '13.35', times: '24.70', minus: '12.225', neg: '-12.35', r1: '12.4', r0: '12', wide: '12.350', third: '4.1166666666666667' },
    { m: '0.10', plus: '1.10', times: '0.20', minus: '-0.025', neg: '-0.10', r1: '0.1', r0: '0', wide: '0.100', third: '0.03333333333333333333' },
    { m: '0.00', plus: '1.00', times: '0.00', minus: '-0.125', neg: '0.00', r1: '0.0', r0: '0', wide: '0.000', third: '0.00000000000000000000' },
  ]);
  expect(await rows(db, 'SELECT sum(m) AS s, min(m) AS lo, max(m) AS hi, avg(m) AS av, avg(DISTINCT g) AS ag FROM num2')).toEqual([
    { s: '22.95', lo: '0.00', hi: '12.35', av: '4.5900000000000000', ag: '1.5000000000000000' },
  ]);
  expect(await rows(db, 'SELECT g, avg(m) AS av, sum(m) AS s FROM num2 GROUP BY g ORDER BY av DESC')).toEqual([
    { g: 1, av: '5.2500000000000000', s: '10.50' },
    { g: 2, av: '4.1500000000000000', s: '12.45' },
  ]);
  expect(await rows(db, 'SELECT 7.50 AS a, 0.10 + 0.2 AS c, 1 / 3.0 AS d, 10.00 / 4 AS e, 2 * 1.5 AS f')).toEqual([
    { a: '7.50', c: '0.30', d: '0.33333333333333333333', e: '2.5000000000000000', f: '3.0' },
  ]);
  expect(await rows(db, 'UPDATE num2 SET m = m + 0.5 WHERE id = 2 RETURNING m, m / 7 AS q')).toEqual([{ m: '3.50', q: '0.50000000000000000000' }]);
  await expectError(db.query('SELECT m / 0 AS q FROM num2 WHERE id = 1'), 'INVALID', /division by zero/);
});

c('floats read back as numbers', async (db) => {
  await db.query('CREATE TABLE flt1 (id INT PRIMARY KEY, x DOUBLE PRECISION)');
  await db.query('INSERT INTO flt1 VALUES (1, $1), (2, 2.5), (3, $2)', [0.1, -1e10]);
  expect(await rows(db, 'SELECT x FROM flt1 ORDER BY id')).toEqual([{ x: 0.1 }, { x: 2.5 }, { x: -1e10 }]);
});

c('booleans: literals, parameters, WHERE on the column, NOT', async (db) => {
  await db.query('CREATE TABLE bool1 (id INT PRIMARY KEY, ok BOOLEAN)');
  await db.query('INSERT INTO bool1 VALUES (1, true), (2, false), (3, $1), (4, NULL)', [true]);
  expect(await rows(db, 'SELECT id FROM bool1 WHERE ok ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }]);
  expect(await rows(db, 'SELECT id FROM bool1 WHERE NOT ok')).toEqual([{ id: 2 }]);
  expect(await rows(db, 'SELECT id, ok = $1 AS same FROM bool1 WHERE id < 3 ORDER BY id', [false])).toEqual([
    { id: 1, same: false },
    { id: 2, same: true },
  ]);
  expect(await rows(db, 'SELECT true AS t, false AS f')).toEqual([{ t: true, f: false }]);
});

c('int8 columns and counts sort numerically, by name, position and alias', async (db) => {
  await db.query('CREATE TABLE i8s (id BIGINT PRIMARY KEY, g INT)');
  await db.query('INSERT INTO i8s VALUES (5, 1), (17, 1), (40, 2), (9000000000, 2), (-3, 3)');
  const ids = async (sql: string) => (await rows(db, sql)).map((r) => Number(r.id));
  expect(await ids('SELECT id FROM i8s ORDER BY id DESC')).toEqual([9000000000, 40, 17, 5, -3]);
  expect(await ids('SELECT id FROM i8s ORDER BY 1')).toEqual([-3, 5, 17, 40, 9000000000]);
  expect(await ids('SELECT id AS id FROM i8s ORDER BY id LIMIT 2 OFFSET 1')).toEqual([5, 17]);
  const counts = (await rows(db, 'SELECT g, count(*) AS n, sum(id) AS s FROM i8s GROUP BY g ORDER BY s DESC')).map((r) => Number(r.g));
  expect(counts).toEqual([2, 1, 3]);
});

c('timestamps: Date parameters, ordering and comparisons', async (db) => {
  await db.query('CREATE TABLE ts1 (id INT PRIMARY KEY, at TIMESTAMPTZ)');
  const a = new Date('2024-01-01T00:00:00.000Z');
  const b = new Date('2024-06-01T12:30:00.500Z');
  await db.query('INSERT INTO ts1 VALUES (1, $1), (2, $2), (3, $3)', [b, a, '2024-03-01T00:00:00Z']);
  expect(await rows(db, 'SELECT id FROM ts1 WHERE at > $1 ORDER BY at', [a])).toEqual([{ id: 3 }, { id: 1 }]);
  expect(await rows(db, 'SELECT at FROM ts1 WHERE id = 3')).toEqual([{ at: new Date('2024-03-01T00:00:00Z') }]);
});

c('dates: text and Date parameters, range filters', async (db) => {
  await db.query('CREATE TABLE date1 (id INT PRIMARY KEY, d DATE)');
  await db.query("INSERT INTO date1 VALUES (1, '2024-01-15'), (2, $1), (3, $2)", ['2023-12-31', new Date('2024-02-01T00:00:00Z')]);
  expect(await rows(db, "SELECT id, d FROM date1 WHERE d BETWEEN '2024-01-01' AND '2024-12-31' ORDER BY d")).toEqual([
    { id: 1, d: '2024-01-15' },
    { id: 3, d: '2024-02-01' },
  ]);
});

c('json and jsonb: -> and ->> operators, nested', async (db) => {
  await db.query('CREATE TABLE json1 (id INT PRIMARY KEY, doc JSONB)');
  await db.query('INSERT INTO json1 VALUES (1, $1)', [{ user: { name: 'Ada', tags: ['x', 'y'] }, n: 3 }]);
  expect(await rows(db, "SELECT doc->'user'->>'name' AS name, doc->'user'->'tags' AS tags, doc->'user'->'tags'->>1 AS second FROM json1")).toEqual([
    { name: 'Ada', tags: ['x', 'y'], second: 'y' },
  ]);
  expect(await rows(db, "SELECT id FROM json1 WHERE doc->>'n' = '3'")).toEqual([{ id: 1 }]);
  expect(await rows(db, 'SELECT doc FROM json1')).toEqual([{ doc: { user: { name: 'Ada', tags: ['x', 'y'] }, n: 3 } }]);
});

c('uuid: gen_random_uuid() default gives distinct v4 uuids', async (db) => {
  await db.query('CREATE TABLE uuid1 (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), n INT)');
  await db.query('INSERT INTO uuid1 (n) VALUES (1), (2), (3)');
  const ids = (await rows(db, 'SELECT id FROM uuid1')).map((r) => r.id as string);
  expect(new Set(ids).size).toBe(3);
  for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

// ---- DDL ----------------------------------------------------------------------------------------

c('SERIAL primary key numbers rows and RETURNING gives the id', async (db) => {
  await db.query('CREATE TABLE ser1 (id SERIAL PRIMARY KEY, name TEXT)');
  const r1 = await db.query("INSERT INTO ser1 (name) VALUES ('a') RETURNING id");
  const r2 = await db.query("INSERT INTO ser1 (name) VALUES ('b'), ('c') RETURNING id, name");
  expect(r1.rows).toEqual([{ id: 1 }]);
  expect(r2.rows).toEqual([
    { id: 2, name: 'b' },
    { id: 3, name: 'c' },
  ]);
  expect(r2.affected).toBe(2);
});

c('BIGSERIAL never reuses a deleted id', async (db) => {
  await db.query('CREATE TABLE ser2 (id BIGSERIAL PRIMARY KEY, name TEXT)');
  await db.query("INSERT INTO ser2 (name) VALUES ('a'), ('b')");
  await db.query('DELETE FROM ser2 WHERE id = 2');
  expect(await rows(db, "INSERT INTO ser2 (name) VALUES ('c') RETURNING id")).toEqual([{ id: 3 }]);
});

c('DEFAULT now() and CURRENT_TIMESTAMP fill the current time', async (db) => {
  const before = Date.now() - 60_000;
  await db.query('CREATE TABLE def1 (id INT PRIMARY KEY, a TIMESTAMPTZ DEFAULT now(), b TIMESTAMP DEFAULT CURRENT_TIMESTAMP)');
  await db.query('INSERT INTO def1 (id) VALUES (1)');
  const [r] = await rows(db, 'SELECT a, b FROM def1');
  for (const v of [r!.a, r!.b]) {
    expect(v).toBeInstanceOf(Date);
    expect((v as Date).getTime()).toBeGreaterThan(before);
    expect((v as Date).getTime()).toBeLessThan(Date.now() + 60_000);
  }
});

c('literal defaults of several types', async (db) => {
  await db.query("CREATE TABLE def2 (id INT PRIMARY KEY, s TEXT DEFAULT 'none', ok BOOLEAN DEFAULT false, n INT DEFAULT 7, j JSONB DEFAULT '{}')");
  await db.query('INSERT INTO def2 (id) VALUES (1)');
  expect(await rows(db, 'SELECT s, ok, n, j FROM def2')).toEqual([{ s: 'none', ok: false, n: 7, j: {} }]);
});

c('DEFAULT in VALUES writes the column default, or NULL where there is none (as ORMs write omitted columns)', async (db) => {
  await db.query(
    "CREATE TABLE def3 (id INT PRIMARY KEY, s TEXT NOT NULL DEFAULT 'none', n INT DEFAULT 7, j JSONB DEFAULT '{\"a\":1}', at TIMESTAMPTZ DEFAULT '2024-01-02 03:04:05+00', note TEXT)",
  );
  const r = await db.query('INSERT INTO def3 (id, s, n, j, at, note) VALUES (1, DEFAULT, DEFAULT, DEFAULT, DEFAULT, DEFAULT) RETURNING s, n, j, at, note');
  expect(r.rows).toEqual([{ s: 'none', n: 7, j: { a: 1 }, at: new Date('2024-01-02T03:04:05Z'), note: null }]);
  // Rows that omit different columns, and a parameter next to a DEFAULT.
  await db.query("INSERT INTO def3 (id, s, n, note) VALUES (2, 'two', DEFAULT, $1), (3, DEFAULT, 3, DEFAULT)", ['x']);
  expect(await rows(db, 'SELECT id, s, n, note FROM def3 WHERE id > 1 ORDER BY id')).toEqual([
    { id: 2, s: 'two', n: 7, note: 'x' },
    { id: 3, s: 'none', n: 3, note: null },
  ]);
  await db.query("INSERT INTO def3 (id, s) VALUES (4, 'four') ON CONFLICT (id) DO NOTHING");
  await db.query('INSERT INTO def3 (id, s, n) VALUES (4, DEFAULT, DEFAULT) ON CONFLICT (id) DO UPDATE SET n = excluded.n + 1');
  expect(await rows(db, 'SELECT s, n FROM def3 WHERE id = 4')).toEqual([{ s: 'four', n: 8 }]);
  // A NOT NULL column without a default: DEFAULT is NULL, refused as Postgres refuses it.
  await db.query('CREATE TABLE def4 (id INT PRIMARY KEY, must TEXT NOT NULL)');
  await expectError(db.query('INSERT INTO def4 (id, must) VALUES (1, DEFAULT)'), 'CONSTRAINT');
  expect(await count(db, 'def4')).toBe(0);
});

c('CREATE TABLE IF NOT EXISTS is idempotent; a second CREATE TABLE fails', async (db) => {
  await db.query('CREATE TABLE IF NOT EXISTS ddl1 (id INT PRIMARY KEY)');
  await db.query('CREATE TABLE IF NOT EXISTS ddl1 (id INT PRIMARY KEY)');
  await expectError(db.query('CREATE TABLE ddl1 (id INT PRIMARY KEY)'), 'INVALID', /ddl1/);
});

c('composite primary key is enforced and NOT NULL', async (db) => {
  await db.query('CREATE TABLE comp1 (a INT, b TEXT, v INT, PRIMARY KEY (a, b))');
  await db.query("INSERT INTO comp1 VALUES (1, 'x', 1), (1, 'y', 2)");
  await expectError(db.query("INSERT INTO comp1 VALUES (1, 'x', 3)"), 'CONSTRAINT');
  await expectError(db.query('INSERT INTO comp1 VALUES (2, NULL, 3)'), 'CONSTRAINT');
  expect(await count(db, 'comp1')).toBe(2);
});

c('CREATE INDEX and CREATE UNIQUE INDEX; the unique one is enforced', async (db) => {
  await db.query('CREATE TABLE idx1 (id INT PRIMARY KEY, email TEXT, city TEXT)');
  await db.query('CREATE INDEX idx1_city ON idx1 (city)');
  await db.query('CREATE UNIQUE INDEX idx1_email ON idx1 (email)');
  await db.query("INSERT INTO idx1 VALUES (1, 'a@x', 'L')");
  await expectError(db.query("INSERT INTO idx1 VALUES (2, 'a@x', 'P')"), 'CONSTRAINT');
  expect(await rows(db, "SELECT id FROM idx1 WHERE city = 'L'")).toEqual([{ id: 1 }]);
});

c('ALTER TABLE ADD COLUMN with a default fills existing rows', async (db) => {
  await db.query('CREATE TABLE alt1 (id INT PRIMARY KEY)');
  await db.query('INSERT INTO alt1 VALUES (1), (2)');
  await db.query("ALTER TABLE alt1 ADD COLUMN status TEXT DEFAULT 'new'");
  await db.query('ALTER TABLE alt1 ADD COLUMN flag BOOLEAN');
  await db.query("INSERT INTO alt1 VALUES (3, 'old', true)");
  expect(await rows(db, 'SELECT id, status, flag FROM alt1 ORDER BY id')).toEqual([
    { id: 1, status: 'new', flag: null },
    { id: 2, status: 'new', flag: null },
    { id: 3, status: 'old', flag: true },
  ]);
});

c('DROP TABLE removes it; DROP TABLE IF EXISTS tolerates a missing table', async (db) => {
  await db.query('CREATE TABLE drop1 (id INT PRIMARY KEY)');
  await db.query('DROP TABLE drop1');
  await expectError(db.query('SELECT * FROM drop1'), 'NOT_FOUND', /drop1/);
  await db.query('DROP TABLE IF EXISTS drop1');
});

// ---- DML ----------------------------------------------------------------------------------------

c('multi-row INSERT reports rows affected', async (db) => {
  await db.query('CREATE TABLE dml1 (id INT PRIMARY KEY, v TEXT)');
  expect((await db.execute("INSERT INTO dml1 VALUES (1, 'a'), (2, 'b'), (3, 'c')")).affected).toBe(3);
  expect((await db.query('SELECT * FROM dml1')).affected).toBe(0);
});

c('UPDATE with an expression, affected count and RETURNING', async (db) => {
  await people(db, 'dml2');
  const r = await db.query("UPDATE dml2 SET age = age + 1 WHERE city = 'Paris' RETURNING id, age");
  expect(r.affected).toBe(2);
  expect(r.rows.sort((a, b) => (a.id as number) - (b.id as number))).toEqual([
    { id: 2, age: 26 },
    { id: 5, age: 26 },
  ]);
});

c('DELETE with affected count and RETURNING *', async (db) => {
  await people(db, 'dml3');
  const r = await db.query('DELETE FROM dml3 WHERE age = $1 RETURNING *', [25]);
  expect(r.affected).toBe(2);
  expect(r.rows.map((x) => x.name).sort()).toEqual(['Bob', 'Eve']);
  expect(await count(db, 'dml3')).toBe(3);
});

c('ON CONFLICT DO NOTHING skips the duplicate', async (db) => {
  await db.query('CREATE TABLE up1 (id INT PRIMARY KEY, v TEXT)');
  await db.query("INSERT INTO up1 VALUES (1, 'a')");
  const r = await db.query("INSERT INTO up1 VALUES (1, 'b'), (2, 'c') ON CONFLICT DO NOTHING");
  expect(r.affected).toBe(1);
  expect(await rows(db, 'SELECT * FROM up1 ORDER BY id')).toEqual([
    { id: 1, v: 'a' },
    { id: 2, v: 'c' },
  ]);
});

c('ON CONFLICT (col) DO UPDATE SET … = EXCLUDED.…', async (db) => {
  await db.query('CREATE TABLE up2 (id INT PRIMARY KEY, v TEXT, hits INT DEFAULT 1)');
  await db.query("INSERT INTO up2 (id, v) VALUES (1, 'a')");
  await db.query('INSERT INTO up2 (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, hits = up2.hits + 1', [1, 'b']);
  expect(await rows(db, 'SELECT * FROM up2')).toEqual([{ id: 1, v: 'b', hits: 2 }]);
});

c('INSERT … SELECT copies rows', async (db) => {
  await people(db, 'ins1');
  await db.query('CREATE TABLE ins1_copy (id INT PRIMARY KEY, name TEXT)');
  const r = await db.query("INSERT INTO ins1_copy (id, name) SELECT id, name FROM ins1 WHERE city = 'London'");
  expect(r.affected).toBe(2);
  expect(await rows(db, 'SELECT name FROM ins1_copy ORDER BY id')).toEqual([{ name: 'Ada' }, { name: 'cy' }]);
});

// ---- queries ------------------------------------------------------------------------------------

c('$n parameters reused and out of order', async (db) => {
  await people(db, 'q1');
  expect(await rows(db, 'SELECT name FROM q1 WHERE (age = $2 OR id = $1) AND city = $3 AND $2 > 0 ORDER BY id', [1, 25, 'Paris'])).toEqual([
    { name: 'Bob' },
    { name: 'Eve' },
  ]);
});

c('IN and NOT IN lists', async (db) => {
  await people(db, 'q2');
  expect(await rows(db, 'SELECT id FROM q2 WHERE id IN ($1, $2, 5) ORDER BY id', [1, 3])).toEqual([{ id: 1 }, { id: 3 }, { id: 5 }]);
  expect(await rows(db, 'SELECT id FROM q2 WHERE id NOT IN (1, 2, 3) ORDER BY id')).toEqual([{ id: 4 }, { id: 5 }]);
});

c('IN with a single parameter, and a boolean cast of a parameter (regressions)', async (db) => {
  await people(db, 'q2b');
  expect(await rows(db, 'SELECT id FROM q2b WHERE id IN ($1)', [2])).toEqual([{ id: 2 }]);
  expect(await rows(db, 'SELECT id FROM q2b WHERE active = $1::boolean ORDER BY id', [true])).toEqual([{ id: 1 }, { id: 3 }, { id: 5 }]);
  expect(await rows(db, "SELECT id FROM q2b WHERE active = 'false'::boolean")).toEqual([{ id: 2 }]);
});

c('BETWEEN and NOT BETWEEN', async (db) => {
  await people(db, 'q3');
  expect(await rows(db, 'SELECT id FROM q3 WHERE age BETWEEN 25 AND 36 ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }, { id: 5 }]);
  expect(await rows(db, 'SELECT id FROM q3 WHERE age NOT BETWEEN 25 AND 36 ORDER BY id')).toEqual([{ id: 4 }]);
});

c('LIKE is case-sensitive, ILIKE is not', async (db) => {
  await people(db, 'q4');
  expect(await rows(db, "SELECT name FROM q4 WHERE name LIKE 'C%'")).toEqual([]);
  expect(await rows(db, "SELECT name FROM q4 WHERE name ILIKE 'C%'")).toEqual([{ name: 'cy' }]);
  expect(await rows(db, "SELECT name FROM q4 WHERE name LIKE '_ve'")).toEqual([{ name: 'Eve' }]);
  expect(await rows(db, 'SELECT name FROM q4 WHERE name NOT LIKE $1 ORDER BY id', ['%e%'])).toEqual([{ name: 'Ada' }, { name: 'Bob' }, { name: 'cy' }]);
});

c('ORDER BY puts NULLs last ascending and first descending, as Postgres does', async (db) => {
  await people(db, 'q5');
  expect((await rows(db, 'SELECT id FROM q5 ORDER BY age, id')).map((r) => r.id)).toEqual([2, 5, 1, 4, 3]);
  expect((await rows(db, 'SELECT id FROM q5 ORDER BY age DESC, id')).map((r) => r.id)).toEqual([3, 4, 1, 2, 5]);
  expect((await rows(db, 'SELECT id FROM q5 ORDER BY age NULLS FIRST, id')).map((r) => r.id)).toEqual([3, 2, 5, 1, 4]);
});

c('LIMIT and OFFSET, including OFFSET alone', async (db) => {
  await people(db, 'q6');
  expect(await rows(db, 'SELECT id FROM q6 ORDER BY id LIMIT 2 OFFSET 1')).toEqual([{ id: 2 }, { id: 3 }]);
  expect(await rows(db, 'SELECT id FROM q6 ORDER BY id OFFSET 3')).toEqual([{ id: 4 }, { id: 5 }]);
  expect(await rows(db, 'SELECT id FROM q6 ORDER BY id LIMIT $1', [1])).toEqual([{ id: 1 }]);
});

c('GROUP BY with HAVING, count, sum, min, max', async (db) => {
  await people(db, 'q7');
  expect(
    await rows(
      db,
      'SELECT city, count(*) AS n, sum(age) AS total, min(age) AS lo, max(name) AS hi FROM q7 WHERE city IS NOT NULL GROUP BY city HAVING count(*) > 1 ORDER BY city',
    ),
  ).toEqual([
    { city: 'London', n: 2, total: 36, lo: 36, hi: 'cy' },
    { city: 'Paris', n: 2, total: 50, lo: 25, hi: 'Eve' },
  ]);
});

c('avg of integers is numeric; sum of int8 is numeric; count is int8', async (db) => {
  await db.query('CREATE TABLE agg1 (id INT PRIMARY KEY, a INT, b BIGINT)');
  await db.query('INSERT INTO agg1 VALUES (1, 1, 10), (2, 2, 20)');
  const r = await db.query('SELECT avg(a) AS av, sum(a) AS sa, sum(b) AS sb, count(*) AS n FROM agg1');
  expect(r.rows).toEqual([{ av: '1.5000000000000000', sa: 3, sb: '30', n: 2 }]);
  expect(r.fields.map((f) => f.type)).toEqual(['numeric', 'int8', 'numeric', 'int8']);
});

c('aggregates over no rows', async (db) => {
  await db.query('CREATE TABLE agg2 (id INT PRIMARY KEY, a INT)');
  expect(await rows(db, 'SELECT count(*) AS n, sum(a) AS s, max(a) AS m FROM agg2')).toEqual([{ n: 0, s: null, m: null }]);
});

c('count(DISTINCT …) and SELECT DISTINCT', async (db) => {
  await people(db, 'q8');
  expect(await rows(db, 'SELECT count(DISTINCT city) AS n FROM q8')).toEqual([{ n: 2 }]);
  expect(await rows(db, 'SELECT DISTINCT age FROM q8 WHERE age IS NOT NULL ORDER BY age')).toEqual([{ age: 25 }, { age: 36 }, { age: 41 }]);
});

c('COALESCE and NULLIF', async (db) => {
  await people(db, 'q9');
  expect(await rows(db, "SELECT COALESCE(city, 'nowhere') AS c, NULLIF(age, 25) AS a FROM q9 WHERE id IN (2, 4) ORDER BY id")).toEqual([
    { c: 'Paris', a: null },
    { c: 'nowhere', a: 41 },
  ]);
});

c('CASE, searched and simple', async (db) => {
  await people(db, 'q10');
  expect(
    await rows(
      db,
      "SELECT id, CASE WHEN age >= 30 THEN 'senior' WHEN age < 30 THEN 'junior' ELSE 'unknown' END AS band, CASE city WHEN 'Paris' THEN 1 ELSE 0 END AS p FROM q10 ORDER BY id",
    ),
  ).toEqual([
    { id: 1, band: 'senior', p: 0 },
    { id: 2, band: 'junior', p: 1 },
    { id: 3, band: 'unknown', p: 0 },
    { id: 4, band: 'senior', p: 0 },
    { id: 5, band: 'junior', p: 1 },
  ]);
});

c('EXISTS, NOT EXISTS and IN (subquery)', async (db) => {
  await people(db, 'q11');
  await db.query('CREATE TABLE q11_orders (id INT PRIMARY KEY, person INT, total INT)');
  await db.query('INSERT INTO q11_orders VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7)');
  expect(await rows(db, 'SELECT id FROM q11 p WHERE EXISTS (SELECT 1 FROM q11_orders o WHERE o.person = p.id) ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
  expect(await rows(db, 'SELECT id FROM q11 p WHERE NOT EXISTS (SELECT 1 FROM q11_orders o WHERE o.person = p.id) ORDER BY id')).toEqual([
    { id: 3 },
    { id: 4 },
    { id: 5 },
  ]);
  expect(await rows(db, 'SELECT id FROM q11 WHERE id IN (SELECT person FROM q11_orders WHERE total > 6) ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
});

c('scalar subquery in the select list', async (db) => {
  await people(db, 'q12');
  expect(await rows(db, 'SELECT name, (SELECT max(age) FROM q12) AS oldest FROM q12 WHERE id = 1')).toEqual([{ name: 'Ada', oldest: 41 }]);
});

c('common table expressions', async (db) => {
  await people(db, 'q13');
  expect(
    await rows(
      db,
      "WITH paris AS (SELECT id, age FROM q13 WHERE city = 'Paris'), older AS (SELECT id FROM paris WHERE age >= 25) SELECT count(*) AS n FROM older",
    ),
  ).toEqual([{ n: 2 }]);
});

c('window functions: row_number, rank, running sum', async (db) => {
  await people(db, 'q14');
  expect(
    await rows(
      db,
      'SELECT id, row_number() OVER (PARTITION BY city ORDER BY id) AS rn, rank() OVER (ORDER BY age) AS rk FROM q14 WHERE age IS NOT NULL ORDER BY id',
    ),
  ).toEqual([
    { id: 1, rn: 1, rk: 3 },
    { id: 2, rn: 1, rk: 1 },
    { id: 4, rn: 1, rk: 4 },
    { id: 5, rn: 2, rk: 1 },
  ]);
  expect(await rows(db, 'SELECT id, sum(age) OVER (ORDER BY id) AS running FROM q14 WHERE age IS NOT NULL ORDER BY id')).toEqual([
    { id: 1, running: 36 },
    { id: 2, running: 61 },
    { id: 4, running: 102 },
    { id: 5, running: 127 },
  ]);
});

c('inner join and left join with NULLs', async (db) => {
  await people(db, 'q15');
  await db.query('CREATE TABLE q15_pets (id INT PRIMARY KEY, owner INT, pet TEXT)');
  await db.query("INSERT INTO q15_pets VALUES (1, 1, 'cat'), (2, 1, 'dog'), (3, 5, 'fish')");
  expect(await rows(db, 'SELECT p.name, x.pet FROM q15 p JOIN q15_pets x ON x.owner = p.id ORDER BY x.id')).toEqual([
    { name: 'Ada', pet: 'cat' },
    { name: 'Ada', pet: 'dog' },
    { name: 'Eve', pet: 'fish' },
  ]);
  expect(await rows(db, 'SELECT p.id, x.pet FROM q15 p LEFT JOIN q15_pets x ON x.owner = p.id WHERE p.id IN (2, 5) ORDER BY p.id')).toEqual([
    { id: 2, pet: null },
    { id: 5, pet: 'fish' },
  ]);
});

c(':: casts between types', async (db) => {
  expect(
    await rows(db, "SELECT '42'::int AS a, 3.7::int AS b, 12::text AS c, 'true'::boolean AS d, '2024-01-02'::date AS e, 5::numeric AS f, '7'::bigint AS g"),
  ).toEqual([{ a: 42, b: 4, c: '12', d: true, e: '2024-01-02', f: '5', g: 7 }]);
  expect(await rows(db, 'SELECT $1::int + 1 AS n', [41])).toEqual([{ n: 42 }]);
});

c('|| concatenation and concat() skipping NULLs', async (db) => {
  await people(db, 'q16');
  expect(await rows(db, "SELECT name || '@' || city AS a, concat(name, '-', city) AS b FROM q16 WHERE id IN (1, 4) ORDER BY id")).toEqual([
    { a: 'Ada@London', b: 'Ada-London' },
    { a: null, b: 'Dee-' },
  ]);
});

c('string functions: lower, upper, length, replace, substr, trim', async (db) => {
  expect(
    await rows(
      db,
      "SELECT lower('AbC') AS l, upper('AbC') AS u, length('héllo') AS n, replace('a-b-c', '-', '+') AS r, substr('abcdef', 2, 3) AS s, trim('  x  ') AS t",
    ),
  ).toEqual([{ l: 'abc', u: 'ABC', n: 5, r: 'a+b+c', s: 'bcd', t: 'x' }]);
});

c('arithmetic: integer division, modulo, mixed with floats', async (db) => {
  expect(await rows(db, 'SELECT 7 / 2 AS a, 7 % 3 AS b, 7 / 2.0 AS c, 2 * 1.5 AS d, -5 + 2 AS e')).toEqual([
    { a: 3, b: 1, c: '3.5000000000000000', d: '3.0', e: -3 },
  ]);
});

// ---- errors: typed, and nothing changes --------------------------------------------------------

c('unique violation is a CONSTRAINT error naming the column', async (db) => {
  await db.query('CREATE TABLE err1 (id INT PRIMARY KEY, email TEXT UNIQUE)');
  await db.query("INSERT INTO err1 VALUES (1, 'a@x')");
  const e = await expectError(db.query("INSERT INTO err1 VALUES (2, 'a@x')"), 'CONSTRAINT');
  expect(e.details.columns).toEqual(['email']);
  expect(await count(db, 'err1')).toBe(1);
});

c('primary key violation is a CONSTRAINT error naming the column', async (db) => {
  await db.query('CREATE TABLE err2 (id INT PRIMARY KEY, v TEXT)');
  await db.query("INSERT INTO err2 VALUES (1, 'a')");
  const e = await expectError(db.query("INSERT INTO err2 VALUES (1, 'b')"), 'CONSTRAINT');
  expect(e.details.columns).toEqual(['id']);
});

c('NOT NULL violation names the column', async (db) => {
  await db.query('CREATE TABLE err3 (id INT PRIMARY KEY, v TEXT NOT NULL)');
  const e = await expectError(db.query('INSERT INTO err3 VALUES (1, NULL)'), 'CONSTRAINT');
  expect(e.details.columns).toEqual(['v']);
  expect(await count(db, 'err3')).toBe(0);
});

c('CHECK violation names the constraint', async (db) => {
  await db.query('CREATE TABLE err4 (id INT PRIMARY KEY, qty INT, CONSTRAINT qty_positive CHECK (qty > 0))');
  const e = await expectError(db.query('INSERT INTO err4 VALUES (1, -1)'), 'CONSTRAINT');
  expect(e.details.constraint).toBe('qty_positive');
});

c('foreign key violation is a CONSTRAINT error', async (db) => {
  await db.query('CREATE TABLE err5_parent (id INT PRIMARY KEY)');
  await db.query('CREATE TABLE err5_child (id INT PRIMARY KEY, parent INT REFERENCES err5_parent (id))');
  await db.query('INSERT INTO err5_parent VALUES (1)');
  await db.query('INSERT INTO err5_child VALUES (1, 1)');
  await expectError(db.query('INSERT INTO err5_child VALUES (2, 99)'), 'CONSTRAINT');
  expect(await count(db, 'err5_child')).toBe(1);
});

c('a value too long for VARCHAR(n) is refused', async (db) => {
  await db.query('CREATE TABLE err6 (id INT PRIMARY KEY, code VARCHAR(3))');
  await db.query("INSERT INTO err6 VALUES (1, 'abc')");
  await expectError(db.query("INSERT INTO err6 VALUES (2, 'abcd')"), 'CONSTRAINT');
  expect(await count(db, 'err6')).toBe(1);
});

c('syntax error is a SYNTAX error', async (db) => {
  await expectError(db.query('SELEC 1'), 'SYNTAX');
  await expectError(db.query('SELECT FROM WHERE'), 'SYNTAX');
});

c('unknown table and unknown column are NOT_FOUND, naming them', async (db) => {
  await expectError(db.query('SELECT * FROM no_such_table'), 'NOT_FOUND', /no_such_table/);
  await db.query('CREATE TABLE err7 (id INT PRIMARY KEY)');
  await expectError(db.query('SELECT nope FROM err7'), 'NOT_FOUND', /nope/);
});

c('transaction control in statement text is refused', async (db) => {
  await expectError(db.query('BEGIN'), 'UNSUPPORTED', /BEGIN/);
  await expectError(db.query('COMMIT'), 'UNSUPPORTED', /COMMIT/);
});

c('more than 100 bound parameters is LIMIT_EXCEEDED and writes nothing', async (db) => {
  await db.query('CREATE TABLE lim1 (id INT PRIMARY KEY)');
  const params = Array.from({ length: 101 }, (_, i) => i);
  const sql = `INSERT INTO lim1 VALUES ${params.map((_, i) => `($${i + 1})`).join(', ')}`;
  await expectError(db.query(sql, params), 'LIMIT_EXCEEDED', /100/);
  expect(await count(db, 'lim1')).toBe(0);
  const ok = params.slice(0, 100);
  await db.query(`INSERT INTO lim1 VALUES ${ok.map((_, i) => `($${i + 1})`).join(', ')}`, ok);
  expect(await count(db, 'lim1')).toBe(100);
});

c('a statement over 100 KB is LIMIT_EXCEEDED', async (db) => {
  await expectError(db.query(`SELECT '${'x'.repeat(110 * 1024)}' AS big`), 'LIMIT_EXCEEDED', /100 KB/);
});

c('a missing parameter value is INVALID', async (db) => {
  await expectError(db.query('SELECT $1::int AS a, $2::int AS b', [1]), 'INVALID');
});

// ---- batches --------------------------------------------------------------------------------------

c('atomic batch returns results in order', async (db) => {
  await db.query('CREATE TABLE bat1 (id INT PRIMARY KEY, v TEXT)');
  const out = await db.batch(
    [
      { sql: 'INSERT INTO bat1 VALUES ($1, $2)', params: [1, 'a'] },
      { sql: 'INSERT INTO bat1 VALUES ($1, $2)', params: [2, 'b'] },
      { sql: 'SELECT count(*) AS n FROM bat1' },
    ],
    { atomic: true },
  );
  expect(out.map((r) => r.affected)).toEqual([1, 1, 0]);
  expect(out[2]!.rows).toEqual([{ n: 2 }]);
});

c('atomic batch failing midway leaves nothing behind', async (db) => {
  await db.query('CREATE TABLE bat2 (id INT PRIMARY KEY, v TEXT NOT NULL)');
  await expectError(
    db.batch(
      [
        { sql: "INSERT INTO bat2 VALUES (1, 'a')" },
        { sql: "UPDATE bat2 SET v = 'changed'" },
        { sql: 'INSERT INTO bat2 VALUES (2, NULL)' },
        { sql: "INSERT INTO bat2 VALUES (3, 'c')" },
      ],
      { atomic: true },
    ),
    'CONSTRAINT',
  );
  expect(await count(db, 'bat2')).toBe(0);
});

c('atomic batch with DDL rolls the table back too', async (db) => {
  await expectError(
    db.batch([{ sql: 'CREATE TABLE bat3 (id INT PRIMARY KEY)' }, { sql: 'INSERT INTO bat3 VALUES (1)' }, { sql: 'INSERT INTO bat3 VALUES (1)' }], {
      atomic: true,
    }),
    'CONSTRAINT',
  );
  await expectError(db.query('SELECT * FROM bat3'), 'NOT_FOUND');
  await db.query('CREATE TABLE bat3 (id INT PRIMARY KEY, extra TEXT)');
  expect((await db.query('SELECT * FROM bat3')).fields.map((f) => f.name)).toEqual(['id', 'extra']);
});

c('non-atomic batch stops at the failure and keeps what ran before it', async (db) => {
  await db.query('CREATE TABLE bat4 (id INT PRIMARY KEY)');
  await expectError(
    db.batch([{ sql: 'INSERT INTO bat4 VALUES (1)' }, { sql: 'INSERT INTO bat4 VALUES (1)' }, { sql: 'INSERT INTO bat4 VALUES (2)' }]),
    'CONSTRAINT',
  );
  expect(await rows(db, 'SELECT id FROM bat4')).toEqual([{ id: 1 }]);
});

c('a batch with a syntax error midway changes nothing when atomic', async (db) => {
  await db.query('CREATE TABLE bat5 (id INT PRIMARY KEY)');
  await expectError(db.batch([{ sql: 'INSERT INTO bat5 VALUES (1)' }, { sql: 'INSERT INTO bat5 VALUE (2)' }], { atomic: true }), 'SYNTAX');
  expect(await count(db, 'bat5')).toBe(0);
});

// ---- interactive transactions ----------------------------------------------------------------

c('transaction commits when the callback resolves', async (db) => {
  await db.query('CREATE TABLE tx1 (id INT PRIMARY KEY, v INT)');
  const out = await db.transaction(async (tx) => {
    await tx.query('INSERT INTO tx1 VALUES (1, 10)');
    await tx.query('UPDATE tx1 SET v = v + 5 WHERE id = 1');
    return 'done';
  });
  expect(out).toBe('done');
  expect(await rows(db, 'SELECT v FROM tx1')).toEqual([{ v: 15 }]);
});

c('transaction rolls back when the callback throws', async (db) => {
  await db.query('CREATE TABLE tx2 (id INT PRIMARY KEY)');
  await expect(
    db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx2 VALUES (1)');
      throw new Error('changed my mind');
    }),
  ).rejects.toThrow('changed my mind');
  expect(await count(db, 'tx2')).toBe(0);
});

c('reads inside a transaction see its own writes', async (db) => {
  await db.query('CREATE TABLE tx3 (id INT PRIMARY KEY, v TEXT)');
  await db.transaction(async (tx) => {
    await tx.query("INSERT INTO tx3 VALUES (1, 'mine')");
    expect((await tx.query('SELECT v FROM tx3')).rows).toEqual([{ v: 'mine' }]);
  });
});

c('a failed statement aborts the transaction: later statements refused, nothing committed', async (db) => {
  await db.query('CREATE TABLE tx4 (id INT PRIMARY KEY)');
  await expect(
    db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx4 VALUES (1)');
      await tx.query('INSERT INTO tx4 VALUES (1)').catch(() => undefined);
      await tx.query('INSERT INTO tx4 VALUES (2)');
    }),
  ).rejects.toThrow(/aborted/);
  expect(await count(db, 'tx4')).toBe(0);
});

c('concurrent read-modify-write transactions serialize: no lost update', async (db) => {
  await db.query('CREATE TABLE tx5 (id INT PRIMARY KEY, n INT)');
  await db.query('INSERT INTO tx5 VALUES (1, 0)');
  await Promise.all(
    Array.from({ length: 25 }, () =>
      db.transaction(async (tx) => {
        const [r] = (await tx.query('SELECT n FROM tx5 WHERE id = 1')).rows;
        await tx.query('UPDATE tx5 SET n = $1 WHERE id = 1', [(r!.n as number) + 1]);
      }),
    ),
  );
  expect(await rows(db, 'SELECT n FROM tx5')).toEqual([{ n: 25 }]);
});

c('DDL inside a rolled-back transaction is undone', async (db) => {
  await expect(
    db.transaction(async (tx) => {
      await tx.query('CREATE TABLE tx6 (id INT PRIMARY KEY)');
      await tx.query('INSERT INTO tx6 VALUES (1)');
      throw new Error('undo');
    }),
  ).rejects.toThrow('undo');
  await expectError(db.query('SELECT * FROM tx6'), 'NOT_FOUND');
});
