/**
 * xxHash64 (seed 0) of a byte string, as in Vitess's `xxhash` vindex. Written with bigint so it
 * runs unchanged in Node, workerd and browsers; checked against the reference test vectors.
 */
const M = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, lane: bigint): bigint => (rotl((acc + lane * P2) & M, 31n) * P1) & M;
const merge = (acc: bigint, v: bigint): bigint => ((((acc ^ round(0n, v)) * P1) & M) + P4) & M;

function lane(b: Uint8Array, at: number, bytes: number): bigint {
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!); // little-endian
  return v;
}

export function xxhash64(b: Uint8Array, seed = 0n): bigint {
  let i = 0;
  let h: bigint;
  if (b.length >= 32) {
    const v = [(seed + P1 + P2) & M, (seed + P2) & M, seed & M, (seed - P1) & M];
    for (; i + 32 <= b.length; i += 32) for (let k = 0; k < 4; k++) v[k] = round(v[k]!, lane(b, i + 8 * k, 8));
    h = (rotl(v[0]!, 1n) + rotl(v[1]!, 7n) + rotl(v[2]!, 12n) + rotl(v[3]!, 18n)) & M;
    for (const x of v) h = merge(h, x);
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(b.length)) & M;
  for (; i + 8 <= b.length; i += 8) h = (((rotl(h ^ round(0n, lane(b, i, 8)), 27n) * P1) & M) + P4) & M;
  if (i + 4 <= b.length) {
    h = (((rotl(h ^ ((lane(b, i, 4) * P1) & M), 23n) * P2) & M) + P3) & M;
    i += 4;
  }
  for (; i < b.length; i++) h = (rotl(h ^ ((BigInt(b[i]!) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  return h ^ (h >> 32n);
}
