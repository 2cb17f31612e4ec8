/**
 * `client.subscribe`: a keyspace's change stream, pulled page by page from VTGate
 * (`KeyspaceApi.changes`, docs/subscriptions.md). The next page is asked for only once the
 * consumer has taken every event of the last one, so a slow consumer holds at most one page in
 * memory and VTGate and the primaries buffer nothing for it. Every event carries the position
 * after it; a dropped connection is retried from the last page's position, and a position saved
 * by the consumer resumes the stream later without losing or repeating an event.
 */
import { VitessError } from '../rpc/errors.js';
import { completeLsn, cursorAfter, decodePosition, encodePosition, isPosition, type ShardCursor } from '../rpc/position.js';
import type { ChangesPage, ChangesRequest, WireChangeEvent } from '../rpc/protocol.js';
import type { Row } from '../rpc/results.js';
import { fromRpc, type RpcValue } from '../rpc/values.js';
import { classify } from './failure.js';
import { backoffDelay, shouldRetry, type RetryPolicy } from './retry.js';

export interface SubscribeOptions {
  /** Only changes of these tables (default: every table). */
  tables?: string[];
  /** Only these shards, by name (default: all of the keyspace's). */
  shards?: string[];
  /** Only rows whose keyspace id falls in this key range, e.g. `'40-80'`. */
  keyRange?: string;
  /** `'now'` (default: changes committed after `subscribe` resolves), `'beginning'` (the whole retained log), or an event's `position`. */
  from?: 'now' | 'beginning' | (string & {});
  /** Also deliver schema changes as `{ op: 'ddl', ddl }` events (not filtered by table). Default false. */
  ddl?: boolean;
  /** At most this many events per page pulled from VTGate (default 500). */
  pageSize?: number;
  /** Roughly at most this many bytes of changes per page (default 1 MB). */
  maxBytes?: number;
  /** How long VTGate holds a page request open when there is nothing new (default 10 s, below the client's timeoutMs). */
  waitMs?: number;
  /** Called once when the stream stops on an error (also reported by `done`). */
  onError?: (error: unknown) => void;
}

/** A row change. `row`: the row after an insert or update; for a delete, its primary key. */
export interface ChangeEvent<T = Row> {
  shard: string;
  lsn: number;
  table: string;
  op: 'insert' | 'update' | 'delete';
  row: T;
  /** The primary key before the change (update, delete). */
  oldKey?: Row;
  /** Commit time (ms since the epoch) and transaction id of the change's transaction. */
  ts: number;
  txid: string;
  /** Resume from here (`from: position`) to get the events after this one. */
  position: string;
}

/** A schema change (with `ddl: true`), in the Postgres dialect it was written in. */
export interface DdlEvent {
  shard: string;
  lsn: number;
  op: 'ddl';
  ddl: string;
  table?: undefined;
  ts: number;
  txid: string;
  position: string;
}

export type SubscriptionEvent<T = Row> = ChangeEvent<T> | DdlEvent;

/** One attempt at one page (the client's transport). */
export type PageFetcher = (req: ChangesRequest) => Promise<ChangesPage>;

const DEFAULT_WAIT_MS = 10_000;

/**
 * A running subscription. With a callback, events go to it one at a time (the next only after
 * the callback's promise settles); without one, iterate it with `for await`.
 */
export class Subscription<E extends { position: string } = ChangeEvent> implements AsyncIterable<E> {
  readonly #fetch: PageFetcher;
  readonly #keyspace: string;
  readonly #retry: RetryPolicy;
  readonly #req: Omit<ChangesRequest, 'from'>;
  readonly #waitMs: number;
  readonly #onError: ((e: unknown) => void) | undefined;
  /** Where the next page starts: `now` / `beginning` until the first page resolves it. */
  #from: string;
  #position: string;
  #buffer: E[] = [];
  /** The position after the buffered page, adopted once its events are all taken. */
  #pageEnd: string | undefined;
  #heads: Record<string, number> = {};
  #pages = 0;
  #retries = 0;
  #closed = false;
  #error: unknown;
  #mode: 'callback' | 'iterator' | undefined;
  #taking: Promise<E | undefined> | undefined;
  #wake: (() => void)[] = [];
  readonly #closedSignal: Promise<undefined>;
  #signalClosed!: () => void;
  #settle!: { resolve: () => void; reject: (e: unknown) => void };
  /** Resolves once the start is pinned (the first page was read); rejects if it cannot be. */
  readonly ready: Promise<void>;
  /** Resolves when the subscription is closed; rejects with the error that stopped it. */
  readonly done: Promise<void>;

