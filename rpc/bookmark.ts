/**
 * A bookmark: the per-shard LSNs a session has seen, as an opaque string (like a D1 bookmark).
 * Writes return one; reads carry it, so a replica serves them only once it has applied that far.
 */
import { VitessError } from './errors.js';

/** LSN per shard, keyed `keyspace/shard`. */
export type Positions = Record<string, number>;

const PREFIX = 'b1.';

const toBase64Url = (s: string): string => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromBase64Url = (s: string): string => atob(s.replace(/-/g, '+').replace(/_/g, '/'));

export function encodeBookmark(p: Positions): string {
  return PREFIX + toBase64Url(JSON.stringify(p));
}

export function decodeBookmark(bookmark: string | undefined | null): Positions {
  if (!bookmark) return {};
  try {
    if (!bookmark.startsWith(PREFIX)) throw new Error('prefix');
    const p = JSON.parse(fromBase64Url(bookmark.slice(PREFIX.length))) as unknown;
    if (!p || typeof p !== 'object' || Array.isArray(p) || !Object.values(p).every((v) => Number.isSafeInteger(v) && (v as number) >= 0))
      throw new Error('shape');
    return p as Positions;
  } catch {
    throw new VitessError('INVALID', `bookmark "${bookmark.slice(0, 40)}" is not one VTGate issued`);
  }
}

/** The later of two positions, shard by shard. */
export function mergePositions(a: Positions, b: Positions): Positions {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}

/**
 * The later of two bookmarks, shard by shard (`''`: none). A session keeps this of every answer
 * rather than the last one: answers of concurrent calls arrive in any order.
 */
export function mergeBookmarks(a: string, b: string): string {
  if (!a || !b) return a || b;
  return encodeBookmark(mergePositions(decodeBookmark(a), decodeBookmark(b)));
}
