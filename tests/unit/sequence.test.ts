// Global sequences, the pure half: DDL rewriting of sequence columns, INSERTs that draw ids
// (router/planner/sequences.ts), the block cache (router/sequences/sequence-cache.ts), and the rewritten
// statements running on real shards (libSQL × 4) through the planner and executor.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { execute, type ShardCursor } from '../../router/engine/executor.js';
import { explainLines } from '../../router/planner/explain.js';
import type { Generate, Insert, Plan, Route } from '../../router/planner/plan.js';
import { Planner, planQuery } from '../../router/planner/planner.js';
import { MemorySchema } from '../../router/planner/schema.js';
import { bindDrawn } from '../../router/planner/sequences.js';
import { SequenceCache, type BlockSource } from '../../router/sequences/sequence-cache.js';
import { parseVSchema } from '../../router/vschema.js';
import { equalRanges, shardFor } from '../../rpc/keyspace/keyrange.js';
import { keyspaceIdFor } from '../../router/vindex/vindex.js';
import type { SqlValue } from '../../rpc/values.js';
import { VitessError, type ErrorCode } from '../../rpc/errors.js';

const vschema = parseVSchema({
  keyspaces: [
    { name: 'main', engine: 'sqlite', shards: 4, tables: { things: { vindex: { type: 'hash', column: 'id' } }, countries: { type: 'reference' } } },
    { name: 'pg', engine: 'pglite', shards: 2 },
    { name: 'one', engine: 'sqlite', shards: 1 },
  ],
});
const plan = (sql: string, keyspace = 'main', schema = new MemorySchema()): Plan => planQuery(sql, { vschema, keyspace, schema });
function expectVitessError(fn: () => unknown, code: ErrorCode, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(VitessError);
  expect((err as VitessError).code, (err as VitessError).message).toBe(code);
  expect((err as VitessError).message).toMatch(message);
}
const routeSql = (p: Plan) => (p.root.op === 'Sequence' ? (p.root.steps[0] as Route) : (p.root as Route)).sql;
/** The plan's Generate (an INSERT that draws ids), or undefined. */
const generateOf = (p: Plan): Generate | undefined => (p.root.op === 'Generate' ? p.root : undefined);

/** A sequence DO in memory: the counter is all the cache needs. */
function counter(): BlockSource & { calls: number[] } {
  const next = new Map<string, number>();
  const calls: number[] = [];
  return {
    calls,
    async allocate(sequence, count) {
      calls.push(count);
      await new Promise((r) => setTimeout(r, 1));
      const first = next.get(sequence) ?? 1;
      next.set(sequence, first + count);
      return { first, count };
    },
  };
}

