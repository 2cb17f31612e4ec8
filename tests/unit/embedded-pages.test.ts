// The engines' bulk page load (`loadJson`: on libsql decoded by SQLite, engines/sqlite-wire.ts, or
// bound from JS, engines/sqlite-load.ts; on PGlite engines/pglite-load.ts) on real databases: a
// page leaves exactly what the engine's normal parameterized upserts (`replica/copy.ts` through the
// dialect) leave, for every column type the conformance suite covers — on libsql down to SQLite's
// stored values — and overwrites rows already there.
import { createClient, type InStatement } from '@libsql/client';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PageLoader, StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { jsonUpserts } from '../../engines/pglite-load.js';
import { openPglite } from '../../engines/postgres.js';
import { columnsFromRows, COLUMNS_SQL } from '../../engines/capture-sqlite.js';
import { loadJsonSql, pageJsonSql } from '../../engines/sqlite-wire.js';
import type { PageText, Row } from '../../rpc/results.js';
import { toWire } from '../../rpc/values.js';
import { copyStatements, loadPage } from '../../replica/copy.js';

const T = 'odd t'; // needs quoting (a name with a doubled quote is mangled by the SQLite dialect's parser, a separate bug)
const QT = '"odd t"';
// The conformance suite's typed table (tests/conformance/cases.ts), with a BIGINT key.
const TABLE = `CREATE TABLE ${QT} (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION,
  n NUMERIC, s TEXT, v VARCHAR(20), j JSON, jb JSONB, by BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID)`;
const COLS = ['id', 'b', 'i2', 'i4', 'i8', 'f4', 'f8', 'n', 's', 'v', 'j', 'jb', 'by', 'd', 'ts', 'tz', 'u'];

const rows: Row[] = [
  {
    id: 1n,
    b: true,
    i2: 12,
    i4: -123456,
    i8: 2n ** 60n + 1n,
    f4: 1.5,
    f8: 3.25,
    n: '12345.678',
    s: 'héllo 🌍',
    v: 'short',
    j: { a: [1, 2, { b: null }] },
    jb: [1, 'two', false],
    by: new Uint8Array(Array.from({ length: 256 }, (_, i) => i)),
    d: '2024-02-29',
    ts: new Date('2024-03-04T05:06:07.089Z'),
    tz: new Date('2024-03-04T05:06:07.089Z'),
    u: '8F4E2B1C-3D5A-4E6F-9A0B-1C2D3E4F5A6B',
  },
  {
    id: 9007199254740993n,
    b: false,
    i2: -32768,
    i4: -2147483648,
    i8: -(2n ** 63n),
    f4: -0.25,
    f8: -1e-300,
    n: '-0.001',
    s: 'quotes \' " \\ and ünïcödé 🦆\n',
    v: '',
    j: 'null',
    jb: '"a string"',
    by: new Uint8Array([]),
    d: '2000-01-01',
    ts: '2024-01-02 03:04:05',
    tz: '2024-01-02T03:04:05.1+02:00',
    u: '5c0f6c53-1a7b-4e5e-9d2b-0e1a2b3c4d5e',
  },
  {
    id: -5n,
    b: null,
    i2: null,
    i4: null,
    i8: null,
    f4: null,
    f8: null,
    n: null,
    s: null,
    v: null,
    j: null,
    jb: null,
    by: null,
    d: null,
    ts: null,
    tz: null,
    u: null,
  },
  { id: 7n, i4: 7, f8: 0.1 + 0.2, n: 2.5, s: '' }, // columns left out are NULL
];
/** Every row with every column (a page's rows all carry the table's columns). */
const page = rows.map((r) => Object.fromEntries(COLS.map((c) => [c, r[c] ?? null])));

/** Rows (each with the first row's columns) as a page's JSON text, each value wire-encoded by `toWire`. */
function text(rows: Row[]): PageText {
  const columns = rows.length ? Object.keys(rows[0]!) : ['id'];
  return { columns, json: JSON.stringify(rows.map((r) => columns.map((c) => toWire(r[c] ?? null)))) };
}

