import { deserialize, serialize } from 'capnweb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asVitessError, encodeError, VitessError } from '../../rpc/errors.js';
import {
  canonicalNumeric,
  fromRpc,
  numericAtScale,
  numericText,
  fromWire,
  toRpc,
  toWire,
  type JsonValue,
  type RpcValue,
  type SqlValue,
} from '../../rpc/values.js';

// JSON itself has no -0: generate values as JSON text would carry them.
const json: fc.Arbitrary<JsonValue> = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);
const sqlValue: fc.Arbitrary<SqlValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < -BigInt(Number.MAX_SAFE_INTEGER)),
  fc.string(),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array(),
  fc.array(json),
  fc.dictionary(fc.string(), json, { noNullPrototype: true }),
);

describe('value model', () => {
  it('round-trips every value through the JSON wire encoding', () => {
    fc.assert(
      fc.property(sqlValue, (v) => {
        expect(fromWire(JSON.parse(JSON.stringify(toWire(v))))).toEqual(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every value through capnweb serialization', () => {
    fc.assert(
      fc.property(fc.array(sqlValue), (row) => {
        const back = deserialize(serialize(row.map(toRpc))) as RpcValue[];
        expect(back.map(fromRpc)).toEqual(row);
      }),
      { numRuns: 500 },
    );
  });

  it('never mistakes a JSON object for a tagged value', () => {
    const tricky = { $int8: '5', $ts: 'x' };
    expect(fromWire(JSON.parse(JSON.stringify(toWire(tricky))))).toEqual(tricky);
  });

  it('keeps int8 exact beyond 2^53, and safe ones as numbers', () => {
    expect(fromWire({ $int8: '9007199254740993' })).toBe(9007199254740993n);
    expect(fromWire({ $int8: '42' })).toBe(42);
  });

  it.each([
    ['1.50', '1.5'],
    ['0012.000', '12'],
    ['-0.0', '0'],
    ['.5', '0.5'],
    ['-3', '-3'],
    ['1e3', '1000'],
    ['1.25E-2', '0.0125'],
    ['1e+21', '1000000000000000000000'],
    ['NaN', 'NaN'],
    ['100', '100'],
  ])('canonical numeric %s → %s', (input, out) => {
    expect(canonicalNumeric(input)).toBe(out);
  });

  it('canonical numeric preserves the value of any decimal', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
        expect(Number(canonicalNumeric(String(d)))).toBe(d === 0 ? 0 : d);
      }),
    );
  });

  it.each([
    ['7.50', '7.50'],
    ['1.50e1', '15.0'],
    ['1e-2', '0.01'],
    ['+007.10', '7.10'],
    ['-0.00', '0.00'],
    ['5.', '5'],
  ])('numeric text %s → %s (the written scale kept, as Postgres reads it)', (input, out) => {
    expect(numericText(input)).toBe(out);
  });

  it.each([
    ['7.5', 2, '7.50'],
    ['12.345', 2, '12.35'],
    ['-12.345', 2, '-12.35'],
    ['9.995', 2, '10.00'],
    ['-0.001', 2, '0.00'],
    ['0.30000000000000004', 2, '0.30'],
    ['2.5', 0, '3'],
    ['1e21', 1, '1000000000000000000000.0'],
  ] as const)('numeric %s at scale %i → %s', (input, scale, out) => {
    expect(numericAtScale(input, scale)).toBe(out);
  });

  it('a numeric at a scale is the nearest value with that many digits, halves away from zero', () => {
    // Decimals as units × 10^-digits, checked with bigint arithmetic.
    const decimal = fc.record({ units: fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), digits: fc.integer({ min: 0, max: 8 }) });
    fc.assert(
      fc.property(decimal, fc.integer({ min: 0, max: 6 }), ({ units, digits }, scale) => {
        const abs = (units < 0n ? -units : units).toString().padStart(digits + 1, '0');
        const text = `${units < 0n ? '-' : ''}${abs.slice(0, abs.length - digits)}${digits ? `.${abs.slice(-digits)}` : ''}`;
        const out = numericAtScale(text, scale);
        expect(out.split('.')[1]?.length ?? 0).toBe(scale);
        // Both sides at a common scale: |out - in| <= half a unit of the last digit, a half going away from zero.
        const common = Math.max(scale, digits);
        const inUnits = units * 10n ** BigInt(common - digits);
        const outUnits = BigInt(out.replace('.', '')) * 10n ** BigInt(common - scale);
        const diff = (outUnits - inUnits) * 2n;
        const unit = 10n ** BigInt(common - scale);
        expect(diff <= unit && diff >= -unit).toBe(true);
        if (diff === unit || diff === -unit) expect(outUnits < 0n === inUnits < 0n || outUnits === 0n).toBe(true);
        if (diff === unit || diff === -unit) expect(diff > 0n === inUnits > 0n).toBe(true);
        expect(canonicalNumeric(out) === canonicalNumeric(text)).toBe(digits <= scale || diff === 0n);
      }),
    );
  });
});

describe('typed errors', () => {
  it('cross an RPC boundary as a message and come back with code and details', () => {
    const e = new VitessError('CONSTRAINT', 'unique constraint violated on users (email)', { table: 'users', columns: ['email'] });
    const back = asVitessError(new Error(encodeError(e).message));
    expect(back.code).toBe('CONSTRAINT');
    expect(back.message).toBe(e.message);
    expect(back.details).toEqual(e.details);
  });

  it('mark only transient failures retryable', () => {
    expect(new VitessError('UNAVAILABLE', 'x').retryable).toBe(true);
    expect(new VitessError('CONFLICT', 'x').retryable).toBe(true);
    expect(new VitessError('CONSTRAINT', 'x').retryable).toBe(false);
    expect(new VitessError('SYNTAX', 'x').retryable).toBe(false);
  });

  it('unknown errors become INTERNAL', () => {
    expect(asVitessError(new Error('boom')).code).toBe('INTERNAL');
  });
});
