import { describe, expect, test } from 'vitest';
import type { ResultSet, Row } from '../../rpc/results.js';
import type { Field, SqlValue } from '../../rpc/values.js';
import { divDec, decToString, toDec } from '../../rpc/decimal.js';
import { execute, type ShardCursor } from '../../router/engine/executor.js';
import type { Plan } from '../../router/planner/plan.js';
import { planQuery } from '../../router/planner/planner.js';
import { MemorySchema } from '../../router/planner/schema.js';
import { shardFor } from '../../rpc/keyspace/keyrange.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { parseVSchema } from '../../router/vschema.js';

const vschema = parseVSchema({
  keyspaces: [
    {
      name: 'main',
      engine: 'sqlite',
      shards: 4,
      tables: { users: { vindex: { type: 'hash', column: 'id' }, lookups: [{ column: 'email' }] }, countries: { type: 'reference' } },
    },
  ],
});
const SHARDS = vschema.keyspaces[0]!.shards;
const schema = new MemorySchema({
  t: {
    primaryKey: ['id'],
    columns: [
      { name: 'id', type: 'int' },
      { name: 'a', type: 'int' },
      { name: 'b', type: 'text' },
    ],
  },
});
const plan = (sql: string): Plan => planQuery(sql, { vschema, keyspace: 'main', schema });

interface Call {
  shard: string;
  sql: string;
  params: SqlValue[];
}

/** A cursor that answers from per-shard canned results and records every call. */
function fake(answer: (c: Call) => Partial<ResultSet> = () => ({})) {
  const calls: Call[] = [];
  const cursor: ShardCursor = {
    async execute(_ks, shard, sql, params) {
      const c = { shard, sql, params };
      calls.push(c);
      return { rows: [], fields: [], affected: 0, ...answer(c) };
    },
  };
  return { calls, cursor };
}

const f = (name: string, type: Field['type']): Field => ({ name, type });

describe('combining partial aggregates exactly', () => {
  test('int8 sums and counts stay exact as bigint; numeric sums are exact decimals', async () => {
    const big = 2n ** 62n;
    const { cursor } = fake(() => ({
      fields: [f('__vt_a0', 'int8'), f('__vt_a1', 'int8'), f('__vt_a2', 'numeric')],
      rows: [{ __vt_a0: 1, __vt_a1: big, __vt_a2: '0.1' }],
    }));
    const r = await execute(plan('SELECT count(*), sum(a) AS s, sum(n) AS sn FROM t'), [], cursor);
    expect(r.rows).toEqual([{ count: 4, s: 4n * big, sn: '0.4' }]);
    expect(r.fields).toEqual([f('count', 'int8'), f('s', 'int8'), f('sn', 'numeric')]);
  });

  test('AVG = SUM / COUNT with Postgres numeric rounding; NULL when nothing is counted', async () => {
    const sums: Record<string, [SqlValue, SqlValue]> = { '-40': [1, 1], '40-80': [2, 1], '80-c0': [2, 1], 'c0-': [null, 0] };
    const { cursor } = fake((c) => ({
      fields: [f('__vt_a0', 'int8'), f('__vt_a1', 'int8')],
      rows: [{ __vt_a0: sums[c.shard]![0], __vt_a1: sums[c.shard]![1] }],
    }));
    const r = await execute(plan('SELECT avg(a) FROM t'), [], cursor);
    expect(r.rows).toEqual([{ avg: '1.6666666666666667' }]);
    expect(r.fields).toEqual([f('avg', 'numeric')]);
    const none = fake(() => ({ fields: [f('__vt_a0', 'int8'), f('__vt_a1', 'int8')], rows: [{ __vt_a0: null, __vt_a1: 0 }] }));
    expect((await execute(plan('SELECT avg(a) FROM t'), [], none.cursor)).rows).toEqual([{ avg: null }]);
  });

  test('numeric division matches Postgres scale rules', () => {
    const div = (a: string, b: string) => decToString(divDec(toDec(a)!, toDec(b)!));
    expect(div('1', '3')).toBe('0.33333333333333333333');
    expect(div('5', '3')).toBe('1.6666666666666667');
    expect(div('2', '3')).toBe('0.66666666666666666667');
    expect(div('10', '4')).toBe('2.5');
    expect(div('-7', '2')).toBe('-3.5');
    // Values checked against PGlite's numeric division.
    expect(div('123456789012345678', '7')).toBe('17636684144620811');
    expect(div('0.00001', '3')).toBe('0.000003333333333333333333');
    expect(div('99999', '7')).toBe('14285.571428571429');
    expect(div('10000', '3')).toBe('3333.3333333333333333');
    expect(div('20000000000000000000001', '3')).toBe('6666666666666666666667');
  });

  test('groups from different shards merge; HAVING uses three-valued logic', async () => {
    const rows: Record<string, Record<string, SqlValue>[]> = {
      '-40': [
        { __vt_g0: 'x', __vt_a1: 2 },
        { __vt_g0: null, __vt_a1: 1 },
      ],
      '40-80': [
        { __vt_g0: 'x', __vt_a1: 1 },
        { __vt_g0: 'y', __vt_a1: 1 },
      ],
      '80-c0': [{ __vt_g0: null, __vt_a1: 5 }],
      'c0-': [],
    };
    const { cursor } = fake((c) => ({ fields: [f('__vt_g0', 'text'), f('__vt_a1', 'int8')], rows: rows[c.shard]! }));
    const r = await execute(plan('SELECT b, count(*) AS n FROM t GROUP BY b HAVING count(*) > $1 ORDER BY n DESC'), [1], cursor);
    expect(r.rows).toEqual([
      { b: null, n: 6 },
      { b: 'x', n: 3 },
    ]);
  });
});

