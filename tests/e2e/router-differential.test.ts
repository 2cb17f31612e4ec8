/**
 * Differential test through the real VTGate: random schemas, rows, writes and queries give the
 * same result on keyspaces of 1, 2, 4 and 8 DO SQLite shards and of 2 PGlite shards as on one
 * unsharded PGlite (in this process). The in-process test (tests/unit) covers every vindex
 * type and lookups; this one the whole path: HTTP, planning in the Worker, DO stubs, engines.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { openPglite } from '../../engines/postgres.js';
import type { ResultSet } from '../../rpc/results.js';
import { rowFromWire, toWire, type Field, type SqlValue } from '../../rpc/values.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { jsonPost } from '../support/auth.js';
import {
  canon,
  chance,
  ddl,
  describeCase,
  genInsertReturning,
  genInserts,
  genQuery,
  genSchema,
  genWrite,
  type Query,
  type Stmt,
} from '../differential/model.js';

const KEYSPACES = [
  { name: 'd1', engine: 'sqlite', shards: 1 },
  { name: 'd2', engine: 'sqlite', shards: 2 },
  { name: 'd4', engine: 'sqlite', shards: 4 },
  { name: 'd8', engine: 'sqlite', shards: 8 },
  { name: 'p2', engine: 'pglite', shards: 2 },
] as const;
const TABLES = { t1: { vindex: { type: 'hash', column: 'id' } }, t2: { vindex: { type: 'hash', column: 't1_id' } }, r: { type: 'reference' } };
const VSCHEMA = { keyspaces: KEYSPACES.map((k) => ({ ...k, tables: TABLES })) };

let w: WranglerDev;
let oracle: StorageEngine;

beforeAll(async () => {
  [w, oracle] = await Promise.all([startWrangler({ vars: { VSCHEMA: JSON.stringify(VSCHEMA) } }), openPglite()]);
}, 180_000);

afterAll(async () => {
  await w?.stop();
  await oracle?.close();
});

async function run(keyspace: string, s: Stmt): Promise<ResultSet> {
  const res = await fetch(`${w.url}/sql`, jsonPost({ keyspace, sql: s.sql, params: s.params.map(toWire) }));
  const body = (await res.json()) as { rows: Record<string, unknown>[]; fields: Field[]; affected: number; error?: { message: string } };
  if (body.error) throw new Error(`${keyspace}: ${body.error.message}\nstatement: ${s.sql} ${JSON.stringify(s.params)}`);
  return { rows: body.rows.map(rowFromWire), fields: body.fields, affected: body.affected };
}

async function setUp(statements: Stmt[]): Promise<void> {
  for (const s of statements) await oracle.query(s.sql, s.params);
  await Promise.all(
    KEYSPACES.map(async (k) => {
      for (const s of statements) await run(k.name, s);
    }),
  );
}

async function check(q: Query, context: string): Promise<void> {
  const expected = await oracle.query(q.sql, q.params);
  await Promise.all(
    KEYSPACES.map(async (k) => {
      const actual = await run(k.name, q);
      const plan = (await run(k.name, { sql: `EXPLAIN ${q.sql}`, params: [] })).rows.map((r) => r['QUERY PLAN']).join('\n');
      const where = `${k.name}\nquery: ${q.sql} ${JSON.stringify(q.params)}\nplan:\n${plan}\n${context}`;
      expect(
        actual.fields.map((f) => f.name),
        where,
      ).toEqual(expected.fields.map((f) => f.name));
      expect(canon(actual, q.ordered), where).toEqual(canon(expected, q.ordered));
    }),
  );
}

/** A write: as many rows changed and the same rows returned (in the same order when `ordered`: INSERT … RETURNING). */
async function checkWrite(s: Stmt & { ordered?: boolean }, context: string): Promise<void> {
  const expected = await oracle.query(s.sql, s.params);
  await Promise.all(
    KEYSPACES.map(async (k) => {
      const actual = await run(k.name, s);
      const where = `${k.name}\nwrite: ${s.sql} ${JSON.stringify(s.params)}\n${context}`;
      expect(actual.affected, where).toBe(expected.affected);
      expect(canon(actual, !!s.ordered), where).toEqual(canon(expected, !!s.ordered));
    }),
  );
}

/** Runs: 15 by default; ROUTER_E2E_RUNS for more. */
const RUNS = Number(process.env.ROUTER_E2E_RUNS ?? 15);

describe('differential through VTGate: DO SQLite × 1, 2, 4, 8 and PGlite × 2 vs unsharded PGlite', () => {
  test(
    'random schemas, rows, writes and queries',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.gen(), async (g) => {
          const schema = genSchema(g, { vindexTypes: ['hash'], lookups: false });
          const inserts = genInserts(g, schema);
          const context = describeCase(schema, inserts);
          const drops = ['r', 't2', 't1'].map((t) => ({ sql: `DROP TABLE IF EXISTS ${t}`, params: [] as SqlValue[] }));
          await setUp([...drops, ...schema.tables.map((t) => ({ sql: ddl(t), params: [] })), ...inserts]);
          for (let i = 0; i < 8; i++) {
            if (chance(g, 0.1)) await checkWrite(genInsertReturning(g, schema, 100 + 10 * i), context);
            else if (chance(g, 0.25)) await checkWrite(genWrite(g, schema), context);
            else await check(genQuery(g, schema), context);
          }
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    },
    120_000 + RUNS * 10_000,
  );
});
