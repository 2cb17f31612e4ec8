/**
 * Exact decimal arithmetic on numeric strings (see values.ts), as bigint scaled by a power of ten:
 * SUM and AVG of `numeric` merge across shards without rounding, and a SQLite shard divides as
 * Postgres does, at the scale Postgres gives them.
 */
import { canonicalNumeric, isNumericText } from './values.js';

export interface Dec {
  /** The value times 10^scale. */
  units: bigint;
  scale: number;
}

/** Parses a number, bigint or numeric text; undefined for anything else (NaN, Infinity, text). */
export function toDec(v: unknown): Dec | undefined {
  let text: string;
  if (typeof v === 'bigint') return { units: v, scale: 0 };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return undefined;
    text = String(v);
  } else if (typeof v === 'string' && isNumericText(v)) {
    text = v;
  } else {
    return undefined;
  }
  // Plain decimal text keeps its scale (1.50 has two digits, as Postgres keeps them); exponents are read out.
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/.exec(text) ?? /^(-?)(\d+)(?:\.(\d+))?$/.exec(canonicalNumeric(text))!;
  const [sign, int, frac] = [m[1], m[2] || '0', m[3] ?? ''];
  const units = BigInt(int + frac);
  return { units: sign === '-' ? -units : units, scale: frac.length };
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.units * 10n ** BigInt(scale - a.scale), b.units * 10n ** BigInt(scale - b.scale), scale];
}

export function addDec(a: Dec, b: Dec): Dec {
  const [x, y, scale] = align(a, b);
  return { units: x + y, scale };
}

export function compareDec(a: Dec, b: Dec): number {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** As Postgres prints a numeric: every digit of its scale (1.50 + 2.5 is 4.00). */
export function decText(d: Dec): string {
  const neg = d.units < 0n;
  const digits = (neg ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const int = digits.slice(0, digits.length - d.scale);
  const frac = digits.slice(digits.length - d.scale);
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** Canonical text (4 for 4.00): equal values, equal text. */
export const decToString = (d: Dec): string => canonicalNumeric(decText(d));

/** Digits of |units| before the point (0 when below 1), the basis of Postgres's weight. */
function intDigits(d: Dec): number {
  const abs = d.units < 0n ? -d.units : d.units;
  return Math.max(abs.toString().length - d.scale, 0);
}

/**
 * a / b rounded the way Postgres's `numeric_div` rounds (select_div_scale in numeric.c): the
 * result keeps at least 16 significant digits, and at least the inputs' scales, rounding half
 * away from zero. AVG(x) = SUM(x) / COUNT(x) through this matches Postgres digit for digit.
 */
export function divDec(a: Dec, b: Dec): Dec {
  if (b.units === 0n) throw new RangeError('division by zero');
  const rscale = Math.min(Math.max(16 - 4 * quotientWeight(a, b), a.scale, b.scale, 0), 1000);
  // q = a / b * 10^rscale, computed on integers: (a.units * 10^(rscale + b.scale)) / (b.units * 10^a.scale).
  const num = a.units * 10n ** BigInt(rscale + b.scale);
  const den = b.units * 10n ** BigInt(a.scale);
  let q = num / den;
  const r = num % den;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= (den < 0n ? -den : den)) q += num < 0n === den < 0n ? 1n : -1n;
  return { units: q, scale: rscale };
}

/**
 * Postgres's estimate of the quotient's weight in base-10000 digits: the weight of each
 * operand's first nonzero base-10000 digit, minus one when a's first digit is not above b's.
 */
function quotientWeight(a: Dec, b: Dec): number {
  const [wa, fa] = nbaseLead(a);
  const [wb, fb] = nbaseLead(b);
  return wa - wb - (fa <= fb ? 1 : 0);
}

/** [weight, first digit] of a value written in base 10000 (Postgres's NBASE). */
function nbaseLead(d: Dec): [number, number] {
  if (d.units === 0n) return [0, 0];
  const abs = d.units < 0n ? -d.units : d.units;
  // Pad the fraction to whole groups of 4 and the integer part to whole groups of 4.
  const fracGroups = Math.ceil(d.scale / 4);
  const scaled = (abs * 10n ** BigInt(fracGroups * 4 - d.scale)).toString();
  const intLen = intDigits(d);
  const padded = scaled.padStart(Math.ceil(Math.max(intLen, 1) / 4) * 4 + fracGroups * 4, '0');
  const groups = padded.match(/.{4}/g)!.map(Number);
  const intGroups = groups.length - fracGroups;
  const i = groups.findIndex((g) => g !== 0);
  return [intGroups - 1 - i, groups[i]!];
}
