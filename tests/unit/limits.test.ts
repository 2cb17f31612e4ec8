// The limits of engines/limits.ts, and VTGate's cap on the rows it gathers from shards for one
// statement (scatter reads, merges, aggregates), driven with a fake ShardCursor.
import { describe, expect, test } from 'vitest';
import { checkBatchLength, checkStatementSize, LIMITS, MAX_BATCH_STATEMENTS, ResultBudget, transactionTimeout } from '../../engines/limits.js';
import { execute, type ShardCursor } from '../../router/engine/executor.js';
import { planQuery } from '../../router/planner/planner.js';
import { MemorySchema } from '../../router/planner/schema.js';
import { parseVSchema } from '../../router/vschema.js';
import { asVitessError } from '../../rpc/errors.js';
import type { ResultSet, Row } from '../../rpc/results.js';

const vschema = parseVSchema({ keyspaces: [{ name: 'main', engine: 'sqlite', shards: 4 }] });
const schema = new MemorySchema({
  t: {
    primaryKey: ['id'],
    columns: [
      { name: 'id', type: 'int' },
      { name: 'b', type: 'text' },
    ],
  },
});
const plan = (sql: string) => planQuery(sql, { vschema, keyspace: 'main', schema });

/** Each shard answers with `rowsPer` rows made by `row`. */
function shards(rowsPer: number, row: (i: number) => Row) {
  const cursor: ShardCursor = {
    async execute(): Promise<ResultSet> {
      const rows = Array.from({ length: rowsPer }, (_, i) => row(i));
      return { rows, fields: Object.keys(rows[0] ?? {}).map((name) => ({ name, type: 'text' })), affected: 0 };
    },
  };
  return { cursor };
}

/** The error `fn` fails with: code, message and details. */
const failure = async (fn: () => unknown) => {
  try {
    await fn();
  } catch (e) {
    return asVitessError(e);
  }
  throw new Error('expected a failure');
};

describe('statement size', () => {
  test('100 KB passes; one byte more is LIMIT_EXCEEDED naming the limit; UTF-8 bytes count, not characters', async () => {
    expect(() => checkStatementSize('x'.repeat(LIMITS.statementBytes))).not.toThrow();
    expect(await failure(() => checkStatementSize('x'.repeat(LIMITS.statementBytes + 1)))).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: expect.stringMatching(/102400 bytes \(100 KB\)/),
      details: { limit: 'statement size' },
    });
    // 40,000 euro signs are 120,000 bytes of UTF-8.
    expect((await failure(() => checkStatementSize('€'.repeat(40_000)))).details.limit).toBe('statement size');
  });

  test('VTGate refuses an oversized statement before parsing it (not SYNTAX)', async () => {
    const e = await failure(() => plan(`SELEC ${'x'.repeat(LIMITS.statementBytes)}`));
    expect([e.code, e.details.limit]).toEqual(['LIMIT_EXCEEDED', 'statement size']);
  });
});

describe('batch length', () => {
  test(`${MAX_BATCH_STATEMENTS} statements pass, one more is LIMIT_EXCEEDED`, async () => {
    expect(MAX_BATCH_STATEMENTS).toBe(1_000);
    expect(() => checkBatchLength(MAX_BATCH_STATEMENTS)).not.toThrow();
    expect(await failure(() => checkBatchLength(MAX_BATCH_STATEMENTS + 1))).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: expect.stringMatching(/1001 statements; the limit is 1000/),
      details: { limit: 'statements per batch' },
    });
  });
});

describe('transaction timeout', () => {
  test('default when absent; a larger one is clamped to the ceiling; a non-number, zero or negative is INVALID', async () => {
    expect(transactionTimeout(undefined)).toBe(LIMITS.transactionMs);
    expect(transactionTimeout(5_000)).toBe(5_000);
    expect(transactionTimeout(10 * 60_000)).toBe(LIMITS.maxTransactionMs);
    expect(transactionTimeout(Infinity)).toBe(LIMITS.maxTransactionMs);
    expect(transactionTimeout(40_000, 35_000)).toBe(35_000);
    for (const bad of [-1, 0, NaN, '5000', null, {}]) expect((await failure(() => transactionTimeout(bad))).code).toBe('INVALID');
  });
});

