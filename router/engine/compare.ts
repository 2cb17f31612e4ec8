/**
 * Ordering and equality of values as Postgres sees them (C collation: text by code point;
 * numbers by value whatever JS type carries them; NULL larger than everything), so merged
 * shard results come out in the order one database would give.
 */
import { bytesToHex, type SqlType, type SqlValue } from '../../rpc/values.js';
import { compareDec, decToString, toDec } from '../../rpc/decimal.js';

const NUMERIC_TYPES = new Set<SqlType>(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric']);

const isNumber = (v: SqlValue): v is number | bigint => typeof v === 'number' || typeof v === 'bigint';

/** Whether values of this column compare as numbers (strings included: numeric is text in JS). */
export function numericColumn(type: SqlType | undefined, a: SqlValue, b: SqlValue): boolean {
  return (type !== undefined && NUMERIC_TYPES.has(type)) || isNumber(a) || isNumber(b);
}

/** UTF-16 code units reordered so that comparing them compares code points (UTF-8 byte order). */
function codePointUnit(u: number): number {
  if (u >= 0xd800 && u <= 0xdfff) return u + 0x2000;
  if (u >= 0xe000) return u - 0x800;
  return u;
}

export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointUnit(x) - codePointUnit(y);
  }
  return a.length - b.length;
}

function compareNumbers(a: SqlValue, b: SqlValue): number | undefined {
  // NaN is larger than every other number in Postgres.
  const nan = (v: SqlValue) => (typeof v === 'number' && Number.isNaN(v)) || v === 'NaN';
  if (nan(a) || nan(b)) return nan(a) && nan(b) ? 0 : nan(a) ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  const x = toDec(a);
  const y = toDec(b);
  if (x && y) return compareDec(x, y);
  const inf = (v: SqlValue) => (v === Infinity || v === 'Infinity' ? 1 : v === -Infinity || v === '-Infinity' ? -1 : 0);
  if (inf(a) || inf(b)) return inf(a) - inf(b);
  return undefined;
}

/** Compares two non-null values; `type` is the column's type when known. */
export function compareValues(a: SqlValue, b: SqlValue, type?: SqlType): number {
  if (numericColumn(type, a, b)) {
    const c = compareNumbers(a, b);
    if (c !== undefined) return Math.sign(c);
  }
  if (typeof a === 'string' && typeof b === 'string') return Math.sign(compareText(a, b));
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof Date && b instanceof Date) return Math.sign(a.getTime() - b.getTime());
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
    return Math.sign(a.length - b.length);
  }
  return Math.sign(compareText(keyText(a), keyText(b)));
}

function keyText(v: SqlValue): string {
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return bytesToHex(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A string equal for exactly the values Postgres holds equal (GROUP BY, DISTINCT). */
export function valueKey(v: SqlValue, type?: SqlType): string {
  if (v === null) return 'n';
  if (numericColumn(type, v, v)) {
    const d = toDec(v);
    if (d) return `d${decToString(d)}`;
    return `d${String(v)}`; // NaN, ±Infinity
  }
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'boolean') return v ? 'b1' : 'b0';
  if (v instanceof Date) return `t${v.getTime()}`;
  if (v instanceof Uint8Array) return `x${keyText(v)}`;
  return `j${keyText(v)}`;
}
