import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { desZeroKey } from '../../rpc/keyspace/des.js';
import { checkCoverage, equalRanges, firstId, parseKeyRange, shardFor, type KeyRange } from '../../rpc/keyspace/keyrange.js';
import { canonicalKey, consistentHashId, hashId } from '../../rpc/keyspace/hash.js';
import { keyspaceIdFor, rangeShard } from '../../router/vindex/vindex.js';
import { xxhash64 } from '../../rpc/keyspace/xxhash64.js';

const hex = (x: bigint) => x.toString(16).padStart(16, '0');
const enc = (s: string) => new TextEncoder().encode(s);

function opensslDes(x: bigint): string {
  const c = createCipheriv('des-ede3', Buffer.alloc(24), null);
  c.setAutoPadding(false);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(x);
  return Buffer.concat([c.update(b), c.final()]).toString('hex');
}

describe('hash functions', () => {
  test('DES under the zero key is Vitess hash (known ids) and matches OpenSSL 3DES', () => {
    // Vitess's hash vindex maps 1 to 166b40b44aba4bd6 (go/vt/vtgate/vindexes/hash_test.go).
    expect(hex(desZeroKey(1n))).toBe('166b40b44aba4bd6');
    expect(hex(desZeroKey(0n))).toBe(opensslDes(0n));
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (x) => hex(desZeroKey(x)) === opensslDes(x)),
      { numRuns: 200 },
    );
  });

  test('xxHash64 matches the reference vectors', () => {
    expect(hex(xxhash64(enc('')))).toBe('ef46db3751d8e999');
    expect(hex(xxhash64(enc('a')))).toBe('d24ec4f1a98c6e5b');
    expect(hex(xxhash64(enc('abc')))).toBe('44bc2cf5ad770999');
    expect(hex(xxhash64(enc('Nobody inspects the spammish repetition')))).toBe('fbcea83c8a378bf1');
  });
});

describe('vindexes', () => {
  test('equal values map to one keyspace id whatever JS type carries them', () => {
    const id = hashId(5);
    for (const v of [5, 5n, '5', ' 5', '5.0', '05', '+5']) expect(hashId(v), String(v)).toBe(id);
    expect(hashId(-1)).toBe(hashId(-1n));
    expect(hashId(2n ** 60n)).toBe(hashId(String(2n ** 60n)));
    expect(hashId('1.50')).toBe(hashId(1.5));
    expect(hashId('8F4E2B1C-3D5A-4E6F-9A0B-1C2D3E4F5A6B')).toBe(hashId('8f4e2b1c-3d5a-4e6f-9a0b-1c2d3e4f5a6b'));
    expect(hashId(new Date('2024-01-02T00:00:00Z'))).toBe(hashId('2024-01-02'));
    expect(hashId(new Date('2024-01-02T03:04:05Z'))).toBe(hashId('2024-01-02 03:04:05'));
    expect(hashId(new Date('2024-01-02T03:04:05Z'))).toBe(hashId('2024-01-02T04:04:05+01:00'));
    expect(hashId(null)).toBeUndefined();
    expect(consistentHashId(7)).toBe(consistentHashId('7'));
  });

  test('integers hash like Vitess; other values through xxHash64', () => {
    expect(hashId(1)).toBe('166b40b44aba4bd6');
    expect(hashId('abc')).toBe('44bc2cf5ad770999');
    expect(consistentHashId(1)).toBe(hex(xxhash64(enc('1'))));
    expect(canonicalKey(2n ** 64n)).toEqual({ bytes: enc('18446744073709551616') });
  });

  test('hash ids are deterministic and 16 hex digits', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.string(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })), (v) => {
        const id = hashId(v)!;
        return /^[0-9a-f]{16}$/.test(id) && hashId(v) === id;
      }),
    );
  });

  test('range vindex: the first range holding the value', () => {
    const ranges = [
      { to: 100, shard: '-80' },
      { from: 100, shard: '80-' },
    ];
    expect(rangeShard(ranges, 5)).toBe('-80');
    expect(rangeShard(ranges, '100')).toBe('80-');
    expect(rangeShard(ranges, 2n ** 62n)).toBe('80-');
    expect(rangeShard([{ from: 'm', shard: '80-' }], 'a')).toBeUndefined();
    expect(keyspaceIdFor({ type: 'range', column: 'x', ranges }, 150)).toBe('8000000000000000');
  });
});

describe('key ranges', () => {
  test('equal splits', () => {
    expect(equalRanges(1)).toEqual(['-']);
    expect(equalRanges(2)).toEqual(['-80', '80-']);
    expect(equalRanges(4)).toEqual(['-40', '40-80', '80-c0', 'c0-']);
    expect(equalRanges(8)[1]).toBe('20-40');
    expect(equalRanges(512)[1]).toBe('0080-0100');
  });

  test('a shard holds ids whose first bytes are in [start, end)', () => {
    const shards = ['-40', '40-80', '80-c0', 'c0-'];
    expect(shardFor('0000000000000000', shards)).toBe('-40');
    expect(shardFor('3fffffffffffffff', shards)).toBe('-40');
    expect(shardFor('4000000000000000', shards)).toBe('40-80');
    expect(shardFor('c000000000000000', shards)).toBe('c0-');
    expect(shardFor('ffffffffffffffff', shards)).toBe('c0-');
    expect(shardFor('1234000000000000', ['-'])).toBe('-');
    expect(firstId('80-c0')).toBe('8000000000000000');
  });

  test('every id falls in exactly one shard of an equal split', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(1, 2, 4, 8, 16, 256), (x, n) => {
        const id = hex(x);
        const shards = equalRanges(n);
        return (
          shards.filter((s) => {
            try {
              return shardFor(id, [s]) === s;
            } catch {
              return false;
            }
          }).length === 1
        );
      }),
    );
  });

  test('bad ranges are named', () => {
    expect(parseKeyRange('40-7')).toMatch(/even number of digits/);
    expect(parseKeyRange('80-40')).toMatch(/start must be below end/);
    expect(parseKeyRange('4080')).toMatch(/not a key range/);
    const r = (names: string[]) => checkCoverage(names.map((n) => parseKeyRange(n) as KeyRange));
    expect(r(['-40', '80-'])).toMatch(/must start where the previous one ends \("40"\)/);
    expect(r(['-80'])).toMatch(/last shard must reach the end/);
    expect(r(['-80', '80-'])).toBeUndefined();
  });
});