describe('merge order', () => {
  test('ORDER BY merges shard streams with Postgres NULL placement and code-point text order', async () => {
    const data: Record<string, SqlValue[]> = { '-40': ['B', 'é', null], '40-80': ['a', 'ab'], '80-c0': [null], 'c0-': ['', '😀'] };
    const { cursor } = fake((c) => {
      const desc = /DESC/.test(c.sql);
      const vals = [...data[c.shard]!].sort((x, y) => (x === null ? 1 : y === null ? -1 : x < y ? -1 : 1));
      return { fields: [f('b', 'text'), f('__vt_o0', 'text')], rows: (desc ? vals.reverse() : vals).map((v) => ({ b: v, __vt_o0: v })) };
    });
    expect((await execute(plan('SELECT b FROM t ORDER BY b'), [], cursor)).rows.map((r) => r.b)).toEqual(['', 'B', 'a', 'ab', 'é', '😀', null, null]);
    expect((await execute(plan('SELECT b FROM t ORDER BY b DESC'), [], cursor)).rows.map((r) => r.b)).toEqual([null, null, '😀', 'é', 'ab', 'a', 'B', '']);
  });

  test('LIMIT and OFFSET apply after the merge; shards get limit + offset', async () => {
    const { calls, cursor } = fake((c) => ({
      fields: [f('a', 'int4'), f('__vt_o0', 'int4')],
      rows: [1, 2, 3].map((i) => ({ a: i * 10 + SHARDS.indexOf(c.shard), __vt_o0: i * 10 + SHARDS.indexOf(c.shard) })),
    }));
    const r = await execute(plan('SELECT a FROM t ORDER BY a LIMIT $1 OFFSET $2'), [3, 2], cursor);
    expect(r.rows).toEqual([{ a: 12 }, { a: 13 }, { a: 20 }]);
    expect(calls.every((c) => c.params.length === 1 && c.params[0] === 5)).toBe(true);
  });
});

