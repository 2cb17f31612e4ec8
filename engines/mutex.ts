import { VitessError } from '../rpc/errors.js';

/** A FIFO lock: one holder at a time, waiters run in arrival order, optionally for a bounded time. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>, timeoutMs?: number, what = 'lock'): Promise<T> {
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = this.tail.then(() => {
      clearTimeout(timer);
      if (timedOut) throw new VitessError('TIMEOUT', `gave up waiting for the ${what}`);
      return fn();
    });
    this.tail = result.catch(() => undefined);
    if (timeoutMs === undefined) return result;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new VitessError('TIMEOUT', `waited ${timeoutMs} ms for the ${what}; another transaction holds it`, { limit: 'lock wait' }));
      }, timeoutMs);
    });
    return Promise.race([result, timeout]);
  }
}