describe('CREATE TABLE in a sharded keyspace', () => {
  test('SERIAL types become plain integers on the shards, drawing from <table>_<column>_seq', () => {
    const p = plan("CREATE TABLE things (id BIGSERIAL PRIMARY KEY, n serial, s SMALLSERIAL NOT NULL, name text DEFAULT 'x')");
    expect(routeSql(p)).toBe("CREATE TABLE things (id bigint PRIMARY KEY, n integer NOT NULL, s smallint NOT NULL, name text DEFAULT 'x')");
    expect(p.schemaChange).toEqual({
      kind: 'create',
      table: 'things',
      primaryKey: ['id'],
      columns: [
        { name: 'id', type: 'bigint', sequence: 'things_id_seq' },
        { name: 'n', type: 'integer', sequence: 'things_n_seq' },
        { name: 's', type: 'smallint', sequence: 'things_s_seq' },
        { name: 'name', type: 'text' },
      ],
    });
    expect(p.sequences).toBeUndefined(); // a SERIAL's own sequence needs nothing before
  });

  test("DEFAULT nextval('s') is dropped on the shards; the sequence must exist before", () => {
    const p = plan("CREATE TABLE orders (id bigint DEFAULT nextval('order_ids'::regclass) PRIMARY KEY, ref int DEFAULT nextval('\"Refs\"'), note text)", 'pg');
    expect(routeSql(p)).toBe('CREATE TABLE orders (id bigint  PRIMARY KEY, ref int , note text)');
    expect(p.sequences).toEqual({ need: ['order_ids', 'Refs'] });
    expect(p.schemaChange).toMatchObject({ columns: [{ name: 'id', sequence: 'order_ids' }, { name: 'ref', sequence: 'Refs' }, { name: 'note' }] });
  });

  test("reference tables of a sharded keyspace too (their copies must agree); unsharded keyspaces keep the engine's SERIAL", () => {
    expect(routeSql(plan('CREATE TABLE countries (id serial PRIMARY KEY, name text)'))).toBe('CREATE TABLE countries (id integer PRIMARY KEY, name text)');
    const one = plan('CREATE TABLE t (id serial PRIMARY KEY, name text)', 'one');
    expect(routeSql(one)).toBe('CREATE TABLE t (id serial PRIMARY KEY, name text)');
    expect(one.schemaChange).toMatchObject({ columns: [{ name: 'id', type: 'serial' }, { name: 'name' }] });
  });

  test('conflicting declarations are refused, naming the column', () => {
    expectVitessError(() => plan('CREATE TABLE t (id serial PRIMARY KEY DEFAULT 5)'), 'INVALID', /column "id" of table "t" is SERIAL and has a DEFAULT too/);
    expectVitessError(
      () => plan("CREATE TABLE t (id int PRIMARY KEY, code text DEFAULT nextval('s'))"),
      'INVALID',
      /column "code" of table "t" takes its DEFAULT from a sequence but is declared text/,
    );
    expectVitessError(
      () => plan("CREATE TABLE t (id int PRIMARY KEY DEFAULT nextval('s') + 1)"),
      'UNSUPPORTED',
      /column "id" of table "t": a DEFAULT may use nextval\(\) only as the whole default/,
    );
    expectVitessError(
      () => plan('CREATE TABLE t (id int PRIMARY KEY DEFAULT nextval(name))'),
      'UNSUPPORTED',
      /nextval\(\) takes the sequence name as a string literal/,
    );
    expectVitessError(
      () => plan('ALTER TABLE things ADD COLUMN seq bigserial'),
      'UNSUPPORTED',
      /ALTER TABLE things ADD COLUMN seq: a sequence column .* cannot be added/,
    );
  });

  test('CREATE SEQUENCE defines a global sequence and touches no shard', async () => {
    const p = plan('CREATE SEQUENCE IF NOT EXISTS order_ids START WITH 1000');
    expect(p.sequences).toEqual({ define: { name: 'order_ids', start: 1000, ifNotExists: true } });
    const touched: string[] = [];
    await execute(p, [], {
      execute: async (_ks, shard) => {
        touched.push(shard);
        return { rows: [], fields: [], affected: 0 };
      },
    });
    expect(touched).toEqual([]);
    expectVitessError(() => plan('CREATE SEQUENCE s INCREMENT BY 2'), 'UNSUPPORTED', /CREATE SEQUENCE s: option incrementBy is not supported/);
    expectVitessError(() => plan('CREATE SEQUENCE s', 'one'), 'UNSUPPORTED', /keyspace "one" is unsharded/);
  });
});

