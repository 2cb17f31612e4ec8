/**
 * Turns change-stream pages into what an embedded replica applies, in order (pure logic).
 *
 * - **Records.** Events are the changes of per-shard log records (transactions), possibly split
 *   over pages and with some changes filtered out. A record is whole once a later record of its
 *   shard shows up, or the page's position has moved past it; only whole records are applied.
 * - **DDL barrier.** One local database holds every shard, but VTGate runs a DDL statement shard
 *   after shard, and the stream may deliver one shard ahead of another. A DDL record therefore
 *   waits until every shard has delivered its own copy of it; the statement is applied once,
 *   and each shard's later records wait behind it. So every row change meets the schema it was
 *   written under, whatever the interleaving.
 */
import { VitessError } from '../../rpc/errors.js';
import { completeLsn, type ShardCursor } from '../../rpc/position.js';
import type { WireChangeEvent } from '../../rpc/protocol.js';
import type { Row } from '../../rpc/results.js';
import { rowFromRpc } from '../../client/results.js';

/** A change as the stream carries it (an insert's key is read from its row at apply time). */
export type StreamChange = { ddl: string } | { table: string; op: 'insert' | 'update' | 'delete'; row: Row; oldKey?: Row; json?: string[] };

export interface StreamRecord {
  shard: string;
  lsn: number;
  changes: StreamChange[];
}

/** A record to apply, or a DDL barrier: the same DDL record of every shard, applied together. */
export type ApplyUnit = { kind: 'record'; record: StreamRecord } | { kind: 'ddl'; records: StreamRecord[] };

const hasDdl = (r: StreamRecord): boolean => r.changes.some((c) => 'ddl' in c);

function streamChange(ev: WireChangeEvent): StreamChange {
  if (ev.op === 'ddl') return { ddl: ev.ddl ?? '' };
  return {
    table: ev.table ?? '',
    op: ev.op,
    row: rowFromRpc(ev.row ?? {}),
    ...(ev.oldKey && { oldKey: rowFromRpc(ev.oldKey) }),
    ...(ev.json && { json: ev.json }),
  };
}

export class Sequencer {
  /** Per shard: the record whose changes are still arriving. */
  readonly #partial = new Map<string, StreamRecord>();
  /** Per shard: records waiting behind a DDL barrier (the first is the DDL record). */
  readonly #held = new Map<string, StreamRecord[]>();

  /** `maxHeld`: how many records one shard may get ahead of another's DDL before that is an error. */
  constructor(
    private readonly shards: readonly string[],
    private readonly maxHeld = 20_000,
  ) {
    for (const s of shards) this.#held.set(s, []);
  }

  /** Takes one page's events and the page's end cursors; returns the units now ready, in order. */
  feed(events: readonly WireChangeEvent[], cursors: Readonly<Record<string, ShardCursor>>): ApplyUnit[] {
    const out: ApplyUnit[] = [];
    for (const ev of events) {
      const open = this.#partial.get(ev.shard);
      if (open && open.lsn !== ev.lsn) this.#route(this.#close(ev.shard), out);
      const rec = this.#partial.get(ev.shard) ?? { shard: ev.shard, lsn: ev.lsn, changes: [] };
      this.#partial.set(ev.shard, rec);
      rec.changes.push(streamChange(ev));
    }
    // The page's position past a record means the rest of it was filtered out: it is whole.
    for (const [shard, rec] of [...this.#partial]) {
      const c = cursors[shard];
      if (c !== undefined && completeLsn(c) >= rec.lsn) this.#route(this.#close(shard), out);
    }
    return out;
  }

  /**
   * Per shard, the LSN through which everything read is applied once the units handed out so
   * far commit: the page's cursor, or just before the first record still held back.
   */
  applied(cursors: Readonly<Record<string, ShardCursor>>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.shards) {
      const first = this.#held.get(s)![0]?.lsn ?? this.#partial.get(s)?.lsn; // held records precede the partial one
      const c = cursors[s];
      if (first !== undefined) out[s] = first - 1;
      else if (c !== undefined) out[s] = completeLsn(c);
    }
    return out;
  }

  #close(shard: string): StreamRecord {
    const rec = this.#partial.get(shard)!;
    this.#partial.delete(shard);
    return rec;
  }

  #route(rec: StreamRecord, out: ApplyUnit[]): void {
    const held = this.#held.get(rec.shard);
    if (!held) throw new VitessError('INVALID', `the stream delivered shard ${rec.shard}, which this replica does not follow`);
    if (held.length) {
      if (held.length >= this.maxHeld) {
        const waiting = this.shards.filter((s) => !this.#held.get(s)![0]);
        throw new VitessError(
          'UNAVAILABLE',
          `shard ${rec.shard} ran DDL (${ddlOf(held[0]!)}) that shard ${waiting.join(', ')} has not run after ${held.length} further records: the shards' schemas differ`,
          { shards: waiting },
        );
      }
      held.push(rec);
      return;
    }
    if (!hasDdl(rec)) {
      out.push({ kind: 'record', record: rec });
      return;
    }
    held.push(rec);
    // Every shard at this DDL: apply it once, then let each shard's held records through.
    if (!this.shards.every((s) => this.#held.get(s)!.length)) return;
    out.push({ kind: 'ddl', records: this.shards.map((s) => this.#held.get(s)!.shift()!) });
    const rests = this.shards.map((s) => this.#held.get(s)!.splice(0));
    for (const rest of rests) for (const r of rest) this.#route(r, out);
  }
}

const ddlOf = (r: StreamRecord): string => {
  const c = r.changes.find((x) => 'ddl' in x) as { ddl: string } | undefined;
  return (c?.ddl ?? '').slice(0, 60);
};
