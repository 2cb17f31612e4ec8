/**
 * Values between the Postgres wire protocol and the value model (rpc/values.ts), pure: type
 * OIDs for result columns, cells in Postgres's text and binary formats, and parameters decoded
 * from either format by their declared type.
 */
import { VitessError } from '../../rpc/errors.js';
import { bytesToHex, formatDate, isJsonObject, normalizeInt, timestampText, type Field, type SqlType, type SqlValue } from '../../rpc/values.js';

/** The type OIDs of pg_type that the proxy speaks. */
export const OID = {
  bool: 16,
  bytea: 17,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  json: 114,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

const TYPE_OID: Record<SqlType, number> = {
  bool: OID.bool,
  int2: OID.int2,
  int4: OID.int4,
  int8: OID.int8,
  float4: OID.float4,
  float8: OID.float8,
  numeric: OID.numeric,
  text: OID.text,
  json: OID.json,
  jsonb: OID.jsonb,
  bytea: OID.bytea,
  date: OID.date,
  timestamp: OID.timestamp,
  timestamptz: OID.timestamptz,
  uuid: OID.uuid,
  unknown: OID.text,
};

/** pg_type.typlen of the fixed-size types (RowDescription); -1 is variable length. */
const TYPE_SIZE: Partial<Record<number, number>> = {
  [OID.bool]: 1,
  [OID.int2]: 2,
  [OID.int4]: 4,
  [OID.int8]: 8,
  [OID.float4]: 4,
  [OID.float8]: 8,
  [OID.date]: 4,
  [OID.timestamp]: 8,
  [OID.timestamptz]: 8,
  [OID.uuid]: 16,
};

export const typeSize = (oid: number): number => TYPE_SIZE[oid] ?? -1;

/** The type a column's values suggest, for a column whose engine could not name one (an expression on SQLite). */
function typeOfValue(v: SqlValue): SqlType {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int8';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int8' : 'float8';
  if (v instanceof Date) return 'timestamptz';
  if (v instanceof Uint8Array) return 'bytea';
  if (isJsonObject(v)) return 'jsonb';
  return 'text';
}

export interface Column {
  name: string;
  oid: number;
}

/**
 * The columns of a result: each field's type as its OID; a field typed `unknown` takes the type of
 * its first non-null value. Without fields (a write's RETURNING rows), the row keys name them.
 */
export function columnsOf(fields: readonly Field[], rows: readonly Record<string, SqlValue>[]): Column[] {
  const named: Field[] = fields.length > 0 ? [...fields] : Object.keys(rows[0] ?? {}).map((name) => ({ name, type: 'unknown' as const }));
  return named.map((f) => {
    if (f.type !== 'unknown') return { name: f.name, oid: TYPE_OID[f.type] };
    const v = rows.find((r) => r[f.name] !== null && r[f.name] !== undefined)?.[f.name];
    return { name: f.name, oid: TYPE_OID[v === undefined ? 'text' : typeOfValue(v)] };
  });
}

// ---- text format ----------------------------------------------------------------------------

function numberText(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

/** A cell in Postgres's text format for a column of type `oid`. */
export function toText(v: SqlValue, oid: number): string {
  if (v === null) throw new TypeError('NULL has no text form');
  if (oid === OID.json || oid === OID.jsonb) return JSON.stringify(v instanceof Uint8Array ? new TextDecoder().decode(v) : v);
  if (typeof v === 'boolean') return oid === OID.bool ? (v ? 't' : 'f') : String(v);
  if (typeof v === 'number') return oid === OID.bool ? (v ? 't' : 'f') : numberText(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return v;
  if (v instanceof Date) return oid === OID.date ? formatDate(v) : timestampText(v, oid !== OID.timestamp);
  if (v instanceof Uint8Array) return `\\x${bytesToHex(v)}`;
  return JSON.stringify(v);
}

// ---- binary format --------------------------------------------------------------------------

/** 2000-01-01T00:00:00Z, Postgres's epoch for dates and timestamps. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;

function int(v: SqlValue, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return BigInt(v.trim());
  throw new VitessError('INVALID', `${JSON.stringify(typeof v === 'string' ? v : String(v))} is not an ${what}`);
}

function instant(v: SqlValue): Date {
  const d = v instanceof Date ? v : new Date(typeof v === 'string' ? v : Number.NaN);
  if (Number.isNaN(d.getTime())) throw new VitessError('INVALID', `${JSON.stringify(String(v))} is not a timestamp`);
  return d;
}

/** Postgres's binary numeric: digits in base 10000 around the decimal point, and the scale. */
export function numericBinary(text: string): Buffer {
  const t = text.trim();
  const special = { NaN: 0xc000, Infinity: 0xd000, '-Infinity': 0xf000 }[t];
  if (special !== undefined) return header(0, 0, special, 0);
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === '' && !m[3])) throw new VitessError('INVALID', `${JSON.stringify(text)} is not a numeric`);
  const [, sign, intPart = '', frac = ''] = m;
  const dscale = frac.length;
  // Pad both sides to whole groups of four digits.
  const intDigits = intPart.replace(/^0+/, '');
  const left = intDigits.padStart(Math.ceil(intDigits.length / 4) * 4, '0');
  const right = frac.padEnd(Math.ceil(frac.length / 4) * 4, '0');
  let groups = `${left}${right}`.match(/\d{4}/g)?.map(Number) ?? [];
  let weight = left.length / 4 - 1;
  while (groups.length > 0 && groups[0] === 0) {
    groups.shift();
    weight--;
  }
  while (groups.length > 0 && groups[groups.length - 1] === 0) groups = groups.slice(0, -1);
  if (groups.length === 0) weight = 0;
  const buf = header(groups.length, weight, sign === '-' && groups.length > 0 ? 0x4000 : 0, dscale);
  const digits = Buffer.alloc(groups.length * 2);
  for (const [i, g] of groups.entries()) digits.writeInt16BE(g, i * 2);
  return Buffer.concat([buf, digits]);
}

function header(ndigits: number, weight: number, sign: number, dscale: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt16BE(ndigits, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(sign, 4);
  b.writeInt16BE(dscale, 6);
  return b;
}

function numericFromBinary(b: Buffer): string {
  const ndigits = b.readInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readInt16BE(6);
  if (sign === 0xc000) return 'NaN';
  if (sign === 0xd000) return 'Infinity';
  if (sign === 0xf000) return '-Infinity';
  const groups = Array.from({ length: ndigits }, (_, i) => b.readInt16BE(8 + i * 2));
  let intText = '';
  for (let w = weight, i = 0; w >= 0; w--, i++) intText += String(groups[i] ?? 0).padStart(4, '0');
  let fracText = '';
  for (let i = Math.max(0, weight + 1); fracText.length < dscale; i++) fracText += String(groups[i] ?? 0).padStart(4, '0');
  // Digit groups before the first one that is part of the number (weight < -1) are zeros.
  if (weight < -1) fracText = '0'.repeat((-1 - weight) * 4) + fracText;
  const body = `${intText.replace(/^0+/, '') || '0'}${dscale > 0 ? `.${fracText.slice(0, dscale)}` : ''}`;
  return sign === 0x4000 ? `-${body}` : body;
}

function uuidBytes(v: SqlValue): Buffer {
  const hex = typeof v === 'string' ? v.replace(/-/g, '') : '';
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new VitessError('INVALID', `${JSON.stringify(String(v))} is not a uuid`);
  return Buffer.from(hex, 'hex');
}

/** A cell in Postgres's binary format for a column of type `oid`. */
export function toBinary(v: SqlValue, oid: number): Buffer {
  if (v === null) throw new TypeError('NULL has no binary form');
  switch (oid) {
    case OID.bool:
      return Buffer.from([v === true || v === 1 ? 1 : 0]);
    case OID.int2: {
      const b = Buffer.alloc(2);
      b.writeInt16BE(Number(int(v, 'int2')));
      return b;
    }
    case OID.int4: {
      const b = Buffer.alloc(4);
      b.writeInt32BE(Number(int(v, 'int4')));
      return b;
    }
    case OID.int8: {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(int(v, 'int8'));
      return b;
    }
    case OID.float4:
    case OID.float8: {
      const b = Buffer.alloc(oid === OID.float4 ? 4 : 8);
      const n = Number(v);
      if (oid === OID.float4) b.writeFloatBE(n);
      else b.writeDoubleBE(n);
      return b;
    }
    case OID.numeric:
      return numericBinary(typeof v === 'string' ? v : toText(v, OID.numeric));
    case OID.bytea:
      return v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(toText(v, OID.text));
    case OID.jsonb:
      return Buffer.concat([Buffer.from([1]), Buffer.from(toText(v, oid))]);
    case OID.date: {
      const d = v instanceof Date ? v : instant(`${String(v)}T00:00:00Z`);
      const b = Buffer.alloc(4);
      b.writeInt32BE(Math.floor((d.getTime() - PG_EPOCH_MS) / DAY_MS));
      return b;
    }
    case OID.timestamp:
    case OID.timestamptz: {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(instant(v).getTime() - PG_EPOCH_MS) * 1000n);
      return b;
    }
    case OID.uuid:
      return uuidBytes(v);
    default:
      return Buffer.from(toText(v, oid));
  }
}

// ---- parameters -----------------------------------------------------------------------------

const TRUE = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE = new Set(['f', 'false', 'n', 'no', 'off', '0']);
const INTEGER = /^(0|-?[1-9]\d*)$/;
/** A timestamp with a zone, as node-postgres sends a Date (`2024-01-01T12:00:00.000+01:00`) or Postgres prints one. */
const ZONED_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)$/;

