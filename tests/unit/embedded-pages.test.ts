// The engines' bulk page load (`loadRows`: engines/sqlite-load.ts on libsql, engines/pglite-load.ts
// on PGlite) on real databases: a page leaves exactly what the engine's normal parameterized
// upserts (`replica/copy.ts` through the dialect) leave, for every column type the conformance
// suite covers — on libsql down to SQLite's stored values — and overwrites rows already there.
import { createClient } from '@libsql/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { jsonUpserts } from '../../engines/pglite-load.js';
import { openPglite } from '../../engines/postgres.js';
import type { Row } from '../../rpc/results.js';
import { copyStatements } from '../../replica/copy.js';
import { loadPage } from '../../replica/embedded-pages.js';

const T = 'odd t'; // needs quoting (a name with a doubled quote is mangled by the SQLite dialect's parser, a separate bug)
const QT = '"odd t"';
// The conformance suite's typed table (tests/conformance/cases.ts), with a BIGINT key.
const TABLE = `CREATE TABLE ${QT} (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INT, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION,
  n NUMERIC, s TEXT, v VARCHAR(20), j JSON, jb JSONB, by BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID)`;
const COLS = ['id', 'b', 'i2', 'i4', 'i8', 'f4', 'f8', 'n', 's', 'v', 'j', 'jb', 'by', 'd', 'ts', 'tz', 'u'];

const rows: Row[] = [
  { id: 1n, b: true, i2: 12, i4: -123456, i8: 2n ** 60n + 1n, f4: 1.5, f8: 3.25, n: '12345.678', s: 'héllo 🌍', v: 'short', j: { a: [1, 2, { b: null }] }, jb: [1, 'two', false], by: new Uint8Array(Array.from({ length: 256 }, (_, i) => i)), d: '2024-02-29', ts: new Date('2024-03-04T05:06:07.089Z'), tz: new Date('2024-03-04T05:06:07.089Z'), u: '8F4E2B1C-3D5A-4E6F-9A0B-1C2D3E4F5A6B' },
  { id: 9007199254740993n, b: false, i2: -32768, i4: -2147483648, i8: -(2n ** 63n), f4: -0.25, f8: -1e-300, n: '-0.001', s: 'quotes \' " \\ and ünïcödé 🦆\n', v: '', j: 'null', jb: '"a string"', by: new Uint8Array([]), d: '2000-01-01', ts: '2024-01-02 03:04:05', tz: '2024-01-02T03:04:05.1+02:00', u: '5c0f6c53-1a7b-4e5e-9d2b-0e1a2b3c4d5e' },
  { id: -5n, b: null, i2: null, i4: null, i8: null, f4: null, f8: null, n: null, s: null, v: null, j: null, jb: null, by: null, d: null, ts: null, tz: null, u: null },
  { id: 7n, i4: 7, f8: 0.1 + 0.2, n: 2.5, s: '' }, // columns left out are NULL
];
/** Every row with every column (a page's rows all carry the table's columns). */
const page = rows.map((r) => Object.fromEntries(COLS.map((c) => [c, r[c] ?? null])));