describe('INSERT drawing ids', () => {
  const schema = new MemorySchema({
    things: {
      primaryKey: ['id'],
      columns: [
        { name: 'id', type: 'bigint', sequence: 'things_id_seq' },
        { name: 'name', type: 'text' },
        { name: 'n', type: 'int' },
      ],
    },
    countries: {
      primaryKey: ['id'],
      columns: [
        { name: 'id', type: 'integer', sequence: 'countries_id_seq' },
        { name: 'name', type: 'text' },
      ],
    },
  });
  const insert = (sql: string) => plan(sql, 'main', schema);

  test("a column left out is added as parameters after the statement's own, one id per row, routed by it", () => {
    const p = insert('INSERT INTO things (name, n) VALUES ($1, $2), ($3, 7)');
    expect(p.sequences).toBeUndefined();
    expect(generateOf(p)!.draw).toEqual({ first: 3, from: ['things_id_seq', 'things_id_seq'], lastInsertId: false });
    const root = generateOf(p)!.input as Insert;
    expect(root.op).toBe('Insert');
    expect(root.head).toMatch(/INSERT INTO things +\(name, n, id\) VALUES/);
    expect(root.rows.map((r) => r.key)).toEqual([{ param: 3 }, { param: 4 }]);
    expect(bindDrawn(['a', 1, 'b', 'extra'], generateOf(p)!.draw, [10, 11])).toEqual(['a', 1, 'b', 10, 11]);
    expect(explainLines(insert('EXPLAIN INSERT INTO things (name, n) VALUES ($1, $2), ($3, 7)')).slice(0, 2)).toEqual([
      'multi-shard insert on keyspace main',
      'Draw $4…$5 from global sequences: things_id_seq ×2',
    ]);
    expectVitessError(() => bindDrawn(['a'], generateOf(p)!.draw, [10, 11]), 'INVALID', /no value bound for parameter \$2/);
  });

  test("DEFAULT draws; an explicit value is kept; no column list means the table's columns", () => {
    const p = insert("INSERT INTO things (id, name) VALUES (DEFAULT, 'a'), (42, 'b')");
    expect(generateOf(p)!.draw).toEqual({ first: 0, from: ['things_id_seq'], lastInsertId: false });
    expect((generateOf(p)!.input as Insert).rows.map((r) => r.key)).toEqual([{ param: 0 }, { literal: 42 }]);
    expect(insert("INSERT INTO things (id, name) VALUES (5, 'a')").root.op).toBe('Insert');
    const bare = insert("INSERT INTO things VALUES (DEFAULT, 'a', 1)");
    expect(generateOf(bare)!.draw).toEqual({ first: 0, from: ['things_id_seq'], lastInsertId: true });
    const short = insert('INSERT INTO things VALUES (DEFAULT)');
    expect((generateOf(short)!.input as Insert).head).toMatch(/\(id\)/);
  });

  test("nextval('s') in VALUES draws from s; reference tables get the same id in every copy", () => {
    const p = insert("INSERT INTO things (id, name, n) VALUES ($1, 'a', nextval('other'))");
    expect(generateOf(p)!.draw).toEqual({ first: 1, from: ['other'], lastInsertId: true });
    const ref = insert("INSERT INTO countries (name) VALUES ('Chile')");
    expect(ref.kind).toBe('reference');
    expect((generateOf(ref)!.input as Route).sql).toMatch(/^INSERT INTO countries +\(name, id\) VALUES \(\('Chile'\), \(\$1\)\)$/);
    expect((generateOf(ref)!.input as Route).params).toEqual([{ param: 0 }]);
  });

  test('INSERT … SELECT without the sequence column is refused, naming it', () => {
    expectVitessError(() => insert('INSERT INTO countries (name) SELECT name FROM countries'), 'UNSUPPORTED', /sequence column "id"/);
  });

  test('the plan is cached per statement; DDL that changes the table drops it', () => {
    const planner = new Planner(vschema, new MemorySchema());
    planner.applied(planner.plan('CREATE TABLE things (id bigint PRIMARY KEY, n bigserial)', 'main'));
    const a = planner.plan('INSERT INTO things (id) VALUES ($1)', 'main');
    expect(generateOf(a)!.draw.from).toEqual(['things_n_seq']);
    expect(planner.plan('INSERT INTO things (id) VALUES ($1)', 'main')).toBe(a);
    planner.applied(planner.plan('ALTER TABLE things RENAME COLUMN n TO number', 'main'));
    expect(planner.schema.columns('things')![1]).toEqual({ name: 'number', type: 'bigint', sequence: 'things_n_seq' });
    expect((generateOf(planner.plan('INSERT INTO things (id) VALUES ($1)', 'main'))!.input as Insert).head).toMatch(/\(id, number\)/);
  });
});