describe('writes', () => {
  test('a multi-row INSERT is split by shard and chunked under 100 parameters, renumbered', async () => {
    const { calls, cursor } = fake((c) => ({ affected: (c.sql.match(/\),|\)$/g) ?? []).length }));
    const ids = Array.from({ length: 180 }, (_, i) => i + 1);
    const values = ids.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ');
    const params = ids.flatMap((id) => [id, `n${id}`]);
    await execute(plan(`INSERT INTO t (id, b) VALUES ${values}`), params, cursor);
    for (const c of calls) {
      expect(c.params.length).toBeLessThanOrEqual(100);
      const used = [...c.sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
      expect(Math.max(...used)).toBe(c.params.length);
      // Every row sent to a shard belongs there.
      for (let i = 0; i < c.params.length; i += 2) expect(shardFor(hashId(c.params[i]!)!, SHARDS)).toBe(c.shard);
    }
    expect(calls.flatMap((c) => c.params.filter((_, i) => i % 2 === 0)).sort((a, b) => Number(a) - Number(b))).toEqual(ids);
    expect(calls.length).toBeGreaterThan(4); // some shard got more than 50 rows
  });

  test('RETURNING rows of a split INSERT come back in VALUES order, whatever order the shards return them in', async () => {
    const ids = [5, 1, 8, 3, 2, 7, 4, 6, 11, 9];
    const values = ids.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ');
    const params = ids.flatMap((id) => [id, `n${id}`]);
    const existing = new Set([8, 2, 9]);
    /** A shard's answer: the rows it was sent (less those already there), in reverse when `reverse`. */
    const answer = (opts: { skip: boolean; reverse: boolean; key: boolean }) => (c: Call) => {
      const sent = c.params.filter((_, i) => i % 2 === 0) as number[];
      const rows = sent.filter((id) => !(opts.skip && existing.has(id))).map((id): Row => (opts.key ? { b: `n${id}`, id } : { b: `n${id}` }));
      if (opts.reverse) rows.reverse();
      return { rows, fields: opts.key ? [f('b', 'text'), f('id', 'int4')] : [f('b', 'text')], affected: rows.length };
    };
    const kept = ids.filter((id) => !existing.has(id));
    const run = async (tail: string, opts: Parameters<typeof answer>[0]) => {
      const { calls, cursor } = fake(answer(opts));
      const r = await execute(plan(`INSERT INTO t (id, b) VALUES ${values}${tail}`), params, cursor);
      expect(new Set(calls.map((c) => c.shard)).size).toBeGreaterThan(1);
      return r;
    };
    // With the vindex column in RETURNING: exact, also in any order and with rows skipped.
    expect((await run(' RETURNING b, id', { skip: false, reverse: true, key: true })).rows.map((r) => r.id)).toEqual(ids);
    const skipped = await run(' ON CONFLICT (id) DO NOTHING RETURNING b, id', { skip: true, reverse: true, key: true });
    expect(skipped.rows.map((r) => r.id)).toEqual(kept);
    expect(skipped.affected).toBe(kept.length);
    // Without it: by place among the rows each shard was sent.
    expect((await run(' RETURNING b', { skip: false, reverse: false, key: false })).rows.map((r) => r.b)).toEqual(ids.map((id) => `n${id}`));
    // Rows skipped and no vindex column: each shard's rows keep their order (docs/routing.md).
    const loose = (await run(' ON CONFLICT (id) DO NOTHING RETURNING b', { skip: true, reverse: false, key: false })).rows.map((r) =>
      Number(String(r.b).slice(1)),
    );
    expect([...loose].sort((a, b) => a - b)).toEqual([...kept].sort((a, b) => a - b));
    for (const shard of SHARDS) {
      const mine = (id: number) => shardFor(hashId(id)!, SHARDS) === shard;
      expect(loose.filter(mine)).toEqual(kept.filter(mine));
    }
  });

  test('INSERT writes lookup entries first, to the shard of hash(value)', async () => {
    const { calls, cursor } = fake();
    await execute(plan('INSERT INTO users (id, email) VALUES ($1, $2), (2, NULL)'), [1, 'a@x'], cursor);
    expect(calls[0]).toEqual({
      shard: shardFor(hashId('a@x')!, SHARDS),
      sql: 'INSERT INTO users_email_lookup (value, keyspace_id, refs) VALUES ($1, $2, $3) ON CONFLICT (value, keyspace_id) DO UPDATE SET refs = users_email_lookup.refs + EXCLUDED.refs',
      params: ['a@x', hashId(1), 1],
    });
    expect(calls.slice(1).every((c) => c.sql.startsWith('INSERT INTO users '))).toBe(true);
  });

  test('a NULL vindex value is refused before anything is written', async () => {
    const { calls, cursor } = fake();
    await expect(execute(plan('INSERT INTO t (id, b) VALUES (1, $1), ($2, $1)'), ['x', null], cursor)).rejects.toThrow(/row 2 .* vindex column "id" is NULL/);
    expect(calls).toEqual([]);
  });

  test("reference writes reach every copy; the result is one copy's", async () => {
    const { calls, cursor } = fake(() => ({ affected: 2 }));
    const r = await execute(plan("UPDATE countries SET name = 'x'"), [], cursor);
    expect(calls.map((c) => c.shard)).toEqual(SHARDS);
    expect(r.affected).toBe(2);
  });

  test('DELETE of rows with lookup entries deletes the entries and hides the helper columns', async () => {
    const { calls, cursor } = fake((c) =>
      c.sql.startsWith('DELETE FROM users ') ? { affected: 1, fields: [f('__vt_k', 'int4'), f('__vt_l0', 'text')], rows: [{ __vt_k: 7, __vt_l0: 'g@x' }] } : {},
    );
    const r = await execute(plan('DELETE FROM users WHERE id = $1'), [7], cursor);
    expect(r).toEqual({ rows: [], fields: [], affected: 1 });
    const shard = shardFor(hashId('g@x')!, SHARDS);
    expect(calls.slice(1)).toEqual([
      {
        shard,
        sql: 'UPDATE users_email_lookup SET refs = refs - CASE WHEN (value = $1 AND keyspace_id = $2) THEN $3 ELSE 0 END WHERE (value = $1 AND keyspace_id = $2)',
        params: ['g@x', hashId(7), 1],
      },
      { shard, sql: 'DELETE FROM users_email_lookup WHERE refs <= 0 AND ((value = $1 AND keyspace_id = $2))', params: ['g@x', hashId(7)] },
    ]);
  });
});

