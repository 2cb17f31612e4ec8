/**
 * count, sum and avg(DISTINCT x) across shards: the shards group by x, VTGate counts each value
 * once. Random rows on four libSQL shards and on two PGlite shards give what one PGlite gives.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { openPglite } from '../../engines/postgres.js';
import type { ShardCursor } from '../../router/engine/executor.js';
import type { Aggregate, Primitive } from '../../router/planner/plan.js';
import { Planner, planQuery } from '../../router/planner/planner.js';
import { parseVSchema } from '../../router/vschema.js';
import { equalRanges } from '../../rpc/keyspace/keyrange.js';
import type { SqlValue } from '../../rpc/values.js';
import { canon, literal } from '../differential/model.js';

const vschemaFor = (engine: 'sqlite' | 'pglite', shards: number) =>
  parseVSchema({ keyspaces: [{ name: 'main', engine, shards, tables: { t: { vindex: { type: 'hash', column: 'id' } } } }] });
const DDL = 'CREATE TABLE t (id INT PRIMARY KEY, g INT, x INT, n NUMERIC(12,3), f FLOAT8)';

let oracle: StorageEngine;
const engines: StorageEngine[] = [];
const configs: { label: string; planner: Planner; cursor: ShardCursor }[] = [];

beforeAll(async () => {
  oracle = await openPglite();
  const libsql = new Map<string, StorageEngine>();
  for (const s of equalRanges(4)) libsql.set(s, await LibsqlEngine.open(':memory:'));
  engines.push(...libsql.values());
  configs.push({ label: 'libsql × 4', planner: new Planner(vschemaFor('sqlite', 4)), cursor: { execute: (_k, s, sql, p) => libsql.get(s)!.query(sql, p) } });
  const pg = new Map<string, StorageEngine>();
  for (const s of equalRanges(2)) pg.set(s, await openPglite());
  engines.push(...pg.values());
  configs.push({ label: 'pglite × 2', planner: new Planner(vschemaFor('pglite', 2)), cursor: { execute: (_k, s, sql, p) => pg.get(s)!.query(sql, p) } });
}, 60_000);

afterAll(async () => {
  await oracle?.close();
  for (const e of engines) await e.close();
});

const find = (p: Primitive, op: string): Primitive | undefined => (p.op === op ? p : 'input' in p ? find(p.input, op) : undefined);

describe('planning', () => {
  test('the shards group by the DISTINCT argument too; VTGate groups by the statement groups only', () => {
    const plan = planQuery('SELECT g, count(DISTINCT x) AS dx, sum(DISTINCT x), count(*) FROM t GROUP BY g', {
      vschema: vschemaFor('sqlite', 4),
      keyspace: 'main',
      schema: new Planner().schema,
    });
    expect(plan.kind).toBe('scatter-aggregate');
    const agg = find(plan.root, 'Aggregate') as Aggregate;
    expect(agg.groupBy).toEqual(['__vt_g0']);
    expect(agg.columns).toEqual([
      { name: 'g', fn: 'first', args: ['__vt_g0'] },
      { name: 'dx', fn: 'count', args: ['__vt_d1'], distinct: true },
      { name: 'sum', fn: 'sum', args: ['__vt_d1'], distinct: true },
      { name: 'count', fn: 'count', args: ['__vt_a2'] },
    ]);
    expect((find(plan.root, 'Route') as { sql: string }).sql).toMatch(/GROUP BY g, x$/);
  });
});

const value = <T>(xs: T[]) => fc.constantFrom(...xs);
const row = fc.record({
  g: value([1, 2, 3, null]),
  x: value([-2, 0, 1, 3, 5, 2147483647, null]),
  // Canonical text: a bare NUMERIC on SQLite keeps no scale (engines.md), so 1.50 would read 1.5 there.
  n: value(['1.5', '-0.25', '10', '0.125', '3', null]),
  f: value([0.5, 1.25, -3, null]),
});

const QUERIES = [
  'SELECT count(DISTINCT x) AS a, sum(DISTINCT x) AS b, avg(DISTINCT x) AS c, count(*) AS d FROM t',
  'SELECT count(DISTINCT n) AS a, sum(DISTINCT n) AS b, avg(DISTINCT n) AS c, sum(n) AS d FROM t',
  'SELECT g, count(DISTINCT x) AS a, sum(DISTINCT n) AS b, avg(DISTINCT f) AS c, max(x) AS d FROM t GROUP BY g ORDER BY g',
  'SELECT g, count(DISTINCT g) AS a, count(DISTINCT x) AS b FROM t GROUP BY g HAVING count(DISTINCT x) > 1 ORDER BY 1',
  'SELECT count(DISTINCT x) AS a, count(DISTINCT n) AS b, sum(DISTINCT f) AS c FROM t WHERE id > 2',
];

describe('sharded = one database', () => {
  test('random rows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 25 }), async (rows) => {
        const insert = rows.length
          ? `INSERT INTO t (id, g, x, n, f) VALUES ${rows.map((r, i) => `(${i + 1}, ${[r.g, r.x, r.n, r.f].map((v) => literal(v as SqlValue)).join(', ')})`).join(', ')}`
          : undefined;
        for (const target of [
          { run: (sql: string) => oracle.query(sql) },
          ...configs.map((c) => ({ run: (sql: string) => c.planner.run(sql, [], 'main', c.cursor) })),
        ]) {
          await target.run('DROP TABLE IF EXISTS t');
          await target.run(DDL);
          if (insert) await target.run(insert);
        }
        for (const sql of QUERIES) {
          const expected = await oracle.query(sql);
          for (const c of configs) {
            const actual = await c.planner.run(sql, [], 'main', c.cursor);
            const where = `${c.label}: ${sql}\n${insert}`;
            expect(
              actual.fields.map((f) => f.name),
              where,
            ).toEqual(expected.fields.map((f) => f.name));
            // Exact: numeric sums and averages digit for digit.
            expect(canon(actual, /ORDER BY/.test(sql) || !/GROUP BY/.test(sql)), where).toEqual(canon(expected, true));
          }
        }
      }),
      { numRuns: 15 },
    );
  }, 120_000);
});
