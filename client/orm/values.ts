/**
 * Values as node-postgres hands them to an ORM, made from the client's exact ones (rpc/values.ts),
 * shared by the Drizzle and Kysely adapters. node-postgres gives int8 and numeric as strings, json
 * parsed, bytea as a Buffer, and timestamps as Dates; Drizzle asks for timestamps and dates as
 * Postgres prints them instead and parses them itself. docs/orm.md says why each mapping.
 */
import { VitessError } from '../../rpc/errors.js';
import { timestampText, type Field, type SqlType, type SqlValue } from '../../rpc/values.js';

/** How timestamps and dates reach the ORM: `date` as node-postgres parses them, `text` as Postgres prints them (Drizzle). */
export type TimeMode = 'date' | 'text';

/** Buffer where there is one (Node, Workers with nodejs_compat), as node-postgres gives bytea; else the bytes. */
function bytes(v: Uint8Array): Uint8Array {
  const B = (globalThis as { Buffer?: { from(b: ArrayBufferLike, offset: number, length: number): Uint8Array } }).Buffer;
  return B ? B.from(v.buffer, v.byteOffset, v.byteLength) : v;
}

/** One value of a column of `type` as node-postgres (or, with `time: 'text'`, Drizzle's drivers) would give it. */
export function pgValue(type: SqlType, v: SqlValue, time: TimeMode): unknown {
  if (v === null) return null;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return bytes(v);
  if (v instanceof Date) return time === 'text' ? timestampText(v, type !== 'timestamp') : v;
  switch (type) {
    case 'int8':
    case 'numeric':
      return typeof v === 'number' ? String(v) : v;
    case 'date':
      // Dates are UTC midnights, as they travel (rpc/values.ts): a Worker's clock is UTC.
      return time === 'date' && typeof v === 'string' && /^\d{4}-\d\d-\d\d$/.test(v) ? new Date(`${v}T00:00:00Z`) : v;
    default:
      return v;
  }
}

/** A row as an object keyed by column name (node-postgres's default shape). */
export function pgRow(row: Record<string, SqlValue>, fields: readonly Field[], time: TimeMode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f.name] = pgValue(f.type, row[f.name] ?? null, time);
  return out;
}

/**
 * A row as an array in column order (node-postgres's `rowMode: 'array'`). Rows travel keyed by
 * name, so two columns of one name cannot both be told apart: refused, naming the column.
 */
export function pgRowArray(row: Record<string, SqlValue>, fields: readonly Field[], time: TimeMode): unknown[] {
  return fields.map((f) => pgValue(f.type, row[f.name] ?? null, time));
}

/** Throws when two result columns share a name (the rows keep one value per name). */
export function checkDistinctNames(fields: readonly Field[]): void {
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.name)) throw new VitessError('UNSUPPORTED', `the result has two columns named "${f.name}": give one of them an alias (AS)`);
    seen.add(f.name);
  }
}

/** A parameter as the client takes it: a Buffer as its bytes, undefined as NULL. */
export function sqlParam(v: unknown): SqlValue {
  if (v === undefined) return null;
  if (v instanceof Uint8Array && v.constructor !== Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return v as SqlValue;
}