describe('routing at execution', () => {
  test('parameters pick the shards; a missing parameter is an error', async () => {
    const { calls, cursor } = fake();
    await execute(plan('SELECT * FROM t WHERE id IN ($1, $2)'), [1, 1], cursor);
    expect(calls.map((c) => c.shard)).toEqual([shardFor(hashId(1)!, SHARDS)]);
    await expect(execute(plan('SELECT * FROM t WHERE id = $1'), [], cursor)).rejects.toThrow(/no value bound for parameter \$1/);
  });

  test('a lookup names the shards; no entry leaves one shard to answer (with the right columns)', async () => {
    const { calls, cursor } = fake((c) => (c.sql.startsWith('SELECT keyspace_id') ? { rows: c.params[0] === 'a@x' ? [{ keyspace_id: hashId(5)! }] : [] } : {}));
    await execute(plan('SELECT * FROM users WHERE email = $1'), ['a@x'], cursor);
    expect(calls.map((c) => c.shard)).toEqual([shardFor(hashId('a@x')!, SHARDS), shardFor(hashId(5)!, SHARDS)]);
    calls.length = 0;
    await execute(plan('SELECT * FROM users WHERE email = $1'), ['nobody'], cursor);
    expect(calls.map((c) => c.shard)).toEqual([shardFor(hashId('nobody')!, SHARDS), SHARDS[0]]);
  });

  test('EXPLAIN answers without touching a shard', async () => {
    const { calls, cursor } = fake();
    const r = await execute(plan('EXPLAIN SELECT * FROM t WHERE id = $1'), [], cursor);
    expect(calls).toEqual([]);
    expect(r.fields).toEqual([f('QUERY PLAN', 'text')]);
    expect(r.rows.map((x) => x['QUERY PLAN'])).toEqual([
      'single-shard select on keyspace main',
      'Route main → shard of hash(id) = $1',
      '  SELECT * FROM t WHERE id = $1  [$1]',
    ]);
  });
});
