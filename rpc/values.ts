/**
 * The engine-neutral SQL value model shared by every layer.
 *
 * In JS a value is one of: null, boolean, number (int within ±2^53-1, or float), bigint (int8
 * beyond 2^53), string (text, uuid, numeric as an exact decimal string, date as YYYY-MM-DD),
 * Date (timestamp, timestamptz), Uint8Array (bytea), or a JSON object/array (json, jsonb).
 * capnweb carries all of these natively; JSON needs the tagged encoding below.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type SqlValue = null | boolean | number | bigint | string | Date | Uint8Array | JsonValue[] | { [key: string]: JsonValue };

/** Column types as the client sees them (Postgres names; varchar and friends report as text). */
export const SQL_TYPES = [
  'bool',
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'numeric',
  'text',
  'json',
  'jsonb',
  'bytea',
  'date',
  'timestamp',
  'timestamptz',
  'uuid',
  'unknown',
] as const;
export type SqlType = (typeof SQL_TYPES)[number];

export interface Field {
  name: string;
  type: SqlType;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** int8 values inside the safe range are numbers, outside it bigints: exact either way. */
export function normalizeInt(v: bigint | number): number | bigint {
  if (typeof v === 'number') return v;
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
}

const NUMERIC_PARTS = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Decimal text as Postgres prints a numeric it read from `text`: the written scale kept (`1.50`
 * stays `1.50`, `1.50e1` is `15.0`), no exponent, no leading zeros, no "-0". NaN and Infinity
 * pass through as Postgres spells them.
 */
export function numericText(text: string): string {
  const m = NUMERIC_PARTS.exec(text.trim());
  if (!m || !(m[2] || m[3])) return text;
  const [, sign, intRaw = '', fracRaw = '', expRaw] = m;
  const exp = expRaw ? Number(expRaw) : 0;
  const scale = Math.max(0, fracRaw.length - exp);
  let digits = intRaw + fracRaw;
  let point = intRaw.length + exp;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  digits = digits.padEnd(point + scale, '0');
  const int = digits.slice(0, point).replace(/^0+/, '') || '0';
  const frac = digits.slice(point, point + scale);
  const body = frac ? `${int}.${frac}` : int;
  return sign === '-' && /[1-9]/.test(body) ? `-${body}` : body;
}

/**
 * Canonical exact decimal text: `numericText` without trailing fractional zeros. Equal values,
 * equal text: what a vindex hashes and what merges compare.
 */
export function canonicalNumeric(text: string): string {
  const t = numericText(text);
  return t.includes('.') && /^-?\d/.test(t) ? t.replace(/\.?0+$/, '') : t;
}

/**
 * A numeric at a declared scale, as Postgres prints a `numeric(p, s)`: rounded half away from
 * zero, then padded (`7.5` at scale 2 is `7.50`).
 */
export function numericAtScale(text: string, scale: number): string {
  const t = numericText(text);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) return t;
  const [, sign, int, frac = ''] = m;
  if (frac.length <= scale) return `${t}${frac || !scale ? '' : '.'}${'0'.repeat(scale - frac.length)}`;
  let units = BigInt(int + frac.slice(0, scale));
  if (frac.charCodeAt(scale) >= 53) units += 1n; // the next digit is 5 or more
  const digits = units.toString().padStart(scale + 1, '0');
  const body = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return sign && units !== 0n ? `-${body}` : body;
}

const NUMERIC_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Whether a string is a decimal number (as Postgres would read it for a numeric column). */
export const isNumericText = (s: string): boolean => NUMERIC_TEXT.test(s.trim());

/** Dates travel as `YYYY-MM-DD` so no time zone can shift them. */
export function formatDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** An instant as Postgres prints a timestamp in the UTC time zone: `2024-01-01 12:00:00.5`, `+00` after it for timestamptz. */
export function timestampText(d: Date, withZone: boolean): string {
  const iso = d.toISOString(); // 2024-01-01T12:00:00.500Z
  const ms = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 19).replace('T', ' ')}${ms ? `.${ms}` : ''}${withZone ? '+00' : ''}`;
}

export function isJsonObject(v: unknown): v is JsonValue[] | { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !(v instanceof Date) && !(v instanceof Uint8Array);
}

// ---- JSON wire encoding -------------------------------------------------------------------
// Scalars that JSON holds exactly stay bare; everything else is a one-key tagged object, and
// every object on the wire is a tag, so a JSON value can never be mistaken for another type.

export type WireValue =
  | null
  | boolean
  | number
  | string
  | { $int8: string }
  | { $float: 'NaN' | 'Infinity' | '-Infinity' | '-0' }
  | { $ts: string }
  | { $bytea: string }
  | { $json: JsonValue };

export function toWire(v: SqlValue): WireValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0) ? v : { $float: (Object.is(v, -0) ? '-0' : String(v)) as 'NaN' };
  if (typeof v === 'bigint') return { $int8: v.toString() };
  if (v instanceof Date) return { $ts: v.toISOString() };
  if (v instanceof Uint8Array) return { $bytea: bytesToBase64(v) };
  return { $json: v };
}

/** A row (or key) with every value in the wire encoding, and back. */
export const rowToWire = (row: Record<string, SqlValue>): Record<string, WireValue> => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toWire(v)]));

export const rowFromWire = (row: Record<string, unknown>): Record<string, SqlValue> =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, fromWire(v)]));

export function fromWire(w: unknown): SqlValue {
  if (w === null || typeof w === 'boolean' || typeof w === 'string' || typeof w === 'number') return w;
  if (w === undefined) return null;
  if (typeof w !== 'object' || Array.isArray(w)) throw new TypeError(`not a wire value: ${JSON.stringify(w)}`);
  const tag = w as Record<string, unknown>;
  if (typeof tag.$int8 === 'string') return normalizeInt(BigInt(tag.$int8));
  if (typeof tag.$float === 'string') return Number(tag.$float);
  if (typeof tag.$ts === 'string') return new Date(tag.$ts);
  if (typeof tag.$bytea === 'string') return base64ToBytes(tag.$bytea);
  if ('$json' in tag) return tag.$json as JsonValue;
  // Two forms only SQLite's capture triggers write (SQL has hex but no base64, and no shortest
  // round-trip text for a double): toWire never produces them.
  if (typeof tag.$hex === 'string') return hexToBytes(tag.$hex);
  if (typeof tag.$numeric === 'number') return canonicalNumeric(String(tag.$numeric));
  throw new TypeError(`unknown wire tag: ${Object.keys(tag).join(', ')}`);
}

function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Bytes as lowercase hex, two digits each (Postgres's `\x…` text form without the prefix). */
export const bytesToHex = (bytes: Uint8Array): string => Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// ---- capnweb encoding -----------------------------------------------------------------------
// capnweb passes bigint, Date and bytes natively, but drops object keys that shadow
// Object.prototype members ("toString", "constructor", …): JSON values cross it as JSON text.

// It also sends -0 as 0, so that one number travels tagged.

export type RpcValue = Exclude<SqlValue, JsonValue[] | { [key: string]: JsonValue }> | { $json: string } | { $float: '-0' };

export function toRpc(v: SqlValue): RpcValue {
  if (Object.is(v, -0)) return { $float: '-0' };
  return isJsonObject(v) ? { $json: JSON.stringify(v) } : v;
}

export function fromRpc(v: RpcValue): SqlValue {
  if (v instanceof Uint8Array) return v.constructor === Uint8Array ? v : new Uint8Array(v);
  if (!isJsonObject(v)) return v;
  return '$float' in v ? -0 : (JSON.parse(v.$json) as JsonValue);
}