const dir = mkdtempSync(join(tmpdir(), 'vitess-pages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const all = async (db: StorageEngine) => (await db.query(`SELECT * FROM ${QT} ORDER BY id`)).rows;
const normalPath = (db: StorageEngine, r: Row[]) => db.batch(copyStatements(T, ['id'], r), { atomic: true });

let files = 0;
const engines: Record<'libsql' | 'pglite', () => Promise<{ db: StorageEngine; file?: string }>> = {
  libsql: async () => {
    const file = join(dir, `${files++}.db`);
    return { db: await LibsqlEngine.open(`file:${file}`), file };
  },
  pglite: async () => ({ db: await openPglite() }),
};

/** libsql: each stored value as SQLite holds it (storage class and literal), read past the dialect. */
async function stored(file: string): Promise<unknown[][]> {
  const raw = createClient({ url: `file:${file}`, intMode: 'bigint' });
  const rs = await raw.execute(`SELECT ${COLS.map((c) => `typeof("${c}"), quote("${c}")`).join(', ')} FROM ${QT} ORDER BY id`);
  raw.close();
  return rs.rows.map((r) => Array.from(r as ArrayLike<unknown>));
}

describe.each(['libsql', 'pglite'] as const)('loadRows on %s', (kind) => {
  it('stores what the engine\'s parameterized upserts store, for every type', async () => {
    const [bulk, normal] = await Promise.all([engines[kind](), engines[kind]()]);
    for (const { db } of [bulk, normal]) await db.query(TABLE);
    await loadPage(bulk.db, T, ['id'], page);
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
      await db.query(`INSERT INTO ${QT} (id, s, u, ts) VALUES (1, 'old', 'AAAAAAAA-1A7B-4E5E-9D2B-0E1A2B3C4D5E', '1999-01-01T00:00:00Z'), (2, 'stays', NULL, NULL), (-5, 'set', NULL, NULL)`);
    }
    await loadPage(bulk.db, T, ['id'], page);
    await normalPath(normal.db, page);
    expect(await all(bulk.db)).toEqual(await all(normal.db));
    expect((await all(bulk.db)).map((r) => [r.id, r.s])).toEqual([[-5, null], [1, 'héllo 🌍'], [2, 'stays'], [7, ''], [9007199254740993n, 'quotes \' " \\ and ünïcödé 🦆\n']]);
    if (kind === 'libsql') expect(await stored(bulk.file!)).toEqual(await stored(normal.file!));
    await bulk.db.loadRows!(T, ['id'], []);
    expect(await all(bulk.db)).toHaveLength(5);
    await Promise.all([bulk.db.close(), normal.db.close()]);
  });

  it('loads a page larger than one statement, a wide one, and a table whose every column is in the key', async () => {
    const { db } = await engines[kind]();
    await db.query('CREATE TABLE big (id BIGINT PRIMARY KEY, s TEXT)');
    const big = Array.from({ length: 5_000 }, (_, k) => ({ id: BigInt(k), s: `${k}`.padStart(200, 'x') }));
    await db.loadRows!('big', ['id'], big);
    await db.loadRows!('big', ['id'], big.slice(4_000).map((r) => ({ ...r, s: 'new' })));
    expect((await db.query('SELECT count(*) AS n, sum(CASE WHEN s = \'new\' THEN 1 ELSE 0 END) AS fresh FROM big')).rows).toEqual([{ n: 5_000, fresh: 1_000 }]);
    // 40 columns: libsql's statements stop at SQLite's 32,766 parameters (819 rows).
    const cols = Array.from({ length: 40 }, (_, i) => `c${i}`);
    await db.query(`CREATE TABLE wide (${cols.map((c) => `${c} BIGINT`).join(', ')}, PRIMARY KEY (c0))`);
    await db.loadRows!('wide', ['c0'], Array.from({ length: 2_000 }, (_, k) => Object.fromEntries(cols.map((c, i) => [c, k * 40 + i]))));
    expect((await db.query('SELECT count(*) AS n, sum(c39) AS s FROM wide')).rows).toEqual([{ n: 2_000, s: '80038000' }]);
    await db.query('CREATE TABLE k (a INT, b INT, PRIMARY KEY (a, b))');
    await db.loadRows!('k', ['a', 'b'], [{ a: 1, b: 2 }, { a: 1, b: 3 }]);
    await db.loadRows!('k', ['a', 'b'], [{ a: 1, b: 2 }]);
    expect((await db.query('SELECT count(*) AS n FROM k')).rows).toEqual([{ n: 2 }]);
    await db.close();
  });

  it('refuses a page for a column or table that does not exist, with a typed error, and leaves nothing', async () => {
    const { db } = await engines[kind]();
    await db.query('CREATE TABLE small (id INT PRIMARY KEY, s TEXT)');
    await expect(db.loadRows!('small', ['id'], [{ id: 1, nope: 'x' }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(db.loadRows!('missing', ['id'], [{ id: 1 }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A bad value fails the whole page.
    await expect(db.loadRows!('small', ['id'], [{ id: 1, s: 'a' }, { id: 'x', s: 'b' }])).rejects.toMatchObject({ name: 'VitessError' });
    expect((await db.query('SELECT count(*) AS n FROM small')).rows[0]!.n).toEqual(0);
    await db.close();
  });
});

describe('jsonUpserts (PGlite)', () => {
  it('splits a large page under the engine\'s per-value limit', () => {
    const big = Array.from({ length: 3_000 }, (_, k) => ({ id: BigInt(k), s: 'x'.repeat(500) }));
    const statements = jsonUpserts('t', ['id'], big, new Map([['id', 'bigint'], ['s', 'text']]));
    expect(statements.length).toBeGreaterThan(1);
    expect(statements.every((s) => String(s.params![0]).length <= 600_000)).toBe(true);
  });
});
