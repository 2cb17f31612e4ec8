/**
 * A change-stream position: how far a subscription has been delivered, per shard, as an opaque
 * string (like a bookmark, rpc/bookmark.ts). Shared by VTGate, which reads and advances it, and
 * the client, which computes the position after each event it hands out.
 *
 * Per shard a cursor is either
 *  - `L` (a number): every change of the records with LSN ≤ L has been delivered; or
 *  - `[L, k]`: records below L, and the first `k` changes of record L (a transaction whose
 *    changes were split over pages, or a consumer that stopped half-way through one).
 * `0` is the beginning of the log. A resumed stream starts right after the cursor, so resuming
 * from any event's position delivers nothing twice and loses nothing.
 */
import { VitessError } from './errors.js';

export type ShardCursor = number | [lsn: number, delivered: number];

export interface StreamPosition {
  keyspace: string;
  shards: Record<string, ShardCursor>;
}

const PREFIX = 'p1.';

const toBase64Url = (s: string): string => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromBase64Url = (s: string): string => atob(s.replace(/-/g, '+').replace(/_/g, '/'));

const lsnOk = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function validCursor(c: unknown): c is ShardCursor {
  if (lsnOk(c)) return true;
  return Array.isArray(c) && c.length === 2 && lsnOk(c[0]) && c[0] > 0 && lsnOk(c[1]) && c[1] > 0;
}

export function encodePosition(p: StreamPosition): string {
  return PREFIX + toBase64Url(JSON.stringify({ k: p.keyspace, s: p.shards }));
}

export const isPosition = (s: unknown): s is string => typeof s === 'string' && s.startsWith(PREFIX);

export function decodePosition(position: string): StreamPosition {
  try {
    if (!isPosition(position)) throw new Error('prefix');
    const j = JSON.parse(fromBase64Url(position.slice(PREFIX.length))) as { k?: unknown; s?: unknown };
    if (typeof j.k !== 'string' || !j.s || typeof j.s !== 'object' || Array.isArray(j.s)) throw new Error('shape');
    const shards = j.s as Record<string, unknown>;
    if (!Object.values(shards).every(validCursor)) throw new Error('cursor');
    return { keyspace: j.k, shards: shards as Record<string, ShardCursor> };
  } catch {
    throw new VitessError(
      'INVALID',
      `"${String(position).slice(0, 40)}" is not a subscription position VTGate issued (expected "now", "beginning" or an event's position)`,
    );
  }
}

/** The cursor after delivering change `seq` (0-based) of record `lsn`, which has `count` changes. */
export function cursorAfter(lsn: number, seq: number, count: number): ShardCursor {
  return seq + 1 >= count ? lsn : [lsn, seq + 1];
}

/** Where reading resumes: pull from `fromLsn`, skipping the first `skip` changes of that record. */
export function resumeAt(c: ShardCursor): { fromLsn: number; skip: number } {
  return typeof c === 'number' ? { fromLsn: c + 1, skip: 0 } : { fromLsn: c[0], skip: c[1] };
}

/** The LSN of the last record delivered completely. */
export const completeLsn = (c: ShardCursor): number => (typeof c === 'number' ? c : c[0] - 1);
