import { VitessError } from '../rpc/errors.js';

/** A FIFO lock: one holder at a time, waiters run in arrival order, optionally for a bounded time. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  /** Holders and waiters: with none, a caller goes first and needs no timer. */
  private queued = 0;

  run<T>(fn: () => Promise<T>, timeoutMs?: number, what = 'lock'): Promise<T> {
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const free = this.queued++ === 0;
    const result = this.tail.then(() => {
      clearTimeout(timer);
      if (timedOut) throw new VitessError('TIMEOUT', `gave up waiting for the ${what}`);
      return fn();
    });
    this.tail = result
      .catch(() => undefined)
      .then(() => {
        this.queued--;
      });
    if (timeoutMs === undefined || free) return result;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new VitessError('TIMEOUT', `waited ${timeoutMs} ms for the ${what}; something else holds it`, { limit: 'lock wait' }));
      }, timeoutMs);
    });
    return Promise.race([result, timeout]);
  }
}
