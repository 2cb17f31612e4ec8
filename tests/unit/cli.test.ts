// The CLI's pure parts: statement splitting for the shell, parameters and CSV fields typed from
// text, INSERTs under the parameter limit for `vitess load`, and result formatting.
import { describe, expect, it } from 'vitest';
import { insertStatements } from '../../client/cli/load.js';
import { formatResult, summary } from '../../client/cli/output.js';
import { isBlank, splitStatements } from '../../client/cli/split.js';
import { csvValue, formatCell, parseParam } from '../../client/cli/values.js';
import type { StatementResult } from '../../client/results.js';
import { LIMITS } from '../../engines/limits.js';
import { VitessError } from '../../rpc/errors.js';

describe('splitStatements', () => {
  it('splits at ; outside strings, quoted identifiers, dollar quotes and comments', () => {
    const text = `SELECT 'a;b', "c;d" FROM t; -- one; two\nSELECT $$x;y$$, $tag$ ; $tag$, $1 /* ; */;\n  INSERT INTO t VALUES ('it''s;')  ;  SELECT`;
    expect(splitStatements(text)).toEqual({
      statements: [`SELECT 'a;b', "c;d" FROM t`, `-- one; two\nSELECT $$x;y$$, $tag$ ; $tag$, $1 /* ; */`, `INSERT INTO t VALUES ('it''s;')`],
      rest: '  SELECT',
    });
  });

  it('keeps an unterminated string or comment in the rest, and drops empty statements', () => {
    expect(splitStatements(`;; SELECT 'open;`)).toEqual({ statements: [], rest: ` SELECT 'open;` });
    expect(splitStatements(`SELECT 1 /* open;`)).toEqual({ statements: [], rest: `SELECT 1 /* open;` });
  });

  it('tells text with nothing to run (whitespace, comments) from a statement', () => {
    expect(isBlank('  -- a comment\n /* and ; another */ \n')).toBe(true);
    expect(isBlank('')).toBe(true);
    expect(isBlank("SELECT '--'")).toBe(false);
    expect(isBlank('-- note\nSELECT 1')).toBe(false);
  });
});

describe('parseParam', () => {
  it('types integers exactly, JSON values and tagged values, and leaves other text as text', () => {
    expect(parseParam('42')).toBe(42);
    expect(parseParam('-7')).toBe(-7);
    expect(parseParam('9007199254740993')).toBe(9007199254740993n);
    expect(parseParam('3.5')).toBe(3.5);
    expect(parseParam('true')).toBe(true);
    expect(parseParam('null')).toBe(null);
    expect(parseParam('"42"')).toBe('42');
    expect(parseParam('{"seats":3}')).toEqual({ seats: 3 });
    expect(parseParam('[1,"a"]')).toEqual([1, 'a']);
    expect(parseParam('{"$ts":"2024-01-01T00:00:00.000Z"}')).toEqual(new Date('2024-01-01T00:00:00.000Z'));
    expect(parseParam('{"$int8":"-9007199254740993"}')).toBe(-9007199254740993n);
    expect(parseParam('ada@example.com')).toBe('ada@example.com');
    expect(parseParam('')).toBe('');
  });
});

describe('csvValue', () => {
  it('converts a field to the column type', () => {
    expect(csvValue('', 'text', 'c')).toBe(null);
    expect(csvValue('12', 'int8', 'c')).toBe(12);
    expect(csvValue('9223372036854775807', 'int8', 'c')).toBe(9223372036854775807n);
    expect(csvValue('1.25', 'float8', 'c')).toBe(1.25);
    expect(csvValue('0012.50', 'numeric', 'c')).toBe('0012.50');
    expect(csvValue('Yes', 'bool', 'c')).toBe(true);
    expect(csvValue('f', 'bool', 'c')).toBe(false);
    expect(csvValue('{"a":[1]}', 'jsonb', 'c')).toEqual({ a: [1] });
    expect(csvValue('\\x00ff', 'bytea', 'c')).toEqual(new Uint8Array([0, 255]));
    expect(csvValue('2024-05-06T07:08:09Z', 'timestamptz', 'c')).toEqual(new Date('2024-05-06T07:08:09Z'));
    expect(csvValue('2024-05-06', 'date', 'c')).toBe('2024-05-06');
    expect(csvValue(' padded ', 'text', 'c')).toBe(' padded ');
  });

  it('refuses a value that is not of the type, naming the column', () => {
    for (const [text, type] of [
      ['1.5', 'int4'],
      ['abc', 'float8'],
      ['1,5', 'numeric'],
      ['maybe', 'bool'],
      ['{', 'json'],
      ['xyz', 'bytea'],
      ['not a date', 'timestamptz'],
    ] as const) {
      let err: unknown;
      try {
        csvValue(text, type, 'price');
      } catch (e) {
        err = e;
      }
      expect(err, `${text} as ${type}`).toBeInstanceOf(VitessError);
      expect((err as VitessError).code).toBe('INVALID');
      expect((err as VitessError).message).toContain('column "price"');
    }
  });
});

