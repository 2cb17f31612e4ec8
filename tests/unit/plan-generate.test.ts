// The Generate primitive (router/engine/generate.ts): an INSERT that fills columns from global
// sequences draws its ids through the cursor (`ShardCursor.drawIds`), binds each to its own
// parameter, and only then is routed. Run by the executor on real shards (libSQL × 4), with a
// sequence source that counts what it is asked for and numbers each sequence from its own base.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { execute, type ShardCursor } from '../../router/engine/executor.js';
import type { Plan } from '../../router/planner/plan.js';
import { planQuery } from '../../router/planner/planner.js';
import { MemorySchema } from '../../router/planner/schema.js';
import { keyspaceIdFor } from '../../router/vindex/vindex.js';
import { parseVSchema } from '../../router/vschema.js';
import { VitessError } from '../../rpc/errors.js';
import { equalRanges, shardFor } from '../../rpc/keyspace/keyrange.js';
import type { Row } from '../../rpc/results.js';

const vschema = parseVSchema({
  keyspaces: [{ name: 'main', engine: 'sqlite', shards: 4, tables: { things: { vindex: { type: 'hash', column: 'id' } }, countries: { type: 'reference' } } }],
});
const SHARDS = equalRanges(4);
const schema = new MemorySchema({
  things: {
    primaryKey: ['id'],
    columns: [
      { name: 'id', type: 'bigint', sequence: 'things_id_seq' },
      { name: 'name', type: 'text' },
      { name: 'm', type: 'bigint' },
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
const plan = (sql: string): Plan => planQuery(sql, { vschema, keyspace: 'main', schema });

/** Each sequence numbers from its own base, so an id bound to the wrong column shows. */
const BASE: Record<string, number> = { things_id_seq: 100, countries_id_seq: 500, other: 9000 };

const shards = new Map<string, StorageEngine>();
let draws: { keyspace: string; sequence: string; count: number }[] = [];
let next: Map<string, number>;
const run = (shard: string, sql: string) => shards.get(shard)!.query(sql, []);
const cursor: ShardCursor = {
  execute: (_ks, shard, sql, params) => shards.get(shard)!.query(sql, params),
  async drawIds(keyspace, sequence, count) {
    draws.push({ keyspace, sequence, count });
    const first = next.get(sequence) ?? BASE[sequence]!;
    next.set(sequence, first + count);
    return Array.from({ length: count }, (_, i) => first + i);
  },
};
/** Every shard's rows of `table`, with the shard each is on. */
const everywhere = async (table: string): Promise<(Row & { shard: string })[]> =>
  (await Promise.all(SHARDS.map(async (shard) => (await run(shard, `SELECT * FROM ${table} ORDER BY id`)).rows.map((r) => ({ ...r, shard }))))).flat();

beforeAll(async () => {
  for (const s of SHARDS) {
    const e = await LibsqlEngine.open(':memory:');
    await e.query('CREATE TABLE things (id bigint PRIMARY KEY, name text, m bigint)', []);
    await e.query('CREATE TABLE countries (id integer PRIMARY KEY, name text)', []);
    shards.set(s, e);
  }
});
afterAll(async () => {
  for (const e of shards.values()) await e.close();
});

describe('Generate', () => {
  test('draws once per sequence, as many ids as the rows need, and binds each id to its own row and column', async () => {
    draws = [];
    next = new Map();
    const p = plan("INSERT INTO things (name, m) VALUES ($1, nextval('other')), ($2, 5), ($3, nextval('other'))");
    expect(p.root.op).toBe('Generate');
    const r = await execute(p, ['a', 'b', 'c'], cursor);
    expect(r.affected).toBe(3);
    expect(r.lastInsertId).toBeUndefined(); // several rows: RETURNING id says which is which
    expect(draws.sort((x, y) => x.sequence.localeCompare(y.sequence))).toEqual([
      { keyspace: 'main', sequence: 'other', count: 2 },
      { keyspace: 'main', sequence: 'things_id_seq', count: 3 },
    ]);
    const rows = await everywhere('things');
    expect(rows.map(({ id, name, m }) => ({ id, name, m })).sort((x, y) => Number(x.id) - Number(y.id))).toEqual([
      { id: 100, name: 'a', m: 9000 },
      { id: 101, name: 'b', m: 5 },
      { id: 102, name: 'c', m: 9001 },
    ]);
    // Routed by the drawn id: each row is on the shard its id hashes to.
    for (const row of rows) expect(row.shard).toBe(shardFor(keyspaceIdFor({ type: 'hash', column: 'id' }, row.id!)!, SHARDS));
  });

  test("lastInsertId: a one-row INSERT's first drawn id, only when a row was inserted", async () => {
    draws = [];
    next = new Map([['things_id_seq', 200]]);
    // DEFAULT in its place comes before a column left out: the first id is `other`'s.
    const one = await execute(plan("INSERT INTO things (name, m) VALUES ('one', nextval('other'))"), [], cursor);
    expect(one).toMatchObject({ affected: 1, lastInsertId: 9000 });
    const byDefault = await execute(plan("INSERT INTO things (id, name) VALUES (DEFAULT, 'two')"), [], cursor);
    expect(byDefault).toMatchObject({ affected: 1, lastInsertId: 201 });
    // Drew an id, inserted nothing: no lastInsertId (the id is skipped).
    const none = await execute(plan("INSERT INTO things (id, name, m) VALUES ($1, 'dup', nextval('other')) ON CONFLICT DO NOTHING"), [200], cursor);
    expect(none.affected).toBe(0);
    expect(none.lastInsertId).toBeUndefined();
    expect(draws.map((d) => `${d.sequence} ×${d.count}`)).toEqual(['other ×1', 'things_id_seq ×1', 'things_id_seq ×1', 'other ×1']);
    // Nothing drawn: no Generate, no lastInsertId.
    const explicit = plan("INSERT INTO things (id, name) VALUES (300, 'explicit')");
    expect(explicit.root.op).toBe('Insert');
    expect((await execute(explicit, [], cursor)).lastInsertId).toBeUndefined();
  });

  test("a reference table's copies all get the same drawn id", async () => {
    draws = [];
    next = new Map();
    const r = await execute(plan('INSERT INTO countries (name) VALUES ($1)'), ['Chile'], cursor);
    expect(r).toMatchObject({ affected: 1, lastInsertId: 500 });
    expect(draws).toEqual([{ keyspace: 'main', sequence: 'countries_id_seq', count: 1 }]);
    const copies = await everywhere('countries');
    expect(copies.map(({ id, name, shard }) => ({ id, name, shard }))).toEqual(SHARDS.map((shard) => ({ id: 500, name: 'Chile', shard })));
  });

  test('a missing parameter, a cursor without a sequence source, a source short of ids: an error, and no row written', async () => {
    const before = (await everywhere('things')).length;
    next = new Map();
    const p = plan('INSERT INTO things (name, m) VALUES ($1, $2)');
    await expect(execute(p, ['x'], cursor)).rejects.toThrow(/no value bound for parameter \$2/);
    const { drawIds: _, ...plain } = cursor;
    const err = await execute(p, ['x', 1], plain).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VitessError);
    expect((err as VitessError).message).toMatch(
      /draws ids from global sequences \(things_id_seq\) of keyspace "main", and it runs on a cursor without a sequence source/,
    );
    const short: ShardCursor = { execute: cursor.execute, drawIds: async () => [1] };
    await expect(execute(plan('INSERT INTO things (name) VALUES ($1), ($2)'), ['x', 'y'], short)).rejects.toThrow(
      /sequence "things_id_seq" handed out fewer ids than the INSERT asked for/,
    );
    expect((await everywhere('things')).length).toBe(before);
  });

  test('EXPLAIN shows the draw, then the INSERT it feeds', async () => {
    const r = await execute(plan('EXPLAIN INSERT INTO things (name) VALUES ($1), ($2)'), [], cursor);
    expect(r.rows.map((x) => x['QUERY PLAN'])).toEqual([
      'multi-shard insert on keyspace main',
      'Draw $3…$4 from global sequences: things_id_seq ×2',
      'Insert into things split by row → shard of hash(id) = $3 | $4',
      '  INSERT INTO things  (name, id) VALUES (($1), ($3)), (($2), ($4))',
    ]);
  });
});
