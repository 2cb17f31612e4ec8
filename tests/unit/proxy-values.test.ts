/**
 * Values between the wire protocol and the value model (client/proxy/pg-values.ts): the text and
 * binary cells the proxy sends read back by node-postgres's own type parsers to the values the
 * gateway returned, parameters decoded from what a client sends, and column OIDs.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { SqlValue } from '../../rpc/values.js';
import { columnsOf, numericBinary, OID, paramFromBinary, paramFromText, toBinary, toText, untypedParam } from '../../client/proxy/pg-values.js';

const textParser = (oid: number) => pg.types.getTypeParser(oid, 'text') as (s: string) => unknown;
const binaryParser = (oid: number) => pg.types.getTypeParser(oid, 'binary') as unknown as (b: Buffer) => unknown;

describe('result columns', () => {
  it('names each field type by its OID, and types an unknown column by its values', () => {
    const cols = columnsOf(
      [
        { name: 'id', type: 'int8' },
        { name: 'price', type: 'numeric' },
        { name: 'at', type: 'timestamptz' },
        { name: 'meta', type: 'jsonb' },
        { name: 'n', type: 'unknown' },
        { name: 'f', type: 'unknown' },
        { name: 'nothing', type: 'unknown' },
      ],
      [{ id: 1, price: '1.5', at: new Date(0), meta: null, n: null, f: 1.5, nothing: null }, { n: 7 }],
    );
    expect(cols.map((c) => [c.name, c.oid])).toEqual([
      ['id', OID.int8],
      ['price', OID.numeric],
      ['at', OID.timestamptz],
      ['meta', OID.jsonb],
      ['n', OID.int8],
      ['f', OID.float8],
      ['nothing', OID.text],
    ]);
  });

  it('names the columns of rows without fields (RETURNING inside a transaction) by their keys and values', () => {
    expect(columnsOf([], [{ id: 1, ok: true, raw: new Uint8Array([1]) }]).map((c) => c.oid)).toEqual([OID.int8, OID.bool, OID.bytea]);
  });
});

describe('text format', () => {
  const cases: [SqlValue, number, unknown][] = [
    [true, OID.bool, true],
    [false, OID.bool, false],
    [42, OID.int4, 42],
    [9007199254740993n, OID.int8, '9007199254740993'],
    [-0.5, OID.float8, -0.5],
    [Number.POSITIVE_INFINITY, OID.float8, Number.POSITIVE_INFINITY],
    ['7.50', OID.numeric, '7.50'],
    ['héllo', OID.text, 'héllo'],
    [{ a: [1, 'x'] }, OID.jsonb, { a: [1, 'x'] }],
    ['a string in a json column', OID.json, 'a string in a json column'],
    [5, OID.json, 5],
    [new Uint8Array([0, 1, 254, 255]), OID.bytea, Buffer.from([0, 1, 254, 255])],
    [new Date('2024-02-29T23:59:58.123Z'), OID.timestamptz, new Date('2024-02-29T23:59:58.123Z')],
    [new Date('2024-01-01T00:00:00Z'), OID.timestamptz, new Date('2024-01-01T00:00:00Z')],
  ];
  it.each(cases)('%o as OID %i reads back with node-postgres', (v, oid, expected) => {
    expect(textParser(oid)(toText(v, oid))).toEqual(expected);
  });

  it('prints what psql shows: t/f, -0, a date, a timestamp with and without its zone', () => {
    expect(toText(true, OID.bool)).toBe('t');
    expect(toText(-0, OID.float8)).toBe('-0');
    expect(toText(new Date('2024-03-01T12:30:00.500Z'), OID.timestamptz)).toBe('2024-03-01 12:30:00.5+00');
    expect(toText(new Date('2024-03-01T12:30:00Z'), OID.timestamp)).toBe('2024-03-01 12:30:00');
    expect(toText(new Date('2024-03-01T00:00:00Z'), OID.date)).toBe('2024-03-01');
    expect(toText('2024-03-01', OID.date)).toBe('2024-03-01');
    expect(toText(new Uint8Array([10, 255]), OID.bytea)).toBe('\\x0aff');
  });
});

describe('binary format', () => {
  const cases: [SqlValue, number, unknown][] = [
    [true, OID.bool, true],
    [-12, OID.int2, -12],
    [2147483647, OID.int4, 2147483647],
    [-5, OID.int8, '-5'],
    [9007199254740993n, OID.int8, '9007199254740993'],
    [1.5, OID.float4, 1.5],
    [-1e300, OID.float8, -1e300],
    ['héllo', OID.text, 'héllo'],
    [new Date('2024-02-29T23:59:58.123Z'), OID.timestamptz, new Date('2024-02-29T23:59:58.123Z')],
    ['12345.678', OID.numeric, 12345.678],
    ['-1.0001', OID.numeric, -1.0001],
    ['100000000', OID.numeric, 100000000],
  ];
  it.each(cases)('%o as OID %i reads back with node-postgres', (v, oid, expected) => {
    const got = binaryParser(oid)(toBinary(v, oid));
    expect(typeof got === 'bigint' || (typeof got === 'object' && got !== null && 'toString' in got && oid === OID.int8) ? String(got) : got).toEqual(expected);
  });

  it('round-trips numeric exactly, keeping the scale', () => {
    for (const n of ['0', '7.50', '-123456789.000123', '-0.0001', '0.00001', '1', '99999999999999999999.99', 'NaN']) {
      expect(paramFromBinary(numericBinary(n), OID.numeric)).toBe(n);
    }
    expect(() => numericBinary('12abc')).toThrow(/"12abc" is not a numeric/);
  });

  it('round-trips the other types through the parameter decoder', () => {
    const cases: [SqlValue, number][] = [
      [true, OID.bool],
      [-7, OID.int2],
      [123456, OID.int4],
      [9007199254740993n, OID.int8],
      [42, OID.int8],
      [0.25, OID.float8],
      [{ k: [1, null] }, OID.jsonb],
      [{ k: 'v' }, OID.json],
      [new Uint8Array([1, 2, 3]), OID.bytea],
      ['2024-02-29', OID.date],
      [new Date('1999-12-31T23:59:59.999Z'), OID.timestamptz],
      ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', OID.uuid],
      ['text', OID.varchar],
    ];
    for (const [v, oid] of cases) expect(paramFromBinary(toBinary(v, oid), oid)).toEqual(v);
  });
});

describe('parameters', () => {
  it('reads text parameters by their declared type', () => {
    expect(paramFromText('t', OID.bool)).toBe(true);
    expect(paramFromText('off', OID.bool)).toBe(false);
    expect(paramFromText(' 42 ', OID.int4)).toBe(42);
    expect(paramFromText('9007199254740993', OID.int8)).toBe(9007199254740993n);
    expect(paramFromText('-Infinity', OID.float8)).toBe(Number.NEGATIVE_INFINITY);
    expect(paramFromText('7.50', OID.numeric)).toBe('7.50');
    expect(paramFromText('{"a":[1]}', OID.jsonb)).toEqual({ a: [1] });
    expect(paramFromText('\\x00ff', OID.bytea)).toEqual(new Uint8Array([0, 255]));
    expect(paramFromText('2024-01-01 10:00:00+02', OID.timestamptz)).toEqual(new Date('2024-01-01T08:00:00Z'));
    expect(paramFromText('2024-01-01 10:00:00', OID.timestamp)).toEqual(new Date('2024-01-01T10:00:00Z'));
    expect(paramFromText('007', OID.text)).toBe('007');
  });

  it('refuses text that is not a value of the declared type, naming the type and the text', () => {
    expect(() => paramFromText('yes please', OID.bool)).toThrow('invalid input syntax for type boolean: "yes please"');
    expect(() => paramFromText('1.5', OID.int8)).toThrow('invalid input syntax for type integer: "1.5"');
    expect(() => paramFromText('{oops', OID.json)).toThrow('invalid input syntax for type json: "{oops"');
    expect(() => paramFromText('tomorrow', OID.timestamptz)).toThrow('invalid input syntax for type timestamp: "tomorrow"');
  });

  it('takes untyped text (node-postgres declares no types) as Postgres would resolve it', () => {
    expect(untypedParam('42')).toBe(42);
    expect(untypedParam('-9007199254740993')).toBe(-9007199254740993n);
    expect(untypedParam('true')).toBe(true);
    // node-postgres's form of a Date: local time with its offset.
    expect(untypedParam('2024-05-01T12:00:00.250+02:00')).toEqual(new Date('2024-05-01T10:00:00.250Z'));
    // Text that only looks like a number keeps its digits; decimals keep their scale.
    expect(untypedParam('007')).toBe('007');
    expect(untypedParam('-0')).toBe('-0');
    expect(untypedParam('10.50')).toBe('10.50');
    expect(untypedParam('{"a":1}')).toBe('{"a":1}');
    expect(untypedParam('2024-05-01')).toBe('2024-05-01');
  });

  it('takes undeclared binary parameters as bytea (node-postgres sends a Buffer so), and refuses binary of types it cannot read', () => {
    expect(paramFromBinary(Buffer.from([9, 8]), 0)).toEqual(new Uint8Array([9, 8]));
    expect(() => paramFromBinary(Buffer.from([0, 0, 0, 1]), 23)).not.toThrow();
    expect(() => paramFromBinary(Buffer.from([0, 1]), OID.int4)).toThrow('a binary int4 parameter is 4 bytes, not 2');
    expect(() => paramFromBinary(Buffer.from([1]), 1007)).toThrow(/type OID 1007 in binary format are not supported/);
  });
});