describe('insertStatements', () => {
  it('groups rows with the same columns into INSERTs under the parameter limit', () => {
    const rows = [...Array.from({ length: 45 }, (_, i) => ({ id: i, name: `n${i}`, plan: null })), { id: 100, name: 'x' }, { id: 101, name: 'y' }];
    const statements = insertStatements('users', rows);
    expect(statements.map((s) => s.params!.length)).toEqual([99, 36, 4]); // 33 rows of 3, then 12 rows, then the 2-column rows
    for (const s of statements) expect(s.params!.length).toBeLessThanOrEqual(LIMITS.paramsPerStatement);
    expect(statements[0]!.sql).toMatch(/^INSERT INTO users \(id, name, plan\) VALUES \(\$1, \$2, \$3\), \(\$4, \$5, \$6\)/);
    expect(statements[2]).toEqual({ sql: 'INSERT INTO users (id, name) VALUES ($1, $2), ($3, $4)', params: [100, 'x', 101, 'y'] });
    expect(statements.flatMap((s) => s.params).length).toBe(45 * 3 + 4);
  });

  it('quotes identifiers that need it', () => {
    expect(insertStatements('Users', [{ 'Full Name': 'a' }])[0]!.sql).toBe('INSERT INTO "Users" ("Full Name") VALUES ($1)');
  });
});

describe('formatResult', () => {
  const result = (over: Partial<StatementResult>): StatementResult => ({
    rows: [],
    fields: [],
    rowCount: 0,
    affected: 0,
    bookmark: '',
    plan: 'scatter',
    servedBy: { shard: '-80,80-', role: 'primary', region: 'wnam' },
    ...over,
  });

  it('prints rows as a table with a summary line', () => {
    const text = formatResult(
      result({
        fields: [
          { name: 'id', type: 'int8' },
          { name: 'meta', type: 'jsonb' },
          { name: 'at', type: 'timestamptz' },
          { name: 'b', type: 'bytea' },
        ],
        rows: [
          { id: 1n << 60n, meta: { a: 1 }, at: new Date(0), b: new Uint8Array([1, 171]) },
          { id: 2, meta: null, at: null, b: null },
        ],
        rowCount: 2,
      }),
      12.4,
    );
    expect(text.split('\n')).toEqual([
      '┌─────────────────────┬─────────┬──────────────────────────┬────────┐',
      '│ id                  │ meta    │ at                       │ b      │',
      '├─────────────────────┼─────────┼──────────────────────────┼────────┤',
      '│ 1152921504606846976 │ {"a":1} │ 1970-01-01T00:00:00.000Z │ \\x01ab │',
      '│ 2                   │ NULL    │ NULL                     │ NULL   │',
      '└─────────────────────┴─────────┴──────────────────────────┴────────┘',
      '(2 rows · scatter · primary on -80,80- · 12 ms)',
    ]);
  });

  it('summarises writes, DDL and replica reads', () => {
    expect(summary(result({ affected: 3, plan: 'multi-shard' }))).toBe('(3 rows affected · multi-shard · primary on -80,80-)');
    expect(summary(result({ plan: 'ddl' }))).toBe('(OK · ddl · primary on -80,80-)');
    expect(
      summary(result({ fields: [{ name: 'n', type: 'int8' }], rows: [{ n: 1 }], rowCount: 1, servedBy: { shard: '80-', role: 'replica', region: 'weur' } })),
    ).toBe('(1 row · scatter · replica weur on 80-)');
    expect(formatCell(undefined)).toBe('NULL');
  });
});
