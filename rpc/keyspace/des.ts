/**
 * DES encryption of one 8-byte block under the all-zero key: Vitess's `hash` vindex.
 *
 * Vitess computes an integer column's keyspace id as 3DES-EDE(key = 24 zero bytes) of the
 * value's 8 big-endian bytes. With three equal keys EDE collapses to single DES, and with the
 * zero key every round subkey is zero, so no key schedule is needed: each round is
 * `L, R = R, L ^ P(S(E(R)))`. Pure integer arithmetic: identical in Node, workerd and browsers.
 * (Tests compare it with Node's OpenSSL `des-ede3`.)
 */

// FIPS 46-3 tables, 1-based bit numbers (bit 1 = most significant).
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59,
  51, 43, 35, 27, 19, 11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
const P = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25];
const S = [
  [
    14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10,
    5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
  ],
  [
    15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3,
    2, 15, 13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
  ],
  [
    10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10,
    14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
  ],
  [
    7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2,
    8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
  ],
  [
    2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3,
    0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
  ],
  [
    12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13,
    11, 6, 4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
  ],
  [
    4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5,
    9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
  ],
  [
    13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3,
    5, 8, 2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
  ],
];
/** The final permutation is the inverse of IP. */
const FP = IP.map((_, i) => IP.indexOf(i + 1) + 1);

// The tables above are applied through lookup tables built once, so that a block costs a few
// dozen 32-bit operations rather than hundreds of BigInt ones (VTGate hashes every routed key).

/** A 64-bit permutation as 8 × 256 entries (one per input byte and value), each a [hi, lo] pair. */
function byteTables(table: number[]): { hi: Uint32Array; lo: Uint32Array } {
  const hi = new Uint32Array(8 * 256);
  const lo = new Uint32Array(8 * 256);
  table.forEach((bit, k) => {
    const byte = (bit - 1) >> 3;
    const mask = 0x80 >> ((bit - 1) & 7);
    for (let v = 0; v < 256; v++) {
      if (!(v & mask)) continue;
      if (k < 32) hi[byte * 256 + v]! |= 1 << (31 - k);
      else lo[byte * 256 + v]! |= 1 << (63 - k);
    }
  });
  return { hi, lo };
}

const IP_T = byteTables(IP);
const FP_T = byteTables(FP);

function permute64(t: { hi: Uint32Array; lo: Uint32Array }, hi: number, lo: number): [number, number] {
  let h = 0;
  let l = 0;
  for (let j = 0; j < 8; j++) {
    const v = ((j < 4 ? hi : lo) >>> (24 - 8 * (j & 3))) & 0xff;
    h |= t.hi[j * 256 + v]!;
    l |= t.lo[j * 256 + v]!;
  }
  return [h >>> 0, l >>> 0];
}

/** P of S-box i's output for each 6-bit input: f(R) is the OR of the eight boxes' entries. */
const SP = S.map((box, i) =>
  Uint32Array.from({ length: 64 }, (_, six) => {
    const s = box[(((six >> 4) & 2) | (six & 1)) * 16 + ((six >> 1) & 0xf)]! << (28 - 4 * i);
    let out = 0;
    P.forEach((bit, k) => {
      if ((s >>> (32 - bit)) & 1) out |= 1 << (31 - k);
    });
    return out >>> 0;
  }),
);

/** f(R, K = 0): E puts bits 4i-1 .. 4i+4 of R (0-based from the top, wrapping) before S-box i. */
function feistel(r: number): number {
  let out = 0;
  for (let i = 0; i < 8; i++) {
    const shift = (4 * i + 31) & 31; // rotate those six bits to the top
    out |= SP[i]![(((r << shift) | (r >>> (32 - shift))) >>> 26) & 63]!;
  }
  return out >>> 0;
}

/** DES-encrypts the 64-bit block `x` under the zero key. */
export function desZeroKey(x: bigint): bigint {
  let [l, r] = permute64(IP_T, Number(x >> 32n) >>> 0, Number(x & 0xffffffffn) >>> 0);
  for (let round = 0; round < 16; round++) [l, r] = [r, (l ^ feistel(r)) >>> 0];
  // The output block is R16 L16 (the halves are not swapped after the last round).
  const [hi, lo] = permute64(FP_T, r, l);
  return (BigInt(hi) << 32n) | BigInt(lo);
}
