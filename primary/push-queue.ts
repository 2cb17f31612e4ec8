// Pushes committed records to one listener with at most one push in flight: records that commit
// while a push is under way go together in the next one. Under load that turns one RPC per
// record into one per round trip, in LSN order; when idle a record still leaves at once. The
// queue holds only LSNs: records are read from the log when they leave, so a slow listener
// costs no memory, and one the log was trimmed past is dropped (it re-bootstraps).
import type { LogRecord } from '../rpc/changes.js';

export class PushQueue {
  /** The first LSN not pushed yet. */
  private next: number;
  /** The newest committed LSN. */
  private upTo: number;
  private busy = false;

  /** `from`: the LSN the listener has already; `read(lsn)`: committed records from `lsn` on, at least one. */
  constructor(
    from: number,
    private readonly read: (fromLsn: number) => LogRecord[],
    private readonly push: (records: LogRecord[]) => Promise<void>,
    private readonly failed: () => void,
  ) {
    this.next = from + 1;
    this.upTo = from;
  }

  send(lsn: number): void {
    this.upTo = Math.max(this.upTo, lsn);
    if (!this.busy) void this.drain();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      // Commits of the same turn leave together, read once their transaction has returned.
      await Promise.resolve();
      while (this.next <= this.upTo) {
        const records = this.read(this.next);
        this.next = records.at(-1)!.lsn + 1;
        await this.push(records);
      }
    } catch {
      // Push is best effort: a listener that fails is dropped and catches up by pulling.
      this.failed();
    } finally {
      this.busy = false;
    }
  }
}
