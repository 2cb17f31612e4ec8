// Property: random DML, DDL and transactions on a capturing engine, then its log applied to an
// empty database of each engine, reproduces the source's tables exactly (and cross-engine).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyGroup, applyRecords, appliedLsn } from '../../changelog/apply.js';
import type { CapturingEngine, StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { openPglite } from '../../engines/postgres.js';
import type { LogRecord } from '../../rpc/changes.js';
import type { SqlValue } from '../../rpc/values.js';

type Kind = 'libsql' | 'pglite';
const open = (k: Kind): Promise<CapturingEngine> => (k === 'libsql' ? LibsqlEngine.open(':memory:') : openPglite());

/** A capturing source and the log it writes, LSNs assigned in commit order. */
async function source(kind: Kind): Promise<{ db: CapturingEngine; log: LogRecord[] }> {
  const db = await open(kind);
  const log: LogRecord[] = [];
  await db.enableCapture((unit) => {
    if (!('changes' in unit)) throw new Error('libsql and PGlite hand changes over as values');
    const { changes } = unit;
    log.push({ lsn: log.length + 1, ts: Date.now(), txid: `t${log.length + 1}`, changes });
  });
  return { db, log };
}

type Op =
  | {
      k: 'insert';
      id: number;
      name: string;
      qty: number;
      price: string;
      tags: SqlValue;
      flag: boolean | null;
      big: bigint;
      data: Uint8Array;
      at: Date;
      ratio: number;
    }
  | { k: 'update'; id: number; qty: number; name: string }
  | { k: 'move'; id: number; to: number }
  | { k: 'delete'; id: number }
  | { k: 'tx'; ops: Op[]; commit: boolean }
  | { k: 'addColumn' }
  | { k: 'other'; id: number; v: string };

const id = fc.integer({ min: 1, max: 12 });
const simple: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant('insert' as const),
    id,
    name: fc.string({ maxLength: 8 }),
    qty: fc.integer({ min: -5, max: 100 }),
    price: fc.integer({ min: 0, max: 99999 }).map((c) => (c / 100).toString()),
    // JSON of every kind, scalars and a JSON null (not SQL NULL) too, given as JSON text.
    tags: fc.oneof(
      fc.constant(null),
      fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
      fc.record({ a: fc.integer() }),
      fc.oneof(fc.string({ maxLength: 4 }), fc.boolean(), fc.integer(), fc.constant(null)).map((v) => JSON.stringify(v)),
    ),
    flag: fc.option(fc.boolean(), { nil: null }),
    big: fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }),
    data: fc.uint8Array({ maxLength: 6 }),
    at: fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }),
    // Any finite double: SQLite's JSON would keep 15 digits of it (-0 is left out: SQLite stores it as 0).
    ratio: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => d || 0),
  }),
  fc.record({ k: fc.constant('update' as const), id, qty: fc.integer({ min: 0, max: 9 }), name: fc.string({ maxLength: 5 }) }),
  fc.record({ k: fc.constant('move' as const), id, to: fc.integer({ min: 13, max: 40 }) }),
  fc.record({ k: fc.constant('delete' as const), id }),
  fc.constant({ k: 'addColumn' as const }),
  fc.record({ k: fc.constant('other' as const), id, v: fc.string({ maxLength: 5 }) }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: simple },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('tx' as const), ops: fc.array(simple, { maxLength: 4 }), commit: fc.boolean() }) },
);

async function run(db: { query: StorageEngine['query'] }, t: string, o: Op, state: { added: boolean }): Promise<void> {
  const items = `${t}_items`;
  switch (o.k) {
    case 'insert':
      await db.query(
        `INSERT INTO ${items} (id, name, qty, price, tags, flag, big, data, at, ratio) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO UPDATE SET qty = EXCLUDED.qty`,
        [o.id, o.name, o.qty, o.price, o.tags, o.flag, o.big, o.data, o.at, o.ratio],
      );
      return;
    case 'update':
      await db.query(`UPDATE ${items} SET qty = qty + $2, name = $3 WHERE id = $1`, [o.id, o.qty, o.name]);
      return;
    case 'move':
      await db.query(`UPDATE ${items} SET id = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ${items} WHERE id = $2)`, [o.id, o.to]);
      return;
    case 'delete':
      await db.query(`DELETE FROM ${items} WHERE id = $1`, [o.id]);
      return;
    case 'other':
      await db.query(`INSERT INTO ${t}_other (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v`, [o.id, o.v]);
      return;
    case 'addColumn':
      if (state.added) return;
      state.added = true;
      await db.query(`ALTER TABLE ${items} ADD COLUMN note TEXT DEFAULT 'n/a'`);
      return;
    case 'tx':
      return;
  }
}

