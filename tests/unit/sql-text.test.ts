// The parameterized INSERT builder and the chunking under the bound-parameter limit
// (engines/dialect/sql-text.ts) that the applier, the copy phase, lookup vindexes and the CLI share.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkByParams, chunkRows, insertValues, placeholders, rowsPerStatement } from '../../engines/dialect/sql-text.js';
import { LIMITS } from '../../engines/limits.js';

const LIMIT = LIMITS.paramsPerStatement;

describe('placeholders', () => {
  it('numbers them from `first`', () => {
    expect(placeholders(3)).toBe('$1, $2, $3');
    expect(placeholders(2, 5)).toBe('$5, $6');
    expect(placeholders(0)).toBe('');
  });
});

describe('insertValues', () => {
  it('binds rows in order, one tuple each, names quoted', () => {
    expect(
      insertValues(
        'T',
        ['a', 'b"c'],
        [
          [1, 'x'],
          [2, null],
        ],
        'ON CONFLICT DO NOTHING',
      ),
    ).toEqual({
      sql: 'INSERT INTO "T" ("a", "b""c") VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING',
      params: [1, 'x', 2, null],
    });
  });

  it('takes no suffix, and names rendered by the caller', () => {
    expect(insertValues('t', ['v'], [[1]], '', (n) => n)).toEqual({ sql: 'INSERT INTO t (v) VALUES ($1)', params: [1] });
  });

  it('keeps a JSON array value whole', () => {
    expect(insertValues('t', ['j'], [[[1, 2]]]).params).toEqual([[1, 2]]);
  });
});

describe('chunking', () => {
  it('fits rows × columns under the limit, at least one row a statement', () => {
    expect(rowsPerStatement(3)).toBe(Math.floor(LIMIT / 3));
    expect(rowsPerStatement(LIMIT + 1)).toBe(1);
    expect(rowsPerStatement(3, 10)).toBe(Math.floor((LIMIT - 10) / 3));
    expect(rowsPerStatement(0)).toBe(Number.POSITIVE_INFINITY);
    expect(chunkRows([1, 2, 3, 4, 5], LIMIT / 2).map((c) => c.length)).toEqual([2, 2, 1]);
    expect(chunkRows([], 3)).toEqual([]);
    expect(chunkRows([1, 2], 0)).toEqual([[1, 2]]);
  });

  it('chunks items of several sizes with parameters of the statement reserved', () => {
    expect(chunkByParams([60, 30, 20, 150, 5], (n) => n, 10).map((c) => c.length)).toEqual([2, 1, 1, 1]);
  });

  it('covers every row in order, no statement past the limit, placeholders $1…$n in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: LIMIT + 20 }), fc.integer({ min: 0, max: 250 }), (width, count) => {
        const cols = Array.from({ length: width }, (_, c) => `c${c}`);
        const rows = Array.from({ length: count }, (_, r) => cols.map((_, c) => r * width + c));
        const chunks = chunkRows(rows, width);
        expect(chunks.flat()).toEqual(rows);
        expect(chunkByParams(rows, () => width)).toEqual(chunks);
        for (const [i, chunk] of chunks.entries()) {
          expect(chunk.length).toBeGreaterThan(0);
          if (chunk.length > 1) expect(chunk.length * width).toBeLessThanOrEqual(LIMIT);
          // Chunks are as full as the limit allows: all but the last hold rowsPerStatement rows.
          if (i < chunks.length - 1) expect(chunk.length).toBe(rowsPerStatement(width));
          const { sql, params } = insertValues('t', cols, chunk);
          expect(params).toEqual(chunk.flat());
          const numbers = [...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
          expect(numbers).toEqual(params.map((_, n) => n + 1));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('chunks items of any sizes in order, each chunk within the limit unless one item alone is past it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 * LIMIT })), fc.integer({ min: 0, max: LIMIT }), (sizes, reserved) => {
        const chunks = chunkByParams(sizes, (n) => n, reserved);
        expect(chunks.flat()).toEqual(sizes);
        for (const chunk of chunks) {
          const total = reserved + chunk.reduce((a, b) => a + b, 0);
          if (chunk.length > 1) expect(total).toBeLessThanOrEqual(LIMIT);
          expect(chunk.length).toBeGreaterThan(0);
        }
        // Greedy: a chunk ends only where its next item would not fit.
        for (let i = 0; i + 1 < chunks.length; i++) {
          const total = reserved + chunks[i]!.reduce((a, b) => a + b, 0);
          expect(total + chunks[i + 1]![0]!).toBeGreaterThan(LIMIT);
        }
      }),
    );
  });
});