  constructor(fetch: PageFetcher, keyspace: string, opts: SubscribeOptions, retry: RetryPolicy, timeoutMs: number) {
    this.#fetch = fetch;
    this.#keyspace = keyspace;
    this.#retry = retry;
    this.#onError = opts.onError;
    const from = opts.from ?? 'now';
    if (from !== 'now' && from !== 'beginning') {
      const p = decodePosition(from); // INVALID early, in the caller's stack
      if (p.keyspace !== keyspace) throw new VitessError('INVALID', `the position is one of keyspace "${p.keyspace}", not "${keyspace}"`);
    }
    this.#from = from;
    this.#position = isPosition(from) ? from : '';
    this.#waitMs = Math.max(0, Math.min(opts.waitMs ?? DEFAULT_WAIT_MS, Math.floor(timeoutMs / 2)));
    this.#req = {
      ...(opts.tables && { tables: opts.tables }),
      ...(opts.shards && { shards: opts.shards }),
      ...(opts.keyRange !== undefined && { keyRange: opts.keyRange }),
      ...(opts.ddl && { ddl: true }),
      ...(opts.pageSize !== undefined && { maxEvents: opts.pageSize }),
      ...(opts.maxBytes !== undefined && { maxBytes: opts.maxBytes }),
    };
    this.#closedSignal = new Promise((resolve) => {
      this.#signalClosed = () => resolve(undefined);
    });
    this.done = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.done.catch(() => undefined); // reported through done / onError / the iterator, never unhandled
    // Pin the start now (so `from: 'now'` means now), with the client's bounded retries.
    this.ready = this.#fill(true).then(() => undefined);
    this.ready.catch((e: unknown) => this.#fail(e));
  }

  /** After the last event taken (iterator) or handled (callback); resume from it with `from`. */
  get position(): string {
    return this.#position;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Records each shard's log is ahead of this subscription's position (as of the last page). */
  get lag(): Record<string, number> {
    const cursors = this.#position ? decodePosition(this.#position).shards : {};
    return Object.fromEntries(Object.entries(this.#heads).map(([shard, head]) => [shard, Math.max(0, head - completeLsn(cursors[shard] ?? 0))]));
  }

  /** Pages read and transient failures retried so far (for monitoring and tests). */
  get stats(): { pages: number; retries: number } {
    return { pages: this.#pages, retries: this.#retries };
  }

  /** Stops the stream: no event is delivered after this resolves. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer = [];
    this.#signalClosed();
    for (const wake of this.#wake.splice(0)) wake();
    if (this.#error === undefined) this.#settle.resolve();
  }

  /** Delivers every event to `onEvent`, one at a time, until closed or failed (internal: `client.subscribe`). */
  run(onEvent: (ev: E) => unknown): void {
    this.#claim('callback');
    void (async () => {
      try {
        for (;;) {
          const ev = await this.#take();
          if (!ev) return;
          await onEvent(ev);
          this.#position = ev.position;
          if (this.#closed) return;
        }
      } catch (e) {
        this.#fail(e);
      }
    })();
  }

  [Symbol.asyncIterator](): AsyncIterator<E> {
    this.#claim('iterator');
    return {
      next: async (): Promise<IteratorResult<E>> => {
        const ev = await this.#take();
        if (!ev) {
          if (this.#error !== undefined) throw this.#error;
          return { done: true, value: undefined };
        }
        this.#position = ev.position;
        return { done: false, value: ev };
      },
      return: async (): Promise<IteratorResult<E>> => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  #claim(mode: 'callback' | 'iterator'): void {
    if (this.#mode && (this.#mode !== 'iterator' || mode !== 'iterator')) {
      throw new VitessError(
        'INVALID',
        this.#mode === 'callback' ? 'this subscription delivers to its callback: it cannot also be iterated' : 'this subscription is already being iterated',
      );
    }
    this.#mode = mode;
  }

  #fail(e: unknown): void {
    if (this.#error !== undefined || this.#closed) return;
    this.#error = e;
    this.#settle.reject(e);
    void this.close();
    try {
      this.#onError?.(e);
    } catch {
      /* the user's handler */
    }
  }

  /** The next event, or undefined once closed; throws the error that stopped the stream. */
  #take(): Promise<E | undefined> {
    // One taker at a time, in order.
    const prev = this.#taking ?? Promise.resolve(undefined);
    const next = prev.catch(() => undefined).then(() => this.#takeOne());
    this.#taking = next;
    return next;
  }

  async #takeOne(): Promise<E | undefined> {
    await Promise.race([this.ready.catch(() => undefined), this.#closedSignal]);
    for (;;) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#closed) return undefined;
      const ev = this.#buffer.shift();
      if (ev) return ev;
      if (this.#pageEnd !== undefined) {
        // Every event of the page was taken: the page's end (filtered-out records too) is delivered.
        this.#position = this.#pageEnd;
        this.#pageEnd = undefined;
      }
      try {
        await Promise.race([this.#fill(false), this.#closedSignal]);
      } catch (e) {
        this.#fail(e);
      }
    }
  }

  /** Reads the next page into the buffer, retrying what may be retried. */
  async #fill(first: boolean): Promise<void> {
    const req: ChangesRequest = { ...this.#req, from: this.#from, waitMs: first ? 0 : this.#waitMs };
    let page: ChangesPage | undefined;
    for (let n = 0; !page; n++) {
      try {
        page = await this.#fetch(req);
      } catch (e) {
        if (this.#closed) return;
        const f = classify(e);
        // The first page is bounded by the client's retry policy (subscribe() fails when VTGate
        // cannot be reached); later pages retry transient failures until closed.
        if (!shouldRetry(f, true)) throw f.error;
        if (first && n + 1 >= this.#retry.attempts)
          throw new VitessError(f.error.code, `${f.error.message} (gave up after ${n + 1} attempts)`, f.error.details);
        this.#retries++;
        await this.#sleep(backoffDelay(this.#retry, Math.min(n, 16)));
        if (this.#closed) return;
      }
    }
    if (this.#closed) return;
    this.#pages++;
    this.#heads = page.heads ?? {};
    const cursors: Record<string, ShardCursor> = { ...decodePosition(page.start).shards };
    this.#buffer = (page.events ?? []).map((w) => {
      cursors[w.shard] = cursorAfter(w.lsn, w.seq, w.of);
      return toEvent(w, encodePosition({ keyspace: this.#keyspace, shards: cursors })) as unknown as E;
    });
    if (!this.#position) this.#position = page.start;
    this.#pageEnd = page.position;
    this.#from = page.position;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const wakes = this.#wake;
      function done() {
        clearTimeout(timer);
        const i = wakes.indexOf(done);
        if (i >= 0) wakes.splice(i, 1);
        resolve();
      }
      wakes.push(done);
    });
  }
}

const rowFromRpc = (row: Record<string, RpcValue> | undefined): Row => {
  const out: Row = {};
  for (const [k, v] of Object.entries(row ?? {})) out[k] = fromRpc(v ?? null);
  return out;
};

function toEvent(w: WireChangeEvent, position: string): SubscriptionEvent {
  if (w.op === 'ddl') return { shard: w.shard, lsn: w.lsn, op: 'ddl', ddl: w.ddl ?? '', ts: w.ts, txid: w.txid, position };
  return {
    shard: w.shard,
    lsn: w.lsn,
    table: w.table ?? '',
    op: w.op,
    row: rowFromRpc(w.row),
    ...(w.oldKey && { oldKey: rowFromRpc(w.oldKey) }),
    ts: w.ts,
    txid: w.txid,
    position,
  };
}
