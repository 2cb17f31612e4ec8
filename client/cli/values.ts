/**
 * Values on the command line, pure: parameters typed from their text, cells printed as text,
 * and CSV fields converted to the column's type (`vitess load`).
 */
import { VitessError } from '../../rpc/errors.js';
import { bytesToHex, fromWire, isJsonObject, type SqlType, type SqlValue } from '../../rpc/values.js';

const INTEGER = /^-?\d+$/;

/** An integer as a number when exact, else a bigint. */
function integer(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/**
 * A positional parameter: an integer (exact: bigint beyond 2^53), or any JSON value — `3.5`,
 * `true`, `null`, `"42"` (the string), `{"a":1}` (JSON), tagged values such as
 * `{"$ts":"2024-01-01T00:00:00Z"}` (rpc/values.ts) — and otherwise the text itself. The type
 * matters: the vindex hashes the integer 1 and the string '1' to different shards.
 */
export function parseParam(text: string): SqlValue {
  if (INTEGER.test(text)) return integer(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  return jsonValue(parsed);
}

const isTagged = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && Object.keys(v)[0]!.startsWith('$');

/** A parsed JSON value as a SQL value: tagged values (`{"$int8": …}`) decoded, other objects are JSON. */
export function jsonValue(v: unknown): SqlValue {
  return isTagged(v) ? fromWire(v) : (v as SqlValue);
}

/** A value as a table cell: NULL, ISO timestamps, bytea as `\x…` hex, JSON as JSON. */
export function formatCell(v: SqlValue | undefined): string {
  if (v === null || v === undefined) return 'NULL';
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return `\\x${bytesToHex(v)}`;
  if (isJsonObject(v)) return JSON.stringify(v);
  return String(v);
}

const TRUE = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE = new Set(['f', 'false', 'n', 'no', 'off', '0']);

/**
 * A CSV field as a value of the column's SQL type. An empty field is NULL. Text that is not a
 * value of the type fails with an error naming the column and the value.
 */
export function csvValue(text: string, type: SqlType, column: string): SqlValue {
  if (text === '') return null;
  const bad = (): never => {
    throw new VitessError(
      'INVALID',
      `column "${column}" is ${type}: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)} is not a ${type} value`,
      { columns: [column] },
    );
  };
  switch (type) {
    case 'int2':
    case 'int4':
    case 'int8':
      return INTEGER.test(text.trim()) ? integer(text.trim()) : bad();
    case 'float4':
    case 'float8': {
      const n = Number(text);
      return text.trim() !== '' && !Number.isNaN(n) ? n : /^-?(inf|infinity|nan)$/i.test(text.trim()) ? text : bad();
    }
    case 'numeric':
      return /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(text) ? text.trim() : bad();
    case 'bool': {
      const t = text.trim().toLowerCase();
      return TRUE.has(t) ? true : FALSE.has(t) ? false : bad();
    }
    case 'json':
    case 'jsonb':
      try {
        return JSON.parse(text) as SqlValue;
      } catch {
        return bad();
      }
    case 'bytea':
      return /^\\x([0-9a-f]{2})*$/i.test(text) ? Uint8Array.from(text.slice(2).match(/../g) ?? [], (h) => parseInt(h, 16)) : bad();
    case 'timestamp':
    case 'timestamptz': {
      const d = new Date(text);
      return Number.isNaN(d.getTime()) ? bad() : d;
    }
    default:
      return text;
  }
}
