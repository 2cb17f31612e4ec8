// The replica's view of the log between what it has applied and what the primary has: records
// received (pushed or pulled) but not yet applied, the primary's LSN as last heard, the lag, and
// how fresh the applied state is known to be (staleness).
// Pure bookkeeping, no I/O: the replica DO (and later the embedded replica) drive it.
import type { LogRecord } from '../rpc/changes.js';

export interface Lag {
  /** Records the primary has committed that are not applied here (as far as the replica knows). */
  lagRecords: number;
  /** How long ago the oldest record not applied here was committed; 0 when caught up. */
  lagMs: number;
}

export class LogBuffer {
  /** LSN of the last record applied (the replica's state is the primary's at this LSN). */
  applied = 0;
  /** Commit time of that record (0 when unknown, e.g. after a restart or a bootstrap). */
  appliedTs = 0;
  /** The newest primary LSN heard of (pull, push, subscribe, or a caller's bookmark). */
  primaryLsn: number | undefined;
  /**
   * The data is at least as fresh as this time: the primary was at an LSN ≤ `applied` then.
   * Undefined until confirmed (after a restart, during a copy): infinitely stale.
   */
  freshAt: number | undefined;
  private readonly pending = new Map<number, LogRecord>();
  /** The primary's LSN at a time, not yet applied here: increasing in both. */
  private confirming: { lsn: number; at: number }[] = [];

  /** At most `max` records are held; beyond that they are dropped and pulled again later. */
  constructor(private readonly max = 5_000) {}

  get size(): number {
    return this.pending.size;
  }

  /** Takes records received by push or pull; duplicates and already applied ones are ignored. */
  offer(records: LogRecord[]): void {
    for (const r of records) {
      this.heard(r.lsn);
      if (r.lsn <= this.applied || this.pending.has(r.lsn)) continue;
      // Keep the ones needed soonest: when full, a record is taken only if it is older than the newest held.
      if (this.pending.size >= this.max) {
        const newest = Math.max(...this.pending.keys());
        if (r.lsn > newest) continue;
        this.pending.delete(newest);
      }
      this.pending.set(r.lsn, r);
    }
  }

  /** The primary has reached at least `lsn`. */
  heard(lsn: number): void {
    if (this.primaryLsn === undefined || lsn > this.primaryLsn) this.primaryLsn = lsn;
  }

  /** The primary said it is at `lsn` (a pull's answer): a guess heard before is replaced. */
  primaryIs(lsn: number): void {
    this.primaryLsn = Math.max(lsn, this.applied, ...this.pending.keys());
  }

  /**
   * The primary was at `lsn` at time `at` (an answer to a call made at `at`, or a record
   * committed then): once `lsn` is applied, the data is at least as fresh as `at`.
   */
  confirm(lsn: number, at: number): void {
    if (lsn <= this.applied) {
      this.freshAt = Math.max(this.freshAt ?? at, at);
      return;
    }
    // One needing as much or more LSN for no later a time tells nothing more.
    if (this.confirming.some((c) => c.lsn <= lsn && c.at >= at)) return;
    this.confirming = this.confirming.filter((c) => c.lsn < lsn || c.at > at);
    if (this.confirming.length >= 64) this.confirming.pop(); // bounded: losing one only understates freshness
    const i = this.confirming.findIndex((c) => c.lsn > lsn);
    this.confirming.splice(i < 0 ? this.confirming.length : i, 0, { lsn, at });
  }

  /** Milliseconds the data may be behind the primary: Infinity until confirmed. */
  staleness(now: number): number {
    if (this.freshAt === undefined) return Infinity;
    return Math.max(0, now - this.freshAt, this.lag(now).lagMs);
  }

  /** The next record is known to exist but is not held: it must be pulled. */
  needsPull(): boolean {
    return (this.primaryLsn ?? 0) > this.applied && !this.pending.has(this.applied + 1);
  }

  /**
   * Contiguous records from `applied + 1` that are due: committed at least `delayMs` ago. With
   * nothing due, `waitMs` says when the next held record will be (0: nothing held to wait for).
   */
  due(now: number, delayMs: number, limit: number): { records: LogRecord[]; waitMs: number } {
    const records: LogRecord[] = [];
    for (let lsn = this.applied + 1; records.length < limit; lsn++) {
      const r = this.pending.get(lsn);
      if (!r) break;
      const wait = r.ts + delayMs - now;
      if (wait > 0) return { records, waitMs: records.length ? 0 : wait };
      records.push(r);
    }
    return { records, waitMs: 0 };
  }

  /** Records up to `lsn` (committed at `ts`) are applied. */
  advance(lsn: number, ts: number): void {
    this.applied = lsn;
    this.appliedTs = ts;
    this.heard(lsn);
    for (const k of this.pending.keys()) if (k <= lsn) this.pending.delete(k);
    while (this.confirming.length && this.confirming[0]!.lsn <= lsn) {
      const { at } = this.confirming.shift()!;
      this.freshAt = Math.max(this.freshAt ?? at, at);
    }
  }

  /** A fresh start at `lsn` (after a bootstrap): older held records no longer matter. */
  reset(lsn: number): void {
    this.advance(lsn, 0);
  }

  /** Forget everything (before a bootstrap). */
  clear(): void {
    this.applied = 0;
    this.appliedTs = 0;
    this.freshAt = undefined;
    this.pending.clear();
    this.confirming = [];
  }

  lag(now: number): Lag {
    const lagRecords = Math.max(0, (this.primaryLsn ?? this.applied) - this.applied);
    if (!lagRecords) return { lagRecords, lagMs: 0 };
    // The oldest unapplied commit: the next record if held, else just after the last applied one
    // (after a restart or a copy, its time is unknown: no earlier than the data is fresh).
    const next = this.pending.get(this.applied + 1)?.ts ?? (this.appliedTs || this.freshAt || now);
    return { lagRecords, lagMs: Math.max(0, now - next) };
  }
}
