/**
 * Deadlock detection across shards, pure. A shard runs one transaction at a time, and while a
 * tablet transaction is open on DO SQLite every other call into that shard waits at its input
 * gate, so a shard cannot refuse a waiter itself. Instead, a transaction that already holds
 * shards asks before it waits for another one: the graph of who holds which shard and who
 * waits for which is kept here, and a wait that would close a cycle is refused (the asker
 * rolls back with CONFLICT; the others go on). Transactions on one shard never ask: they
 * cannot be part of a cycle until they reach a second shard, and then they ask.
 */

interface Entry {
  holds: Set<string>;
  wants: string | undefined;
  /** Forgotten after this (a VTGate that crashed never releases). */
  expiresAt: number;
}

export class WaitsForGraph {
  private readonly txs = new Map<string, Entry>();

  /**
   * `txid`, holding `holds`, wants to wait for `wants`. Returns the cycle that waiting would
   * close (the asker first), or undefined when it may wait.
   */
  wait(txid: string, holds: string[], wants: string, expiresAt: number, now: number): string[] | undefined {
    this.expire(now);
    const me: Entry = { holds: new Set(holds), wants, expiresAt };
    this.txs.set(txid, me);
    const path = [txid];
    for (let shard: string | undefined = wants; shard !== undefined; ) {
      const holder = this.holderOf(shard, path.at(-1)!);
      if (holder === undefined) return undefined;
      if (holder === txid) {
        me.wants = undefined;
        return path;
      }
      if (path.includes(holder)) return undefined; // a cycle without the asker: someone else's
      path.push(holder);
      shard = this.txs.get(holder)!.wants;
    }
    return undefined;
  }

  release(txid: string): void {
    this.txs.delete(txid);
  }

  get size(): number {
    return this.txs.size;
  }

  private holderOf(shard: string, except: string): string | undefined {
    for (const [txid, e] of this.txs) if (txid !== except && e.holds.has(shard)) return txid;
    return undefined;
  }

  private expire(now: number): void {
    for (const [txid, e] of this.txs) if (e.expiresAt <= now) this.txs.delete(txid);
  }
}
