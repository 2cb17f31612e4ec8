// The vindexes that need the vschema: `range`, and the dispatch over every vindex type.
import { VitessError } from '../../rpc/errors.js';
import { consistentHashId, hashId } from '../../rpc/keyspace/hash.js';
import { firstId, type KeyspaceId } from '../../rpc/keyspace/keyrange.js';
import type { SqlValue } from '../../rpc/values.js';
import { compareDec, toDec } from '../../rpc/decimal.js';
import type { RangeSpec, VindexSpec } from '../vschema.js';

/** The `range` vindex: the shard of the first range holding the value, or undefined. */
export function rangeShard(ranges: RangeSpec[], v: SqlValue): string | undefined {
  if (v === null) return undefined;
  const cmp = (bound: number | string): number => {
    if (typeof bound === 'number') {
      const a = toDec(v);
      if (!a) throw new VitessError('INVALID', `range vindex: ${String(v)} is not a number`);
      return compareDec(a, toDec(bound)!);
    }
    const s = v instanceof Date ? v.toISOString() : String(v);
    return s < bound ? -1 : s > bound ? 1 : 0;
  };
  return ranges.find((r) => (r.from === undefined || cmp(r.from) >= 0) && (r.to === undefined || cmp(r.to) < 0))?.shard;
}

/** The keyspace id a vindex gives a value; undefined when the value has none (NULL, out of every range). */
export function keyspaceIdFor(vindex: VindexSpec, v: SqlValue): KeyspaceId | undefined {
  switch (vindex.type) {
    case 'hash':
      return hashId(v);
    case 'consistent_hash':
      return consistentHashId(v);
    case 'range': {
      const shard = rangeShard(vindex.ranges, v);
      return shard === undefined ? undefined : firstId(shard);
    }
  }
}