async function workload(db: StorageEngine, t: string, ops: Op[]): Promise<void> {
  await db.query(
    `CREATE TABLE ${t}_items (id INT PRIMARY KEY, name TEXT, qty INT, price NUMERIC, tags JSONB, flag BOOLEAN, big BIGINT, data BYTEA, at TIMESTAMPTZ, ratio DOUBLE PRECISION)`,
  );
  await db.query(`CREATE TABLE ${t}_other (id INT PRIMARY KEY, v TEXT NOT NULL)`);
  const state = { added: false };
  for (const o of ops) {
    if (o.k !== 'tx') {
      await run(db, t, o, state);
      continue;
    }
    const before = state.added;
    await db
      .transaction(async (tx) => {
        for (const inner of o.ops) await run(tx, t, inner, state);
        if (!o.commit) throw new Error('rollback');
      })
      .catch((e: Error) => {
        if (e.message !== 'rollback') throw e;
        state.added = before;
      });
  }
}

const snapshot = async (db: StorageEngine, t: string) => ({
  // A JSON null reads back as null, as SQL NULL does: tell them apart.
  items: (await db.query(`SELECT *, (tags IS NULL) AS tags_sql_null FROM ${t}_items ORDER BY id`)).rows,
  other: (await db.query(`SELECT * FROM ${t}_other ORDER BY id`)).rows,
});

const pairs: [Kind, Kind][] = [
  ['libsql', 'libsql'],
  ['libsql', 'pglite'],
  ['pglite', 'libsql'],
  ['pglite', 'pglite'],
];

describe.each(pairs)('capture → log → apply: %s source, %s target', (from, to) => {
  let src: { db: CapturingEngine; log: LogRecord[] };
  let dst: StorageEngine;
  /** Applied as a replica DO does: groups of records, runs of upserts joined into multi-row statements. */
  let grouped: StorageEngine;
  let groupedUpTo = 0;
  let n = 0;
  beforeAll(async () => {
    src = await source(from);
    dst = await open(to);
    grouped = await open(to);
    await appliedLsn(grouped);
  }, 60_000);
  afterAll(async () => {
    await src.db.close();
    await dst.close();
    await grouped.close();
  });

  it('reproduces the source tables exactly, record by record and in groups', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 30 }), async (ops, groupSize) => {
        const t = `r${++n}`;
        await workload(src.db, t, ops);
        await applyRecords(dst, src.log);
        const fresh = src.log.slice(groupedUpTo);
        groupedUpTo = src.log.length;
        for (let i = 0; i < fresh.length; i += groupSize) await applyGroup(grouped, fresh.slice(i, i + groupSize));
        const expected = await snapshot(src.db, t);
        expect(await snapshot(dst, t)).toEqual(expected);
        expect(await snapshot(grouped, t)).toEqual(expected);
      }),
      { numRuns: 30 },
    );
  }, 240_000);

  it('applies each record once however often it is delivered, and LSNs have no gaps', async () => {
    const applied = await appliedLsn(dst);
    expect(await applyRecords(dst, [...src.log, ...src.log])).toBe(applied);
    expect(src.log.map((r) => r.lsn)).toEqual(src.log.map((_, i) => i + 1));
  });
});

