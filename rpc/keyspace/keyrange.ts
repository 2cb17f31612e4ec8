/**
 * Key ranges in Vitess notation. A keyspace id is 8 bytes, written here as 16 lowercase hex
 * digits so that string order is byte order. A shard named `40-80` holds the ids whose bytes
 * are in [0x40, 0x80): `start <= id < end`, an empty bound meaning the start or end of the space.
 */
export type KeyspaceId = string;

export interface KeyRange {
  /** The shard's name, e.g. `40-80`, `-80`, `c0-`, or `-` for the whole space. */
  name: string;
  /** Lowercase hex, '' = the start of the space. */
  start: string;
  /** Lowercase hex, '' = the end of the space. */
  end: string;
}

const HEX = /^(?:[0-9a-f]{2})*$/;

/** Parses a shard name; returns an error message when it is not a key range. */
export function parseKeyRange(name: string): KeyRange | string {
  const parts = name.split('-');
  if (parts.length !== 2) return `"${name}" is not a key range: write it as start-end in hex, e.g. "40-80", "-80", "80-"`;
  const [start, end] = parts as [string, string];
  for (const bound of [start, end]) {
    if (!HEX.test(bound)) return `"${name}" is not a key range: "${bound}" must be lowercase hex with an even number of digits`;
  }
  if (end !== '' && start >= end) return `"${name}" is not a key range: start must be below end`;
  return { name, start, end };
}

/** Checks that ranges are in order, leave no gap and overlap nowhere; returns an error or undefined. */
export function checkCoverage(ranges: KeyRange[]): string | undefined {
  let expect = '';
  for (const [i, r] of ranges.entries()) {
    if (r.start !== expect) {
      return i === 0
        ? `the first shard must start at the beginning of the key space ("-…"), not at "${r.start}"`
        : `shard "${r.name}" must start where the previous one ends ("${expect}"): shards must be in order, without gaps or overlaps`;
    }
    if (r.end === '' && i !== ranges.length - 1) return `shard "${r.name}" reaches the end of the key space, so it must be the last`;
    expect = r.end;
  }
  if (expect !== '') return `the last shard must reach the end of the key space ("…-"), not stop at "${expect}"`;
  return undefined;
}

/** `n` equal ranges (n a power of two up to 65536): 4 → `-40 40-80 80-c0 c0-`. */
export function equalRanges(n: number): string[] {
  if (n === 1) return ['-'];
  const digits = n <= 256 ? 2 : 4;
  const step = (digits === 2 ? 256 : 65536) / n;
  const hex = (i: number) => (i === 0 || i === n ? '' : (i * step).toString(16).padStart(digits, '0'));
  return Array.from({ length: n }, (_, i) => `${hex(i)}-${hex(i + 1)}`);
}

const rangeCache = new Map<string, KeyRange>();
function rangeOf(name: string): KeyRange {
  let r = rangeCache.get(name);
  if (!r) {
    const parsed = parseKeyRange(name);
    if (typeof parsed === 'string') throw new Error(parsed);
    rangeCache.set(name, (r = parsed));
  }
  return r;
}

export function inRange(id: KeyspaceId, shard: string): boolean {
  const r = rangeOf(shard);
  return id >= r.start && (r.end === '' || id < r.end);
}

/** The shard (by name) whose key range holds `id`. */
export function shardFor(id: KeyspaceId, shards: readonly string[]): string {
  const hit = shards.find((s) => inRange(id, s));
  if (hit === undefined) throw new Error(`keyspace id ${id} is in no shard of [${shards.join(', ')}]`);
  return hit;
}

/** The smallest keyspace id in a shard: what the `range` vindex maps a value to. */
export function firstId(shard: string): KeyspaceId {
  return rangeOf(shard).start.padEnd(16, '0');
}

export function toKeyspaceId(x: bigint): KeyspaceId {
  return BigInt.asUintN(64, x).toString(16).padStart(16, '0');
}