const integer = (text: string): number | bigint => {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
};

/** A timestamp's text (Postgres's or ISO-8601) as a Date; without a zone it is UTC. */
function parseTimestamp(text: string): Date {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(text.trim());
  const zone = m?.[3] ? (m[3] === 'Z' ? 'Z' : /^[+-]\d{2}$/.test(m[3]) ? `${m[3]}:00` : m[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')) : 'Z';
  const d = m ? new Date(`${m[1]}T${m[2] ?? '00:00:00'}${zone}`) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) throw new VitessError('INVALID', `invalid input syntax for type timestamp: ${JSON.stringify(text)}`);
  return d;
}

/**
 * A parameter sent in text format with no declared type (node-postgres declares none), taken as
 * Postgres would resolve it against the column: an integer, `true`/`false`, a timestamp with a
 * zone, else text. The engines then see the typed value (SQLite has no type to resolve it by).
 */
export function untypedParam(text: string): SqlValue {
  if (INTEGER.test(text)) return integer(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (ZONED_TIMESTAMP.test(text)) return parseTimestamp(text);
  return text;
}

function invalid(type: string, text: string): never {
  throw new VitessError('INVALID', `invalid input syntax for type ${type}: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`);
}

/** A parameter in text format, by the type the client declared for it (0: none). */
export function paramFromText(text: string, oid: number): SqlValue {
  switch (oid) {
    case 0:
    case OID.unknown:
      return untypedParam(text);
    case OID.bool: {
      const t = text.trim().toLowerCase();
      return TRUE.has(t) ? true : FALSE.has(t) ? false : invalid('boolean', text);
    }
    case OID.int2:
    case OID.int4:
    case OID.int8:
      return /^\s*[+-]?\d+\s*$/.test(text) ? integer(text.trim().replace(/^\+/, '')) : invalid('integer', text);
    case OID.float4:
    case OID.float8: {
      const t = text.trim();
      const n = /^-?infinity$/i.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : Number(t);
      return t !== '' && (!Number.isNaN(n) || /^nan$/i.test(t)) ? n : invalid('double precision', text);
    }
    case OID.numeric:
      return /^\s*([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|NaN|[+-]?Infinity)\s*$/.test(text) ? text.trim() : invalid('numeric', text);
    case OID.json:
    case OID.jsonb:
      try {
        return JSON.parse(text) as SqlValue;
      } catch {
        return invalid('json', text);
      }
    case OID.bytea:
      if (text.startsWith('\\x')) return /^\\x([0-9a-f]{2})*$/i.test(text) ? new Uint8Array(Buffer.from(text.slice(2), 'hex')) : invalid('bytea', text);
      return new Uint8Array(Buffer.from(text));
    case OID.timestamp:
    case OID.timestamptz:
      return parseTimestamp(text);
    case OID.date:
      return /^\d{4}-\d{2}-\d{2}$/.test(text.trim()) ? text.trim() : invalid('date', text);
    default:
      // text, varchar, uuid and the rest: the engine reads the text as Postgres would.
      return text;
  }
}

/** A parameter in binary format, by its declared type; undeclared bytes are a bytea (node-postgres sends a Buffer so). */
export function paramFromBinary(b: Buffer, oid: number): SqlValue {
  const size = (n: number, type: string) => {
    if (b.length !== n) throw new VitessError('INVALID', `a binary ${type} parameter is ${n} bytes, not ${b.length}`);
  };
  switch (oid) {
    case 0:
    case OID.bytea:
      return new Uint8Array(b);
    case OID.bool:
      size(1, 'bool');
      return b[0] !== 0;
    case OID.int2:
      size(2, 'int2');
      return b.readInt16BE(0);
    case OID.int4:
      size(4, 'int4');
      return b.readInt32BE(0);
    case OID.int8:
      size(8, 'int8');
      return normalizeInt(b.readBigInt64BE(0));
    case OID.float4:
      size(4, 'float4');
      return b.readFloatBE(0);
    case OID.float8:
      size(8, 'float8');
      return b.readDoubleBE(0);
    case OID.numeric:
      return numericFromBinary(b);
    case OID.json:
      return JSON.parse(b.toString('utf8')) as SqlValue;
    case OID.jsonb:
      if (b[0] !== 1) throw new VitessError('INVALID', `binary jsonb version ${b[0]} is not supported`);
      return JSON.parse(b.subarray(1).toString('utf8')) as SqlValue;
    case OID.timestamp:
    case OID.timestamptz:
      size(8, 'timestamp');
      return new Date(PG_EPOCH_MS + Number(b.readBigInt64BE(0) / 1000n));
    case OID.date:
      size(4, 'date');
      return formatDate(new Date(PG_EPOCH_MS + b.readInt32BE(0) * DAY_MS));
    case OID.uuid: {
      size(16, 'uuid');
      const h = b.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case OID.text:
    case OID.varchar:
    case OID.bpchar:
    case OID.name:
    case OID.unknown:
      return b.toString('utf8');
    default:
      throw new VitessError('UNSUPPORTED', `parameters of type OID ${oid} in binary format are not supported by vitess proxy; send them as text`);
  }
}
