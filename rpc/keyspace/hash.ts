/**
 * Vindexes: a column value → a keyspace id (8 bytes as 16 hex digits), which picks the shard.
 *
 * A value is first put in canonical form, so that values the database holds equal map to the
 * same id whatever JS type carried them (5, 5n, '5' and '5.0' in an int column are one value):
 *  - integers (number, bigint, or integer text, within int64) → the integer;
 *  - everything else → canonical text bytes: numeric text canonicalized, uuids lowercased,
 *    instants (Date, or text with a date and time) as ISO-8601 UTC, or YYYY-MM-DD at midnight
 *    (so a DATE compared with a Date agrees), bytea as its bytes, JSON as JSON text.
 * The form does not depend on the column's type, so routing never depends on what is known of it.
 * Two different values may share an id (that only co-locates them); equal values never differ.
 *
 *  - `hash`: integers → DES(zero key) of the 8 big-endian bytes, exactly Vitess's `hash`;
 *    other values → xxHash64 of the canonical bytes, exactly Vitess's `xxhash`.
 *  - `consistent_hash`: xxHash64 of the canonical text for every value (an integer as its
 *    decimal digits): the same function for every column type.
 *  - `range` (router/vindex/vindex.ts): the first range holding the value names the shard.
 *
 * In rpc/ because server, client and tablets must all compute the same id (routing, embedded
 * replicas and snapshots filtered by key range).
 */
import { canonicalNumeric, isJsonObject, isNumericText, type SqlValue } from '../values.js';
import { desZeroKey } from './des.js';
import { toKeyspaceId, type KeyspaceId } from './keyrange.js';
import { xxhash64 } from './xxhash64.js';

export type CanonicalKey = { int: bigint } | { bytes: Uint8Array };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DATETIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const encoder = new TextEncoder();

/** The canonical form of a value. null → undefined (a NULL has no keyspace id). */
export function canonicalKey(v: SqlValue): CanonicalKey | undefined {
  if (v === null) return undefined;
  if (v instanceof Uint8Array) return { bytes: v };
  if (v instanceof Date) return text(timeKey(v));
  if (isJsonObject(v)) return text(JSON.stringify(v));
  if (typeof v === 'boolean') return text(v ? 'true' : 'false');
  if (typeof v === 'bigint') return intOrText(v);
  if (typeof v === 'number') return Number.isInteger(v) ? intOrText(BigInt(v)) : text(Number.isFinite(v) ? canonicalNumeric(String(v)) : String(v));
  // A string: the database compares numbers as numbers, times as instants, uuids without case.
  if (isNumericText(v)) {
    const c = canonicalNumeric(v.trim());
    return /^-?\d+$/.test(c) ? intOrText(BigInt(c)) : text(c);
  }
  const t = DATETIME.exec(v);
  if (t) {
    const d = new Date(`${t[1]}T${t[2]}${t[3] ?? 'Z'}`);
    if (!Number.isNaN(d.getTime())) return text(timeKey(d));
  }
  if (UUID.test(v)) return text(v.toLowerCase());
  return text(v);
}

/** An instant as ISO-8601 UTC; midnight as the bare date, so a DATE and its Date agree. */
function timeKey(d: Date): string {
  const iso = d.toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
}

function intOrText(i: bigint): CanonicalKey {
  return i >= INT64_MIN && i <= INT64_MAX ? { int: i } : text(i.toString());
}

function text(s: string): CanonicalKey {
  return { bytes: encoder.encode(s) };
}

/** The `hash` vindex. */
export function hashId(v: SqlValue): KeyspaceId | undefined {
  const k = canonicalKey(v);
  if (!k) return undefined;
  return toKeyspaceId('int' in k ? desZeroKey(BigInt.asUintN(64, k.int)) : xxhash64(k.bytes));
}

/** The `consistent_hash` vindex. */
export function consistentHashId(v: SqlValue): KeyspaceId | undefined {
  const k = canonicalKey(v);
  if (!k) return undefined;
  return toKeyspaceId(xxhash64('int' in k ? encoder.encode(k.int.toString()) : k.bytes));
}