describe('SequenceCache', () => {
  test('concurrent callers never share an id; one fetch serves many; the next block is fetched ahead', async () => {
    const source = counter();
    const cache = new SequenceCache(undefined, 100);
    const got = await Promise.all(Array.from({ length: 60 }, (_, i) => cache.take(source, 's', 1 + (i % 3))));
    const ids = got.flat();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(120);
    expect(source.calls.length).toBeLessThanOrEqual(3);
    // Below half a block left: a fetch ahead has started; a later caller finds ids cached.
    await new Promise((r) => setTimeout(r, 20));
    expect(cache.cachedIds('s')).toBeGreaterThanOrEqual(50);
    const calls = source.calls.length;
    await cache.take(source, 's', 10);
    expect(source.calls.length).toBe(calls);
  });

  test('a request larger than a block is served whole, in ascending order', async () => {
    const source = counter();
    const cache = new SequenceCache(undefined, 10);
    const ids = await cache.take(source, 's', 35);
    expect(ids).toEqual(Array.from({ length: 35 }, (_, i) => i + 1));
  });

  test('a failed fetch fails its callers, and the next call fetches again', async () => {
    let fail = true;
    const source: BlockSource = {
      allocate: async (_s, count) => {
        if (fail) throw new Error('sequence DO unreachable');
        return { first: 1, count };
      },
    };
    const cache = new SequenceCache(undefined, 10);
    await expect(cache.take(source, 's', 1)).rejects.toThrow(/unreachable/);
    fail = false;
    expect(await cache.take(source, 's', 2)).toEqual([1, 2]);
  });
});

describe('on real shards: libSQL × 4 (PGlite shards: tests/e2e/sequence.test.ts)', () => {
  const shards = new Map<string, StorageEngine>();
  const cursor: ShardCursor = { execute: (_ks, shard, sql, params) => shards.get(shard)!.query(sql, params) };

  beforeAll(async () => {
    for (const s of equalRanges(4)) shards.set(s, await LibsqlEngine.open(':memory:'));
  });
  afterAll(async () => {
    for (const e of shards.values()) await e.close();
  });

  test("ids are unique across shards, explicit ids kept, DEFAULT and omission draw, each row on its id's shard", async () => {
    const planner = new Planner(vschema);
    const source = counter();
    const cache = new SequenceCache(undefined, 7);
    // The plan's Generate draws through the cursor, as VTGate's does from its block cache.
    const drawing: ShardCursor = { ...cursor, drawIds: (_ks, sequence, count) => cache.take(source, sequence, count) };
    const run = async (sql: string, params: SqlValue[] = []) => {
      const p = planner.plan(sql, 'main');
      const r = await execute(p, params, drawing);
      planner.applied(p);
      return r;
    };
    await run('CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name text NOT NULL, n SERIAL)');
    await Promise.all(
      Array.from({ length: 5 }, (_, c) =>
        run(
          `INSERT INTO items (name) VALUES ${Array.from({ length: 20 }, (_, i) => `($${i + 1})`).join(', ')}`,
          Array.from({ length: 20 }, (_, i) => `c${c}-${i}`),
        ),
      ),
    );
    await run("INSERT INTO items (id, name, n) VALUES (1000000, 'explicit', DEFAULT)");
    const rows = (await run('SELECT id, n FROM items')).rows;
    const ids = rows.map((r) => Number(r.id));
    expect(rows.length).toBe(101);
    expect(new Set(ids).size).toBe(101);
    expect(new Set(rows.map((r) => Number(r.n))).size).toBe(101);
    expect(ids).toContain(1000000);
    for (const [shard, engine] of shards) {
      const here = (await engine.query('SELECT id FROM items', [])).rows.map((r) => r.id ?? null);
      expect(here.length).toBeGreaterThan(0);
      for (const id of here) expect(shardFor(keyspaceIdFor({ type: 'hash', column: 'id' }, id)!, [...shards.keys()])).toBe(shard);
    }
  });
});