describe('capture refuses what it cannot replicate', () => {
  it.each(['libsql', 'pglite'] as const)('%s: a table without a primary key, leaving nothing behind', async (kind) => {
    const { db, log } = await source(kind);
    await expect(db.query('CREATE TABLE nokey (a INT, b TEXT)')).rejects.toMatchObject({
      code: 'INVALID',
      message: expect.stringMatching(/nokey.*primary key/),
    });
    await expect(db.query('SELECT * FROM nokey')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(log).toEqual([]);
    await db.close();
  });

  it('libsql: a reserved table name, which would go unreplicated', async () => {
    const { db, log } = await source('libsql');
    await expect(db.query('CREATE TABLE __shadow (id INT PRIMARY KEY)')).rejects.toMatchObject({
      code: 'INVALID',
      message: expect.stringMatching(/"__shadow" is reserved/),
    });
    expect(log).toEqual([]);
    await db.close();
  });

  it.each(['libsql', 'pglite'] as const)('%s: a failed atomic batch leaves no row and no log record', async (kind) => {
    const { db, log } = await source(kind);
    await db.query('CREATE TABLE ab (id INT PRIMARY KEY)');
    const before = log.length;
    await expect(db.batch([{ sql: 'INSERT INTO ab VALUES (1)' }, { sql: 'INSERT INTO ab VALUES (1)' }], { atomic: true })).rejects.toMatchObject({
      code: 'CONSTRAINT',
    });
    expect(log.length).toBe(before);
    expect((await db.query('SELECT count(*) AS n FROM ab')).rows).toEqual([{ n: 0 }]);
    await db.close();
  });

  it.each(['libsql', 'pglite'] as const)('%s: one record per commit, DDL recorded in Postgres dialect', async (kind) => {
    const { db, log } = await source(kind);
    await db.query('CREATE TABLE one (id INT PRIMARY KEY, v TEXT)');
    await db.transaction(async (tx) => {
      await tx.query("INSERT INTO one VALUES (1, 'a'), (2, 'b')");
      await tx.query("UPDATE one SET v = 'c' WHERE id = 2");
      await tx.query('DELETE FROM one WHERE id = 1');
    });
    expect(log).toHaveLength(2);
    expect(log[0]!.changes).toEqual([{ ddl: 'CREATE TABLE one (id INT PRIMARY KEY, v TEXT)' }]);
    expect(log[1]!.changes).toEqual([
      { table: 'one', op: 'insert', key: { id: 1 }, row: { id: 1, v: 'a' } },
      { table: 'one', op: 'insert', key: { id: 2 }, row: { id: 2, v: 'b' } },
      { table: 'one', op: 'update', key: { id: 2 }, row: { id: 2, v: 'c' } },
      { table: 'one', op: 'delete', key: { id: 1 } },
    ]);
    await db.close();
  });
});

describe('pglite capture: what commits is captured, exactly, and nothing else', () => {
  let src: { db: CapturingEngine; log: LogRecord[] };
  beforeAll(async () => {
    src = await source('pglite');
  }, 60_000);
  afterAll(async () => {
    await src.db.close();
  });
  const since = async (fn: () => Promise<unknown>) => {
    const before = src.log.length;
    await fn();
    return src.log.slice(before).map((r) => r.changes);
  };

  it('full row images equal what SELECT returns, for every type and awkward text', async () => {
    await src.db.query(
      `CREATE TABLE img (id BIGINT PRIMARY KEY, n NUMERIC, b BYTEA, j JSONB, js JSON, at TIMESTAMPTZ, ts TIMESTAMP, d DATE, f FLOAT8, ok BOOLEAN, t TEXT, u UUID, arr INT[])`,
    );
    const texts = ['', ' ', 'a,b', '(x)', 'q"uo"te', 'back\\slash', 'new\nline', 'NULL', 'ünï €'];
    const changes = await since(async () => {
      for (const [i, t] of texts.entries()) {
        await src.db.query('INSERT INTO img VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)', [
          2n ** 62n + BigInt(i),
          '12345678901234567890.1250',
          new Uint8Array([0, 92, 34, 255]),
          { a: [1, 'x"y'], t },
          '{"k": 1}',
          new Date('2024-02-29T12:34:56.789Z'),
          new Date('1999-12-31T23:59:59.5Z'),
          '2024-01-02',
          0.1,
          i % 2 === 0,
          t,
          '1b4e28ba-2fa1-11d2-883f-0016433ada5f',
          '{1,2}',
        ]);
      }
      await src.db.query('INSERT INTO img (id) VALUES (-9007199254740993)');
    });
    const rows = (await src.db.query('SELECT * FROM img ORDER BY id')).rows;
    const images = changes.flat().map((c) => ('row' in c ? c.row : undefined));
    // Types the value model does not cover (arrays) stay Postgres text, which any Postgres applies.
    expect(images).toEqual([...rows.slice(1), rows[0]!].map((r) => ({ ...r, arr: r.arr === null ? null : '{1,2}' })));
    expect(changes.every((c) => c.length === 1)).toBe(true);
  });

  it('reads capture nothing; a read that calls a writing function captures its write', async () => {
    await src.db.query('CREATE TABLE fw (id INT PRIMARY KEY)');
    await src.db.query(`CREATE FUNCTION fw_add(i INT) RETURNS INT LANGUAGE sql AS $$ INSERT INTO fw VALUES (i) RETURNING id $$`);
    expect(await since(() => src.db.query('SELECT * FROM fw'))).toEqual([]);
    expect(await since(() => src.db.query('SELECT fw_add(7) AS id'))).toEqual([[{ table: 'fw', op: 'insert', key: { id: 7 }, row: { id: 7 } }]]);
  });

  it('work rolled back by a subtransaction (an EXCEPTION block) is not captured', async () => {
    await src.db.query('CREATE TABLE sx (id INT PRIMARY KEY)');
    await src.db.query(`CREATE FUNCTION sx_try() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO sx VALUES (1);
        BEGIN INSERT INTO sx VALUES (2); INSERT INTO sx VALUES (1); EXCEPTION WHEN unique_violation THEN NULL; END;
      END $$`);
    expect(await since(() => src.db.query('SELECT sx_try()'))).toEqual([[{ table: 'sx', op: 'insert', key: { id: 1 }, row: { id: 1 } }]]);
  });

  it('repeated identical changes in one transaction all count; rows over the NOTIFY limit too', async () => {
    await src.db.query('CREATE TABLE rep (id INT PRIMARY KEY, v TEXT)');
    const big = 'é'.repeat(6000); // 12 KB: past NOTIFY's 8000-byte payload limit
    const changes = await since(() =>
      src.db.transaction(async (tx) => {
        for (let i = 0; i < 2; i++) {
          await tx.query('INSERT INTO rep VALUES (1, $1)', [big]);
          await tx.query('DELETE FROM rep WHERE id = 1');
        }
        await tx.query("INSERT INTO rep VALUES (2, 'x')");
      }),
    );
    const ins = { table: 'rep', op: 'insert', key: { id: 1 }, row: { id: 1, v: big } };
    const del = { table: 'rep', op: 'delete', key: { id: 1 } };
    expect(changes).toEqual([[ins, del, ins, del, { table: 'rep', op: 'insert', key: { id: 2 }, row: { id: 2, v: 'x' } }]]);
  });

  it('rows written before and after a schema change in one transaction decode with their own columns', async () => {
    await src.db.query('CREATE TABLE sc (id INT PRIMARY KEY, gone TEXT, n INT)');
    const changes = await since(() =>
      src.db.transaction(async (tx) => {
        await tx.query("INSERT INTO sc VALUES (1, 'g', 5)");
        await tx.query('ALTER TABLE sc DROP COLUMN gone');
        await tx.query('ALTER TABLE sc ALTER COLUMN n TYPE TEXT');
        await tx.query("INSERT INTO sc VALUES (2, 'six')");
      }),
    );
    expect(changes).toEqual([
      [
        { table: 'sc', op: 'insert', key: { id: 1 }, row: { id: 1, gone: 'g', n: 5 } },
        { ddl: 'ALTER TABLE sc DROP COLUMN gone' },
        { ddl: 'ALTER TABLE sc ALTER COLUMN n TYPE TEXT' },
        { table: 'sc', op: 'insert', key: { id: 2 }, row: { id: 2, n: 'six' } },
      ],
    ]);
  });

  it('prepare returns the changes of the transaction it rolls back and logs nothing; capture goes on', async () => {
    await src.db.query('CREATE TABLE pp (id INT PRIMARY KEY, v TEXT)');
    const before = src.log.length;
    const prepared = await src.db.prepare(async (tx) => {
      await tx.query("INSERT INTO pp VALUES (1, 'a')");
      await tx.query("UPDATE pp SET v = 'b' WHERE id = 1");
    });
    expect(prepared).toEqual([
      { table: 'pp', op: 'insert', key: { id: 1 }, row: { id: 1, v: 'a' } },
      { table: 'pp', op: 'update', key: { id: 1 }, row: { id: 1, v: 'b' } },
    ]);
    expect(src.log.length).toBe(before);
    expect((await src.db.query('SELECT * FROM pp')).rows).toEqual([]);
    expect(await since(() => src.db.query("INSERT INTO pp VALUES (3, 'c')"))).toEqual([
      [{ table: 'pp', op: 'insert', key: { id: 3 }, row: { id: 3, v: 'c' } }],
    ]);
  });

  it('refuses what capture would miss: ending its LISTEN, a keyless table made by CREATE TABLE … AS', async () => {
    await expect(src.db.query('UNLISTEN *')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(src.db.query('DISCARD ALL')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(src.db.query('CREATE TABLE ctas AS SELECT 1 AS id')).rejects.toMatchObject({ code: 'INVALID' });
    expect(await since(() => src.db.query('INSERT INTO fw VALUES (8)'))).toHaveLength(1);
  });
});
