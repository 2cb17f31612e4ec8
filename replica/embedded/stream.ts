/**
 * The stream's page requests, each of which can be cut short: by its own deadline (its long
 * poll plus a grace period) or on behalf of a waiter (`execute`, `waitFor`) that has waited too
 * long for a request issued before it. A long poll can die silently — a connection dropped
 * without a reset, a proxy that never answers, a gateway restarted under it (wrangler dev's
 * reload held such requests for 50 s) — and would otherwise hold the replica until the client's
 * timeout. Pages are idempotent reads from a position, so asking again is always safe.
 */
export type Cut = 'deadline' | 'waiter';

export class StreamRequests {
  #issued = 0;
  #current: { seq: number; cut: AbortController } | undefined;

  /** How many requests were issued so far: a waiter remembers it to know which requests predate it. */
  get issued(): number {
    return this.#issued;
  }

  /** The signal of the request in flight, for the stream client's fetch. */
  get signal(): AbortSignal | undefined {
    return this.#current?.cut.signal;
  }

  /** Runs `request`; resolves with its answer, or with why it was cut before it answered. */
  async run<T>(request: () => Promise<T>, deadlineMs: number): Promise<{ answer: T } | { cut: Cut }> {
    const cut = new AbortController();
    this.#current = { seq: ++this.#issued, cut };
    const timer = setTimeout(() => cut.abort('deadline' satisfies Cut), deadlineMs);
    try {
      const answer = request();
      answer.catch(() => undefined); // settles after the cut; nobody waits for it then
      const cutShort = new Promise<{ cut: Cut }>((resolve) =>
        cut.signal.addEventListener('abort', () => resolve({ cut: cut.signal.reason as Cut }), { once: true }),
      );
      return await Promise.race([answer.then((a) => ({ answer: a })), cutShort]);
    } finally {
      clearTimeout(timer);
      this.#current = undefined;
    }
  }

  /** Cuts the request in flight if it was issued by the time `issued` was read. */
  cutIssuedBy(issued: number): boolean {
    if (!this.#current || this.#current.seq > issued) return false;
    this.#current.cut.abort('waiter' satisfies Cut);
    return true;
  }
}
