/**
 * The embedded replica's sequencer (replica/embedded/sequencer.ts): random per-shard logs with
 * DDL, cut into pages at random (a record split over pages, trailing changes filtered out,
 * shards delivered far apart), must come out as whole records in per-shard order, every DDL
 * once all shards reached it and before any later change of any shard, with stored positions
 * that never pass a record not yet handed out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WireChangeEvent } from '../../rpc/protocol.js';
import type { ShardCursor } from '../../rpc/position.js';
import { Sequencer, type ApplyUnit } from '../../replica/embedded/sequencer.js';

interface Rec {
  lsn: number;
  ddl: number | null;
  changes: number;
  kept: boolean[];
}

/** A shard's log: records of row changes, with the same numbered DDLs at the same places in every shard's own order. */
const shardLog = (ddls: number) =>
  fc
    .array(fc.record({ changes: fc.integer({ min: 1, max: 4 }), keep: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }) }), { maxLength: 12 })
    .chain((rows) =>
      fc.array(fc.integer({ min: 0, max: rows.length }), { minLength: ddls, maxLength: ddls }).map((at) => {
        const sorted = [...at].sort((a, b) => a - b);
        const out: Rec[] = [];
        let d = 0;
        rows.forEach((r, i) => {
          while (d < ddls && sorted[d] === i) out.push({ lsn: out.length + 1, ddl: d++, changes: 1, kept: [true] });
          out.push({ lsn: out.length + 1, ddl: null, changes: r.changes, kept: r.keep.slice(0, r.changes) });
        });
        while (d < ddls) out.push({ lsn: out.length + 1, ddl: d++, changes: 1, kept: [true] });
        return out;
      }),
    );

/** Every kept change of a shard as stream events, with the cursor after each. */
function events(shard: string, log: Rec[]): { ev: WireChangeEvent; after: ShardCursor }[] {
  const out: { ev: WireChangeEvent; after: ShardCursor }[] = [];
  for (const r of log) {
    for (let seq = 0; seq < r.changes; seq++) {
      if (!r.kept[seq]) continue;
      const base = { shard, lsn: r.lsn, seq, of: r.changes, ts: 0, txid: `${shard}:${r.lsn}` };
      const ev: WireChangeEvent =
        r.ddl !== null ? { ...base, op: 'ddl', ddl: `DDL ${r.ddl}` } : { ...base, op: 'insert', table: 't', row: { id: `${shard}:${r.lsn}:${seq}` } };
      out.push({ ev, after: seq + 1 >= r.changes ? r.lsn : [r.lsn, seq + 1] });
    }
  }
  return out;
}

describe('embedded replica sequencer', () => {
  it('hands out whole records in shard order, each DDL once after every shard reached it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }).chain((ddls) => fc.tuple(fc.constant(ddls), fc.array(shardLog(ddls), { minLength: 1, maxLength: 3 }))),
        fc.array(fc.nat(), { maxLength: 200 }),
        ([ddls, logs], picks) => {
          const shards = logs.map((_, i) => `s${i}`);
          const streams = logs.map((log, i) => events(shards[i]!, log));
          const seq = new Sequencer(shards);
          const cursors: Record<string, ShardCursor> = Object.fromEntries(shards.map((s) => [s, 0]));
          const units: ApplyUnit[] = [];
          const stored: Record<string, number>[] = [];
          const at = streams.map(() => 0);
          let p = 0;
          // Pages: a random shard, a random number of its events (maybe none: a filtered-out stretch).
          while (at.some((x, i) => x < streams[i]!.length) || p < picks.length) {
            const pick = picks[p++];
            // Once the random picks are used up, each shard's rest comes in one page.
            const i = pick === undefined ? at.findIndex((x, k) => x < streams[k]!.length) : pick % shards.length;
            if (i < 0) break;
            const n = Math.min(streams[i]!.length - at[i]!, pick === undefined ? Infinity : (pick >> 3) % 5);
            const page = streams[i]!.slice(at[i], at[i]! + n);
            at[i]! += n;
            if (page.length) cursors[shards[i]!] = page.at(-1)!.after;
            if (at[i] === streams[i]!.length && logs[i]!.length) cursors[shards[i]!] = logs[i]!.length; // the log's end: trailing filtered changes
            units.push(
              ...seq.feed(
                page.map((x) => x.ev),
                cursors,
              ),
            );
            stored.push(seq.applied(cursors));
          }
          for (const [i, s] of shards.entries()) {
            units.push(...seq.feed([], { ...cursors, [s]: logs[i]!.length }));
            cursors[s] = logs[i]!.length;
          }
          // Every record exactly once, whole, in LSN order per shard; DDL barriers in order, one per DDL.
          const seen: Record<string, number[]> = Object.fromEntries(shards.map((s) => [s, []]));
          const ddlOrder: number[] = [];
          const ddlSeenBy: Record<string, number> = Object.fromEntries(shards.map((s) => [s, 0]));
          for (const u of units) {
            if (u.kind === 'ddl') {
              expect(u.records.map((r) => r.shard)).toEqual(shards);
              const n = Number((u.records[0]!.changes[0] as { ddl: string }).ddl.split(' ')[1]);
              ddlOrder.push(n);
              for (const r of u.records) {
                seen[r.shard]!.push(r.lsn);
                ddlSeenBy[r.shard] = n + 1;
              }
            } else {
              const rec = logs[shards.indexOf(u.record.shard)]!.find((r) => r.lsn === u.record.lsn)!;
              expect(rec.ddl).toBeNull();
              // A row change comes after every DDL its own shard ran before it, applied for all.
              const before = logs[shards.indexOf(u.record.shard)]!.filter((r) => r.lsn < rec.lsn && r.ddl !== null).length;
              expect(ddlOrder.length).toBe(before);
              expect(u.record.changes.length).toBe(rec.kept.filter(Boolean).length);
              seen[u.record.shard]!.push(u.record.lsn);
            }
          }
          expect(ddlOrder).toEqual(Array.from({ length: ddls }, (_, i) => i));
          for (const [i, s] of shards.entries()) {
            const expected = logs[i]!.filter((r) => r.ddl !== null || r.kept.some(Boolean)).map((r) => r.lsn);
            expect(seen[s]).toEqual(expected);
          }
          // Stored positions only grow, and end at each log's end.
          for (const s of shards) {
            const xs = stored.map((x) => x[s] ?? 0);
            expect(xs).toEqual([...xs].sort((a, b) => a - b));
          }
          expect(seq.applied(cursors)).toEqual(Object.fromEntries(shards.map((s, i) => [s, logs[i]!.length])));
        },
      ),
      { numRuns: 300 },
    );
  });
});
