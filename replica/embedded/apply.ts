// Applies what the sequencer hands out, together with the positions that say how far it got, one
// local transaction at a time: row changes merged into one table per table whichever shard they
// come from (embedded-rows.ts), DDL as the replica keeps it (embedded-ddl.ts).
import type { StorageEngine } from '../../engines/engine.js';
import type { RowChange } from '../../rpc/changes.js';
import { VitessError } from '../../rpc/errors.js';
import type { Row } from '../../rpc/results.js';
import { replicaDdl } from './ddl.js';
import { RowMerge } from './rows.js';
import type { ApplyUnit, StreamChange, StreamRecord } from './sequencer.js';
import { writeState } from './state.js';

/** What one apply changed: tables written, and whether the schema changed (then every table counts). */
export interface Applied {
  tables: Set<string>;
  ddl: boolean;
}

const pick = (row: Row, cols: string[]): Row => Object.fromEntries(cols.map((c) => [c, row[c] ?? null]));

/** The engine-neutral change (an insert's key comes from its row and the table's primary key). */
function toChange(c: Exclude<StreamChange, { ddl: string }>, primaryKey: (table: string) => string[] | undefined): RowChange {
  const json = c.json && { json: c.json };
  if (c.op !== 'insert' && c.oldKey) return { table: c.table, op: c.op, key: c.oldKey, ...(c.op === 'update' && { row: c.row, ...json }) };
  const pk = primaryKey(c.table);
  if (!pk?.length)
    throw new VitessError('INVALID', `table "${c.table}" has no primary key in the embedded replica: its changes cannot be applied`, { table: c.table });
  return c.op === 'delete' ? { table: c.table, op: 'delete', key: pick(c.row, pk) } : { table: c.table, op: c.op, key: pick(c.row, pk), row: c.row, ...json };
}

/** Units in runs that can share a transaction: a DDL barrier stands alone (the primary keys may change after it). */
function runs(units: ApplyUnit[]): ApplyUnit[][] {
  const out: ApplyUnit[][] = [];
  for (const u of units) {
    const last = out.at(-1);
    if (u.kind === 'ddl' || !last || last[0]!.kind === 'ddl') out.push([u]);
    else last.push(u);
  }
  return out;
}

/**
 * Applies `units`, then records `lsns` (per shard: applied through). One transaction per run of
 * row records, one per DDL barrier; each also records how far its shards got, so stopping
 * between them is as safe as after the last.
 */
export async function applyUnits(
  db: StorageEngine,
  keys: PrimaryKeys,
  units: ApplyUnit[],
  lsns: Record<string, number>,
  known: Record<string, number>,
): Promise<Applied> {
  const applied: Applied = { tables: new Set(), ddl: false };
  const at = { ...known };
  let pk = await keys.get();
  const list = runs(units);
  for (let i = 0; i < list.length; i++) {
    const run = list[i]!;
    const records: StreamRecord[] = run.flatMap((u) => (u.kind === 'ddl' ? u.records : [u.record]));
    for (const r of records) at[r.shard] = Math.max(at[r.shard] ?? 0, r.lsn);
    const last = i === list.length - 1;
    const ddl = run[0]!.kind === 'ddl';
    await db.transaction(async (tx) => {
      const rows = await RowMerge.open(tx);
      for (const [n, r] of records.entries()) {
        for (const c of r.changes) {
          if (!('ddl' in c)) {
            await rows.apply(
              r.shard,
              toChange(c, (t) => pk.get(t)),
            );
            applied.tables.add(c.table);
          } else if (!ddl || n === 0) {
            // A DDL barrier holds the same statement from every shard: it runs once, from the first.
            for (const s of replicaDdl(c.ddl)) await tx.query(s.sql, s.params);
          }
        }
      }
      await writeState(tx, { lsns: last ? { ...at, ...lsns } : at });
    });
    if (ddl) {
      applied.ddl = true;
      keys.forget();
      pk = await keys.get();
    }
  }
  if (!list.length) await db.transaction((tx) => writeState(tx, { lsns: { ...at, ...lsns } }));
  return applied;
}

/** The local tables' primary keys, read once and again after each schema change. */
export class PrimaryKeys {
  #map: Promise<Map<string, string[]>> | undefined;
  constructor(private readonly db: StorageEngine) {}

  get(): Promise<Map<string, string[]>> {
    this.#map ??= this.db.tables().then((ts) => new Map(ts.map((t) => [t.name, t.primaryKey])));
    this.#map.catch(() => {
      this.#map = undefined;
    });
    return this.#map;
  }

  forget(): void {
    this.#map = undefined;
  }
}
