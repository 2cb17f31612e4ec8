/**
 * A lookup vindex (Vitess's `lookup_hash`), owning its SQL: the table `<table>_<column>_lookup
 * (value, keyspace_id, refs)` maps a column's values to the keyspace ids of the rows holding them.
 * It is itself sharded by hash of `value`, over the shards of the keyspace it indexes. The
 * executor asks it for keyspace ids (a `lookup` target) and tells it which rows a write added
 * and removed; it turns those into counted changes of its entries.
 */
import { chunkRows, insertValues, placeholders } from '../../engines/dialect/sql-text.js';
import type { Row } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import { shardFor, type KeyspaceId } from '../../rpc/keyspace/keyrange.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { keyspaceIdFor } from '../vindex/vindex.js';
import type { LookupSpec, VindexSpec } from '../vschema.js';
import { KEY_COLUMN, lookupColumn } from '../planner/dml.js';
import type { ShardCursor } from './executor.js';

/** One row's entry: its lookup column's value and its keyspace id (none: the row has no entry). */
export type LookupEntry = [value: SqlValue, keyspaceId: KeyspaceId | undefined];

/** A change to the number of rows behind one lookup entry. */
interface LookupDelta {
  value: SqlValue;
  keyspaceId: KeyspaceId;
  refs: number;
}

const deltaKey = (d: LookupDelta): string => `${d.keyspaceId}:${hashId(d.value)}:${String(d.value)}`;

/** Sums deltas of the same entry, dropping those that cancel out. */
function netDeltas(deltas: LookupDelta[]): LookupDelta[] {
  const out = new Map<string, LookupDelta>();
  for (const d of deltas) {
    const k = deltaKey(d);
    const cur = out.get(k);
    out.set(k, cur ? { ...cur, refs: cur.refs + d.refs } : { ...d });
  }
  return [...out.values()].filter((d) => d.refs !== 0);
}

/** One delta of `sign` per entry, summed; NULL values and rows without a keyspace id have no entry. */
function lookupDeltas(entries: LookupEntry[], sign: 1 | -1): LookupDelta[] {
  return netDeltas(entries.flatMap(([value, keyspaceId]) => (value === null || keyspaceId === undefined ? [] : [{ value, keyspaceId, refs: sign }])));
}

/** The entries of rows a DML returned with the plan's helper columns: lookup `i`'s value and the vindex column. */
export function returnedEntries(rows: Row[], vindex: VindexSpec, i: number): LookupEntry[] {
  return rows.map((r) => [r[lookupColumn(i)] ?? null, keyspaceIdFor(vindex, r[KEY_COLUMN] ?? null)]);
}

export class LookupVindex {
  constructor(
    private readonly cursor: ShardCursor,
    private readonly keyspace: string,
    /** The keyspace's shards, in key order: the lookup table is sharded over them. */
    private readonly shards: string[],
    private readonly spec: LookupSpec,
  ) {}

  /** Keyspace ids of `values` (NULL has none); entries at zero rows do not count. */
  async map(values: SqlValue[]): Promise<KeyspaceId[]> {
    const byShard = this.byShard(
      values.filter((v) => v !== null),
      (v) => v,
    );
    const found = await Promise.all(
      [...byShard].flatMap(([shard, vs]) =>
        chunkRows(vs, 1).map(async (part) => {
          const where = part.length === 1 ? 'value = $1' : `value IN (${placeholders(part.length)})`;
          const r = await this.cursor.execute(this.keyspace, shard, `SELECT keyspace_id FROM ${this.spec.table} WHERE (${where}) AND refs > 0`, part);
          return r.rows.map((row) => String(row.keyspace_id));
        }),
      ),
    );
    return found.flat();
  }

  /** Rows were inserted: one more row behind each of their entries. */
  create(entries: LookupEntry[]): Promise<void> {
    return this.write(lookupDeltas(entries, 1));
  }

  /** Rows were deleted: one row less behind each of their entries. */
  delete(entries: LookupEntry[]): Promise<void> {
    return this.write(lookupDeltas(entries, -1));
  }

  /** Rows were updated: their entries `before` lose them, those `after` gain them; unchanged ones are not written. */
  update(before: LookupEntry[], after: LookupEntry[]): Promise<void> {
    return this.write(netDeltas([...lookupDeltas(after, 1), ...lookupDeltas(before, -1)]));
  }

  private byShard<T>(items: T[], valueOfItem: (t: T) => SqlValue): Map<string, T[]> {
    const out = new Map<string, T[]>();
    for (const it of items) {
      const shard = shardFor(hashId(valueOfItem(it))!, this.shards);
      out.set(shard, [...(out.get(shard) ?? []), it]);
    }
    return out;
  }

  /**
   * Moves entries' row counts by `deltas`. An entry (value, keyspace id) counts the rows behind
   * it: a `range` vindex gives every row of a shard the same keyspace id, so one entry can stand
   * for many rows, and a row leaving must not take the others' entry with it. Entries at zero
   * are deleted; reads skip them (`refs > 0`) in case that delete did not run. Additions go
   * first, so a row is never without its entry.
   */
  private async write(deltas: LookupDelta[]): Promise<void> {
    const table = this.spec.table;
    const run = (ds: LookupDelta[], write: (shard: string, part: LookupDelta[]) => Promise<unknown>) =>
      Promise.all([...this.byShard(ds, (d) => d.value)].flatMap(([shard, es]) => chunkRows(es, 3).map((part) => write(shard, part))));
    const match = (i: number, width: number) => `(value = $${width * i + 1} AND keyspace_id = $${width * i + 2})`;
    await run(
      deltas.filter((d) => d.refs > 0),
      (shard, part) => {
        // The lookup table's name as the vschema spells it (unquoted), as in the statements below.
        const { sql, params } = insertValues(
          table,
          ['value', 'keyspace_id', 'refs'],
          part.map((d) => [d.value, d.keyspaceId, d.refs]),
          `ON CONFLICT (value, keyspace_id) DO UPDATE SET refs = ${table}.refs + EXCLUDED.refs`,
          (name) => name,
        );
        return this.cursor.execute(this.keyspace, shard, sql, params);
      },
    );
    await run(
      deltas.filter((d) => d.refs < 0),
      async (shard, part) => {
        await this.cursor.execute(
          this.keyspace,
          shard,
          `UPDATE ${table} SET refs = refs - CASE ${part.map((_, i) => `WHEN ${match(i, 3)} THEN $${3 * i + 3}`).join(' ')} ELSE 0 END WHERE ${part.map((_, i) => match(i, 3)).join(' OR ')}`,
          part.flatMap((d) => [d.value, d.keyspaceId, -d.refs]),
        );
        await this.cursor.execute(
          this.keyspace,
          shard,
          `DELETE FROM ${table} WHERE refs <= 0 AND (${part.map((_, i) => match(i, 2)).join(' OR ')})`,
          part.flatMap((d) => [d.value, d.keyspaceId]),
        );
      },
    );
  }
}
