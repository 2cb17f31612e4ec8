// Pushes committed records to one listener with at most one push in flight: records that commit
// while a push is under way go together in the next one. Under load that turns one RPC per
// record into one per round trip, in LSN order; when idle a record still leaves at once.
import type { LogRecord } from '../rpc/changes.js';

/** Records held for a listener that is slower than the commits; beyond it the listener pulls. */
const MAX_QUEUED = 1_000;

export class PushQueue {
  private queued: LogRecord[] = [];
  private busy = false;

  constructor(private readonly push: (records: LogRecord[]) => Promise<void>, private readonly failed: () => void) {}

  send(record: LogRecord): void {
    // Dropped records are not lost: the listener sees the gap in the LSNs and pulls them.
    if (this.queued.length >= MAX_QUEUED) this.queued = [];
    this.queued.push(record);
    if (!this.busy) void this.drain();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queued.length) {
        const records = this.queued;
        this.queued = [];
        await this.push(records);
      }
    } catch {
      // Push is best effort: a listener that fails is dropped and catches up by pulling.
      this.queued = [];
      this.failed();
    } finally {
      this.busy = false;
    }
  }
}
