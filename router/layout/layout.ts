/**
 * A keyspace's shard layout as runtime state: which key ranges it is split into, at which
 * version. The VSCHEMA var seeds it (version 1); the keyspace's layout keeper
 * (router/layout/layout-store.ts, in the VTCoordinator instance `topology/<keyspace>`) keeps it
 * and bumps the version on every change. VTGate stamps each shard request with the version it
 * routed by; a tablet told of a newer version refuses an older stamp (primary/layout-fence.ts),
 * and VTGate then reads the layout again and retries (docs/resharding.md).
 */
import { asVitessError, STALE_LAYOUT, VitessError } from '../../rpc/errors.js';
import { checkCoverage, parseKeyRange, type KeyRange } from '../../rpc/keyspace/keyrange.js';

export interface ShardLayout {
  keyspace: string;
  /** Starts at 1 (the VSCHEMA's shards); one more on every change. */
  version: number;
  /** In key order, covering the key space without gap or overlap. */
  shards: { name: string; range: Omit<KeyRange, 'name'> }[];
}

/** What the keeper stores: the layout, and the VSCHEMA shards it was seeded from. */
export interface StoredLayout {
  layout: ShardLayout;
  seed: string[];
}

/** The layout of `shards` (key-range names), refusing ranges that are not in order or leave gaps. */
export function layoutOf(keyspace: string, shards: readonly string[], version = 1): ShardLayout {
  if (!Number.isInteger(version) || version < 1) throw new VitessError('INVALID', `a layout version is a positive integer, not ${version}`);
  const ranges = shards.map((s) => {
    const r = parseKeyRange(s);
    if (typeof r === 'string') throw new VitessError('INVALID', `keyspace "${keyspace}": ${r}`, { construct: 'shard layout' });
    return r;
  });
  const gap = ranges.length ? checkCoverage(ranges) : 'a layout needs at least one shard';
  if (gap) throw new VitessError('INVALID', `keyspace "${keyspace}": ${gap}`, { construct: 'shard layout' });
  return { keyspace, version, shards: ranges.map(({ name, start, end }) => ({ name, range: { start, end } })) };
}

export const shardNames = (layout: ShardLayout): string[] => layout.shards.map((s) => s.name);

/** Whether two shard lists are the same, in the same order. */
export const sameShards = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The layout to keep, given what is stored and the VSCHEMA's shards now: seeded at version 1 on
 * first read; kept as is while the VSCHEMA is unchanged; an operator's edit of the VSCHEMA's
 * shards replaces it, as a new version (the old stamps are then stale).
 */
export function reconcile(stored: StoredLayout | undefined, keyspace: string, seed: readonly string[]): StoredLayout {
  if (!stored) return { layout: layoutOf(keyspace, seed), seed: [...seed] };
  if (sameShards(stored.seed, seed)) return stored;
  return { layout: layoutOf(keyspace, seed, stored.layout.version + 1), seed: [...seed] };
}

/** The next version of `current`: its shards, or `shards` when given (validated). */
export const nextLayout = (current: ShardLayout, shards: readonly string[] = shardNames(current)): ShardLayout =>
  layoutOf(current.keyspace, shards, current.version + 1);

/** The current layout version a stale-layout refusal names, or undefined for any other error. */
export function staleLayoutVersion(e: unknown): number | undefined {
  const v = asVitessError(e);
  return v.details.construct === STALE_LAYOUT ? v.details.layoutVersion : undefined;
}