const dir = mkdtempSync(join(tmpdir(), 'vitess-pages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const all = async (db: StorageEngine) => (await db.query(`SELECT * FROM ${QT} ORDER BY id`)).rows;
const normalPath = (db: StorageEngine, r: Row[]) => db.batch(copyStatements(T, ['id'], r), { atomic: true });

let files = 0;
const engines: Record<'libsql' | 'pglite', () => Promise<{ db: StorageEngine & PageLoader; file?: string }>> = {
  libsql: async () => {
    const file = join(dir, `${files++}.db`);
    return { db: await LibsqlEngine.open(`file:${file}`), file };
  },
  pglite: async () => ({ db: await openPglite() }),
};

/** libsql: each stored value as SQLite holds it (storage class and literal), read past the dialect. */
async function stored(file: string, cols = COLS): Promise<unknown[][]> {
  const raw = createClient({ url: `file:${file}`, intMode: 'bigint' });
  const rs = await raw.execute(`SELECT ${cols.map((c) => `typeof("${c}"), quote("${c}")`).join(', ')} FROM ${QT} ORDER BY id`);
  raw.close();
  return rs.rows.map((r) => Array.from(r as ArrayLike<unknown>));
}

describe.each(['libsql', 'pglite'] as const)('loadJson on %s', (kind) => {
  it("stores what the engine's parameterized upserts store, for every type", async () => {
    const [bulk, normal] = await Promise.all([engines[kind](), engines[kind]()]);
    for (const { db } of [bulk, normal]) await db.query(TABLE);
    await loadPage(bulk.db, T, ['id'], text(page));
    await normalPath(normal.db, page);
    expect(await all(bulk.db)).toEqual(await all(normal.db));
    expect((await all(bulk.db)).map((r) => r.id)).toEqual([-5, 1, 7, 9007199254740993n]);
    if (kind === 'libsql') expect(await stored(bulk.file!)).toEqual(await stored(normal.file!));
    await Promise.all([bulk.db.close(), normal.db.close()]);
  });

  it('overwrites rows already there, leaves others, and takes an empty page', async () => {
    const [bulk, normal] = await Promise.all([engines[kind](), engines[kind]()]);
    for (const { db } of [bulk, normal]) {
      await db.query(TABLE);
      await db.query(
        `INSERT INTO ${QT} (id, s, u, ts) VALUES (1, 'old', 'AAAAAAAA-1A7B-4E5E-9D2B-0E1A2B3C4D5E', '1999-01-01T00:00:00Z'), (2, 'stays', NULL, NULL), (-5, 'set', NULL, NULL)`,
      );
    }
    await loadPage(bulk.db, T, ['id'], text(page));
    await normalPath(normal.db, page);
    expect(await all(bulk.db)).toEqual(await all(normal.db));
    expect((await all(bulk.db)).map((r) => [r.id, r.s])).toEqual([
      [-5, null],
      [1, 'héllo 🌍'],
      [2, 'stays'],
      [7, ''],
      [9007199254740993n, 'quotes \' " \\ and ünïcödé 🦆\n'],
    ]);
    if (kind === 'libsql') expect(await stored(bulk.file!)).toEqual(await stored(normal.file!));
    await bulk.db.loadJson!(T, ['id'], text([]));
    expect(await all(bulk.db)).toHaveLength(5);
    await Promise.all([bulk.db.close(), normal.db.close()]);
  });

  it('loads a page larger than one statement, a wide one, and a table whose every column is in the key', async () => {
    const { db } = await engines[kind]();
    await db.query('CREATE TABLE big (id BIGINT PRIMARY KEY, s TEXT)');
    const big = Array.from({ length: 5_000 }, (_, k) => ({ id: BigInt(k), s: `${k}`.padStart(200, 'x') }));
    await db.loadJson!('big', ['id'], text(big));
    await db.loadJson!('big', ['id'], text(big.slice(4_000).map((r) => ({ ...r, s: 'new' }))));
    expect((await db.query("SELECT count(*) AS n, sum(CASE WHEN s = 'new' THEN 1 ELSE 0 END) AS fresh FROM big")).rows).toEqual([{ n: 5_000, fresh: 1_000 }]);
    // 40 columns: libsql's statements stop at SQLite's 32,766 parameters (819 rows).
    const cols = Array.from({ length: 40 }, (_, i) => `c${i}`);
    await db.query(`CREATE TABLE wide (${cols.map((c) => `${c} BIGINT`).join(', ')}, PRIMARY KEY (c0))`);
    await db.loadJson!('wide', ['c0'], text(Array.from({ length: 2_000 }, (_, k) => Object.fromEntries(cols.map((c, i) => [c, k * 40 + i])))));
    expect((await db.query('SELECT count(*) AS n, sum(c39) AS s FROM wide')).rows).toEqual([{ n: 2_000, s: '80038000' }]);
    await db.query('CREATE TABLE k (a INT, b INT, PRIMARY KEY (a, b))');
    await db.loadJson!(
      'k',
      ['a', 'b'],
      text([
        { a: 1, b: 2 },
        { a: 1, b: 3 },
      ]),
    );
    await db.loadJson!('k', ['a', 'b'], text([{ a: 1, b: 2 }]));
    expect((await db.query('SELECT count(*) AS n FROM k')).rows).toEqual([{ n: 2 }]);
    await db.close();
  });

  it('refuses a page for a column or table that does not exist, with a typed error, and leaves nothing', async () => {
    const { db } = await engines[kind]();
    await db.query('CREATE TABLE small (id INT PRIMARY KEY, s TEXT)');
    await expect(db.loadJson!('small', ['id'], text([{ id: 1, nope: 'x' }]))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(db.loadJson!('missing', ['id'], text([{ id: 1 }]))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A bad value fails the whole page.
    await expect(
      db.loadJson!(
        'small',
        ['id'],
        text([
          { id: 1, s: 'a' },
          { id: 'x', s: 'b' },
        ]),
      ),
    ).rejects.toMatchObject({ name: 'VitessError' });
    expect((await db.query('SELECT count(*) AS n FROM small')).rows[0]!.n).toEqual(0);
    await db.close();
  });
});

// The typed table without the float columns, whose pages SQLite decodes itself (`loadJsonSql`).
const SQL_COLS = COLS.filter((c) => !['f4', 'f8', 'n'].includes(c));
const SQL_TABLE = `CREATE TABLE ${QT} (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT, i8 BIGINT, s TEXT, v VARCHAR(20), j JSON, jb JSONB, by BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID)`;
const onlySql = (r: Row): Row => Object.fromEntries(SQL_COLS.map((c) => [c, r[c] ?? null]));

/** A statement's rows as value arrays, on a libsql file past the engine. */
async function raw(file: string, stmt: InStatement): Promise<unknown[][]> {
  const db = createClient({ url: `file:${file}`, intMode: 'bigint' });
  const rs = await db.execute(stmt);
  db.close();
  return rs.rows.map((r) => Array.from(r as ArrayLike<unknown>));
}

/** The page a DO SQLite tablet sends (`pageJsonSql`: bytes as `$hex`), read from a libsql file holding the rows. */
async function sqlitePage(file: string): Promise<PageText> {
  const fields = columnsFromRows(await raw(file, { sql: COLUMNS_SQL, args: [T] }));
  const [row] = await raw(file, pageJsonSql(T, fields, ['id'], false, 5_000));
  return { columns: fields.map((f) => f.name), json: String(row![0]) };
}

describe('loadJson on libsql, decoded by SQLite', () => {
  /**
   * Loads `rows` the normal way and as both encoders' pages; each page must leave the same stored
   * values. Returns whether SQLite decoded both pages (a string holding `"$` sends a page to JS).
   */
  async function same(rows: Row[]): Promise<boolean> {
    const [normal, fromJs, fromSqlite] = await Promise.all([engines.libsql(), engines.libsql(), engines.libsql()]);
    for (const { db } of [normal, fromJs, fromSqlite]) await db.query(SQL_TABLE);
    await normalPath(normal.db, rows);
    const pages = [text(rows.map((r) => ({ ...r, by: null }))), await sqlitePage(normal.file!)];
    const fields = columnsFromRows(await raw(normal.file!, { sql: COLUMNS_SQL, args: [T] }));
    let bySqlite = true;
    for (const [i, target] of [fromJs, fromSqlite].entries()) {
      const page = pages[i]!;
      bySqlite &&= loadJsonSql(T, fields, ['id'], page.json) !== undefined;
      expect(await target.db.loadJson!(T, ['id'], page)).toBe(rows.length);
    }
    const want = await stored(normal.file!, SQL_COLS);
    expect(await stored(fromSqlite.file!, SQL_COLS)).toEqual(want);
    const withoutBytes = (await stored(fromJs.file!, SQL_COLS)).map((r) =>
      r.filter((_, k) => k < 2 * SQL_COLS.indexOf('by') || k >= 2 * SQL_COLS.indexOf('by') + 2),
    );
    expect(withoutBytes).toEqual(want.map((r) => r.filter((_, k) => k < 2 * SQL_COLS.indexOf('by') || k >= 2 * SQL_COLS.indexOf('by') + 2)));
    await Promise.all([normal, fromJs, fromSqlite].map(({ db }) => db.close()));
    return bySqlite;
  }

  it("stores what the parameterized upserts store, from either encoder's page", async () => {
    expect(await same(rows.map(onlySql)), 'decoded by SQLite, not in JS').toBe(true);
  });

  it('stores what the parameterized upserts store, for random rows', async () => {
    const row = fc.record(
      {
        b: fc.option(fc.boolean()),
        i2: fc.option(fc.integer({ min: -32768, max: 32767 })),
        i4: fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
        i8: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
        // Strings that look like the wire's tags too.
        s: fc.option(
          fc.oneof({ weight: 5, arbitrary: fc.string({ unit: 'grapheme' }) }, fc.constantFrom('{"$int8":"1"}', '"$ts"', '\\"$bytea\\"', '$float', '\\')),
        ),
        v: fc.option(fc.string({ maxLength: 20 })),
        // A key starting with `$` sends the page to JS (it could be a tag): jb has the tags' names, j none.
        j: fc.option(
          fc.oneof(
            fc.dictionary(
              fc.string().filter((k) => !k.includes('$')),
              fc.jsonValue({ maxDepth: 0 }),
            ),
            fc.array(fc.jsonValue({ maxDepth: 0 })),
          ),
        ),
        jb: fc.option(fc.dictionary(fc.constantFrom('$int8', '$ts', 'a'), fc.oneof(fc.string(), fc.integer(), fc.boolean()))),
        by: fc.option(fc.uint8Array({ maxLength: 40 })),
        d: fc.option(fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((x) => x.toISOString().slice(0, 10))),
        ts: fc.option(fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })),
        tz: fc.option(fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })),
        u: fc.option(fc.uuid()),
      },
      { requiredKeys: [] },
    );
    let bySqlite = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { minLength: 1, maxLength: 25 }),
        fc.array(row, { minLength: 25, maxLength: 25 }),
        async (ids, values) => {
          if (await same(ids.map((id, k) => onlySql({ ...values[k]!, id } as Row)))) bySqlite++;
        },
      ),
      { numRuns: 25 },
    );
    expect(bySqlite, 'runs decoded by SQLite').toBeGreaterThan(12);
  });
});

describe('jsonUpserts (PGlite)', () => {
  it("splits a large page under the engine's per-value limit", () => {
    const big = Array.from({ length: 3_000 }, (_, k) => [BigInt(k), 'x'.repeat(500)]);
    const statements = jsonUpserts(
      't',
      ['id'],
      ['id', 's'],
      big,
      new Map([
        ['id', 'bigint'],
        ['s', 'text'],
      ]),
    );
    expect(statements.length).toBeGreaterThan(1);
    expect(statements.every((s) => String(s.params![0]).length <= 600_000)).toBe(true);
  });
});