describe('result budget', () => {
  test('counts rows and bytes across the parts of one result', async () => {
    const budget = new ResultBudget();
    budget.add({ rows: Array.from({ length: LIMITS.resultRows }, () => ({})) });
    expect((await failure(() => budget.add({ rows: [{}] }))).details.limit).toBe('result rows');
    const bytes = new ResultBudget('the test result');
    const mb = 'x'.repeat(1024 * 1024);
    bytes.add({ rows: Array.from({ length: 16 }, () => ({ s: mb })) });
    expect(await failure(() => bytes.add({ rows: [{ n: 1 }] }))).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: expect.stringMatching(/^the test result holds more than 16777216 bytes \(16 MB\)/),
      details: { limit: 'result bytes' },
    });
  });

  test('bytea counts its bytes, JSON its text', async () => {
    const budget = new ResultBudget();
    budget.add({ rows: [{ b: new Uint8Array(LIMITS.resultBytes - 8), j: { a: 1 } }] }); // {"a":1} is 7
    expect(() => budget.add({ rows: [{ n: null }] })).not.toThrow();
    expect((await failure(() => budget.add({ rows: [{ n: true }] }))).details.limit).toBe('result bytes');
  });
});

describe('VTGate caps the rows it gathers from shards for one statement', () => {
  const id = (i: number): Row => ({ id: i, b: 'v' });
  const tooMany = Math.ceil(LIMITS.resultRows / 4) + 1;

  test('a scatter SELECT whose shards together return more rows than one result may hold fails, whole', async () => {
    const { cursor } = shards(tooMany, id);
    expect(await failure(() => execute(plan('SELECT id, b FROM t'), [], cursor))).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: expect.stringMatching(/^the rows gathered from the shards has more than 100000 rows/),
      details: { limit: 'result rows' },
    });
    // At the limit exactly, every row comes back.
    expect((await execute(plan('SELECT id, b FROM t'), [], shards(LIMITS.resultRows / 4, id).cursor)).rows).toHaveLength(LIMITS.resultRows);
  });

  test('merge-sorted, DISTINCT and LIMIT-ed results count what was gathered, not what is left', async () => {
    for (const sql of ['SELECT id, b FROM t ORDER BY id', 'SELECT DISTINCT b FROM t', 'SELECT id FROM t ORDER BY id LIMIT 5 OFFSET 100000']) {
      const { cursor } = shards(tooMany, (i) => ({ id: i, b: 'v', __vt_o0: i }));
      expect((await failure(() => execute(plan(sql), [], cursor))).details.limit).toBe('result rows');
    }
  });

  test('a scatter aggregate with more groups across shards than one result may hold fails', async () => {
    const { cursor } = shards(tooMany, (i) => ({ __vt_g0: i, __vt_a1: 1 }));
    expect((await failure(() => execute(plan('SELECT b, count(*) FROM t GROUP BY b'), [], cursor))).details.limit).toBe('result rows');
  });

  test('bytes count across shards: four shards of 5 MB each fail on result bytes', async () => {
    const { cursor } = shards(5, () => ({ id: 1, b: 'x'.repeat(1024 * 1024) }));
    expect((await failure(() => execute(plan('SELECT id, b FROM t'), [], cursor))).details.limit).toBe('result bytes');
  });

  test('the count is per statement: the next statement starts from zero', async () => {
    const { cursor } = shards(LIMITS.resultRows / 4, id);
    for (let i = 0; i < 2; i++) expect((await execute(plan('SELECT id, b FROM t'), [], cursor)).rows).toHaveLength(LIMITS.resultRows);
  });
});
