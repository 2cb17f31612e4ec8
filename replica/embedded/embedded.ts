/**
 * `createReplica`: a copy of a keyspace (or of some tables, shards or a key range) in a local
 * PGlite or SQLite database, in Node, a browser or a Worker's Durable Object. It copies the
 * shards once (bootstrap.ts, over the copy core replica/copy-core.ts), then follows their change
 * logs through VTGate, page by page, applying each page in local transactions that also store how
 * far it got, so a restart resumes where it stopped. Reads run locally; writes go to the primaries
 * and resolve once the replica has applied them. See docs/embedded-replicas.md.
 */
import { createClient, type ClientOptions, type VitessClient } from '../../client/client.js';
import { classify } from '../../client/failure.js';
import type { ExecuteResult } from '../../client/results.js';
import { backoffDelay, retryPolicy, shouldRetry, type RetryPolicy } from '../../client/retry.js';
import type * as Y from 'yjs';
import { quoteIdent } from '../../engines/dialect/sql-text.js';
import { boundDoc } from './yjs-doc.js';
import type { ChangesPage } from '../../rpc/protocol.js';
import { isReadStatement } from '../../engines/dialect/read-only.js';
import type { StorageEngine } from '../../engines/engine.js';
import { decodeBookmark } from '../../rpc/bookmark.js';
import { asVitessError, VitessError } from '../../rpc/errors.js';
import { decodePosition, encodePosition } from '../../rpc/position.js';
import type { ResultSet } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import { applyUnits, PrimaryKeys, type Applied } from './apply.js';
import { logTrimmed, resumeAt } from '../copy-core.js';
import { copyKeyspace, streamFilter } from './bootstrap.js';
import { LiveQuery, type LiveCallback } from './live.js';
import { Sequencer } from './sequencer.js';
import { StreamRequests } from './stream.js';
import { checkScope, readState, type ReplicaScope } from './state.js';

export interface ReplicaOptions {
  /** VTGate's base URL. */
  endpoint: string;
  /** Default `main`. */
  keyspace?: string;
  /**
   * `libsql` (Node: a file at `path`, else memory), `pglite` (a data directory, `idb://name` in a
   * browser, else memory), `do-sqlite` (inside a Durable Object: pass its `storage`), or an
   * opened `StorageEngine`.
   */
  engine: 'pglite' | 'libsql' | 'do-sqlite' | StorageEngine;
  path?: string;
  /** The Durable Object's `ctx.storage`, for `engine: 'do-sqlite'`. */
  storage?: DurableObjectStorage;
  /** Only these tables (the schema is still the whole keyspace's; other tables stay empty). */
  tables?: string[];
  /** Only these shards. */
  shards?: string[];
  /** Only rows whose keyspace id is in this key range, e.g. `'80-'`. */
  keyRange?: string;
  token?: string;
  /** More client options: `fetch`, `WebSocket`, `retry`, `timeoutMs`. */
  client?: Omit<ClientOptions, 'endpoint' | 'keyspace' | 'token'>;
  /** How long VTGate holds a stream request open when nothing is new (default 5 s). */
  waitMs?: number;
  /** Rows per snapshot page while copying (default and at most 50,000; wide rows go fewer to a page). */
  pageRows?: number;
  /** How long `execute` waits for its write to be applied locally (default 30 s). */
  writeTimeoutMs?: number;
  /** Called when following stops for good (`status.error` says the same). */
  onError?: (error: VitessError) => void;
}

export type ReplicaState = 'copying' | 'streaming' | 'retrying' | 'failed' | 'closed';

export interface EmbeddedReplicaStatus {
  state: ReplicaState;
  /** Per shard, the LSN the replica has applied through. */
  lsns: Record<string, number>;
  /** Copies made by this instance (0 after resuming from stored positions). */
  bootstraps: number;
  /** Snapshot pages and rows fetched by this instance. */
  snapshotPages: number;
  snapshotRows: number;
  /** Change-stream pages read and transient failures retried. */
  pages: number;
  retries: number;
  error?: string;
}

const STREAM_EVENTS = 1_000;
/** VTGate holds a long poll at most this long (router/streams/subscriptions.ts `maxWaitMs`). */
const MAX_WAIT_MS = 25_000;
/** How long past its long poll a stream request may stay unanswered before it is asked again; doubles while that repeats. */
const STREAM_GRACE_MS = 10_000;
const MAX_STREAM_GRACE_MS = 120_000;
/** A waiter still waiting after this long cuts a stream request issued before it: a new one sees the write at once. */
const KICK_AFTER_MS = 1_500;

interface Waiter {
  need: Record<string, number>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class EmbeddedReplica {
  readonly keyspace: string;
  readonly #db: StorageEngine;
  /** Writes and the copy's reads. */
  readonly #client: VitessClient;
  /** Stream pages only: its requests can be cut (embedded-stream.ts) without touching a write in flight. */
  readonly #stream: VitessClient;
  readonly #requests = new StreamRequests();
  readonly #keys: PrimaryKeys;
  readonly #scope: ReplicaScope;
  readonly #opts: ReplicaOptions;
  readonly #retry: RetryPolicy;
  readonly #abort = new AbortController();
  #shards: string[] = [];
  #lsns: Record<string, number> = {};
  #state: ReplicaState = 'copying';
  #error: VitessError | undefined;
  #bootstraps = 0;
  #snapshotPages = 0;
  #snapshotRows = 0;
  #pages = 0;
  #retries = 0;
  /** The local transaction in progress, which close() lets finish. */
  #applying: Promise<unknown> = Promise.resolve();
  readonly #waiters = new Set<Waiter>();
  readonly #live = new Set<LiveQuery>();

  private constructor(db: StorageEngine, opts: ReplicaOptions) {
    this.#db = db;
    this.#opts = opts;
    this.keyspace = opts.keyspace ?? 'main';
    this.#keys = new PrimaryKeys(db);
    this.#retry = retryPolicy(opts.client?.retry);
    this.#scope = {
      keyspace: this.keyspace,
      ...(opts.tables && { tables: [...opts.tables] }),
      ...(opts.shards && { shards: [...opts.shards] }),
      ...(opts.keyRange !== undefined && { keyRange: opts.keyRange }),
    };
    const base = opts.client?.fetch as typeof fetch | undefined;
    const client = (cut: () => AbortSignal | undefined) =>
      createClient({
        ...opts.client,
        endpoint: opts.endpoint,
        keyspace: this.keyspace,
        ...(opts.token !== undefined && { token: opts.token }),
        // close() cuts the long poll instead of waiting it out, and ends the client's retries of it.
        fetch: (input: string, init: RequestInit) => {
          if (this.#abort.signal.aborted) return Promise.reject(new VitessError('INVALID', 'the embedded replica is closed'));
          const signals = [init?.signal, this.#abort.signal, cut()].filter((x): x is AbortSignal => !!x);
          return (base ?? globalThis.fetch)(input, { ...init, signal: AbortSignal.any(signals) });
        },
      });
    this.#client = client(() => undefined);
    this.#stream = client(() => this.#requests.signal);
  }

  /** Opens the local database; copies the keyspace unless it holds a copy already, then follows. */
  static async open(opts: ReplicaOptions, db: StorageEngine, where: string): Promise<EmbeddedReplica> {
    const r = new EmbeddedReplica(db, opts);
    try {
      const stored = await readState(db);
      if (stored.scope) checkScope(stored.scope, r.#scope, where);
      const at = resumeAt(stored);
      if (at) {
        // Resume: the data is here at once; the stream catches up in the background.
        r.#lsns = at;
        r.#shards = Object.keys(at);
      } else {
        await r.#bootstrap();
      }
    } catch (e) {
      r.#abort.abort();
      if (typeof opts.engine === 'string') await db.close().catch(() => undefined);
      throw asVitessError(e);
    }
    r.#state = 'streaming';
    void r.#follow();
    return r;
  }

  /** Per shard, the LSN the replica has applied through (every change up to it is visible locally). */
  get lsns(): Record<string, number> {
    return { ...this.#lsns };
  }

  /**
   * One number that grows with every record applied: the sum of the per-shard LSNs (for a
   * one-shard keyspace, its LSN). For comparing positions across shards use `lsns` or `waitFor`.
   */
  get lsn(): number {
    return Object.values(this.#lsns).reduce((a, b) => a + b, 0);
  }

  get status(): EmbeddedReplicaStatus {
    return {
      state: this.#state,
      lsns: this.lsns,
      bootstraps: this.#bootstraps,
      snapshotPages: this.#snapshotPages,
      snapshotRows: this.#snapshotRows,
      pages: this.#pages,
      retries: this.#retries,
      ...(this.#error && { error: `${this.#error.code}: ${this.#error.message}` }),
    };
  }

  /** A read (SELECT, VALUES, WITH … SELECT) on the local copy: no network. */
  async query(sql: string, params: SqlValue[] = []): Promise<ResultSet> {
    this.#open();
    if (!isReadStatement(sql)) {
      throw new VitessError('UNSUPPORTED', 'an embedded replica reads locally and writes through the primary: use execute() for this statement', {
        construct: 'write on an embedded replica',
      });
    }
    return this.#db.query(sql, params);
  }

  /** Runs `sql` on the primaries (through VTGate); resolves once the replica has applied the write. */
  async execute(sql: string, params: SqlValue[] = []): Promise<ExecuteResult> {
    this.#open();
    const r = await this.#client.execute(sql, params);
    await this.waitFor(r.bookmark);
    return r;
  }

  /** Resolves once the replica has applied everything `bookmark` (from any client of the keyspace) covers on its shards. */
  waitFor(bookmark: string, timeoutMs = this.#opts.writeTimeoutMs ?? 30_000): Promise<void> {
    this.#open();
    const need: Record<string, number> = {};
    for (const [key, lsn] of Object.entries(decodeBookmark(bookmark))) {
      const [ks, shard] = key.split('/') as [string, string];
      if (ks === this.keyspace && this.#shards.includes(shard)) need[shard] = lsn;
    }
    if (this.#covers(need)) return Promise.resolve();
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        clearTimeout(kick);
        this.#waiters.delete(w);
        const behind = Object.entries(need)
          .filter(([s, l]) => (this.#lsns[s] ?? 0) < l)
          .map(([s, l]) => `${s} at ${this.#lsns[s] ?? 0} of ${l}`);
        reject(
          new VitessError('TIMEOUT', `the write committed, but the embedded replica has not applied it within ${timeoutMs} ms (shard ${behind.join(', ')})`, {
            shards: behind,
          }),
        );
      }, timeoutMs);
      // The write committed before now: a stream request issued by now that has not brought it
      // within KICK_AFTER_MS may be lost (embedded-stream.ts); a new one finds the write at once.
      const issued = this.#requests.issued;
      const kick = setTimeout(() => this.#requests.cutIssuedBy(issued), KICK_AFTER_MS);
      const w: Waiter = {
        need,
        resolve: () => {
          clearTimeout(timer);
          clearTimeout(kick);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          clearTimeout(kick);
          reject(e);
        },
      };
      this.#waiters.add(w);
    });
  }

  /**
   * Runs `sql` now and again whenever the replica applies a change to a table it reads; `cb`
   * gets the rows each time. Returns a function that stops it.
   */
  live(sql: string, params: SqlValue[], cb: LiveCallback, onError?: (e: unknown) => void): () => void {
    this.#open();
    if (!isReadStatement(sql)) throw new VitessError('UNSUPPORTED', 'live() takes a read (SELECT, VALUES, WITH … SELECT)', { construct: 'live write' });
    const q = new LiveQuery(sql, () => this.#db.query(sql, params), cb, onError);
    this.#live.add(q);
    q.refresh();
    return () => {
      q.stop();
      this.#live.delete(q);
    };
  }

  /**
   * A live Y.Doc bound to the Yjs column `column` of the row of `table` whose columns equal `key`
   * (replica/embedded/yjs-doc.ts, docs/yjs.md): it holds the row's state as this replica has it
   * and follows its changes; its own edits are merged into the row on the primary, sent again
   * until they get there. `doc.destroy()` unbinds it. `onError`: a send refused for good.
   */
  doc(table: string, key: Record<string, SqlValue>, column: string, onError?: (e: VitessError) => void): Y.Doc {
    this.#open();
    const names = Object.keys(key);
    if (!names.length) throw new VitessError('INVALID', `doc() needs the key of the row of table "${table}"`, { table });
    const sql = `SELECT ${quoteIdent(column)} AS state FROM ${quoteIdent(table)} WHERE ${names.map((n, i) => `${quoteIdent(n)} = $${i + 1}`).join(' AND ')}`;
    const params = names.map((n) => key[n] ?? null);
    return boundDoc({
      watch: (cb, failed) => this.live(sql, params, cb, failed),
      send: (update) => this.#client.applyUpdate(table, key, column, update),
      delay: (n) => backoffDelay(this.#retry, n),
      ...(onError && { onError }),
    });
  }

  /** Stops following, ends live queries and closes the local database (unless it was passed in opened). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#abort.abort();
    for (const q of this.#live) q.stop();
    this.#live.clear();
    this.#rejectWaiters(new VitessError('UNAVAILABLE', 'the embedded replica was closed'));
    // The loop stops at its next step; a local transaction under way is let finish.
    await this.#applying.catch(() => undefined);
    if (typeof this.#opts.engine === 'string') await this.#db.close();
  }

  // ---- internals ------------------------------------------------------------------------------

  #open(): void {
    if (this.#state === 'closed') throw new VitessError('INVALID', 'the embedded replica is closed');
  }

  get #closed(): boolean {
    return this.#state === 'closed';
  }

  #covers(need: Record<string, number>): boolean {
    return Object.entries(need).every(([s, l]) => (this.#lsns[s] ?? 0) >= l);
  }

  async #bootstrap(): Promise<void> {
    this.#state = 'copying';
    this.#bootstraps++;
    const lsns = await copyKeyspace(this.#db, this.#keys, this.#client, this.#scope, {
      ...(this.#opts.pageRows !== undefined && { pageRows: this.#opts.pageRows }),
      onPage: (rows) => {
        this.#snapshotPages++;
        this.#snapshotRows += rows;
      },
    });
    this.#lsns = lsns;
    this.#shards = Object.keys(lsns);
    this.#keys.forget();
  }

  /** Follows the change stream until closed: read a page, apply it, store the positions. */
  async #follow(): Promise<void> {
    let seq = new Sequencer(this.#shards);
    let from = encodePosition({ keyspace: this.keyspace, shards: this.#lsns });
    let failures = 0;
    const waitMs = Math.min(MAX_WAIT_MS, this.#opts.waitMs ?? 5_000);
    let grace = STREAM_GRACE_MS;
    while (!this.#closed) {
      let page: ChangesPage;
      try {
        const got = await this.#requests.run(
          () => this.#stream.changes({ ...streamFilter(this.#scope), from, maxEvents: STREAM_EVENTS, waitMs }),
          waitMs + grace,
        );
        if ('cut' in got) {
          // Unanswered past its deadline, or cut for a waiter: ask again from the same position.
          // Past the deadline again and again, the gateway may just be slow: allow it more time.
          if (got.cut === 'deadline') grace = Math.min(MAX_STREAM_GRACE_MS, grace * 2);
          this.#retries++;
          continue;
        }
        page = got.answer;
      } catch (e) {
        if (this.#closed) return;
        const err = asVitessError(e);
        if (logTrimmed(err)) {
          // Past the trim point the records in between are gone: copy again, never skip.
          const copied = await this.#guard(() => this.#bootstrap());
          if (!copied) return;
          this.#notify({ tables: new Set(), ddl: true });
          this.#state = 'streaming';
          seq = new Sequencer(this.#shards);
          from = encodePosition({ keyspace: this.keyspace, shards: this.#lsns });
          continue;
        }
        const f = classify(e);
        if (!shouldRetry(f, true)) return this.#fail(f.error);
        this.#state = 'retrying';
        this.#retries++;
        await new Promise((r) => setTimeout(r, backoffDelay(this.#retry, Math.min(failures++, 16))));
        continue;
      }
      if (this.#closed) return;
      failures = 0;
      grace = STREAM_GRACE_MS;
      this.#pages++;
      const ok = await this.#guard(async () => {
        const cursors = decodePosition(page.position).shards;
        const units = seq.feed(page.events, cursors);
        const next = { ...this.#lsns, ...seq.applied(cursors) };
        if (!units.length && this.#shards.every((s) => next[s] === this.#lsns[s])) return;
        const applying = applyUnits(this.#db, this.#keys, units, next, this.#lsns);
        this.#applying = applying;
        const applied = await applying;
        this.#lsns = next;
        this.#notify(applied);
      });
      if (!ok) return;
      if (this.#state === 'retrying') this.#state = 'streaming';
      from = page.position;
    }
  }

  /** Runs a step of the loop; a failure stops following (reported to waiters, `onError`, `status`). */
  async #guard(fn: () => Promise<void>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (e) {
      if (!this.#closed) this.#fail(asVitessError(e));
      return false;
    }
  }

  #fail(e: VitessError): void {
    this.#error = e;
    this.#state = 'failed';
    this.#rejectWaiters(e);
    try {
      this.#opts.onError?.(e);
    } catch {
      /* the user's handler */
    }
  }

  #rejectWaiters(e: unknown): void {
    for (const w of this.#waiters) w.reject(e);
    this.#waiters.clear();
  }

  #notify(applied: Applied): void {
    for (const w of [...this.#waiters]) {
      if (this.#covers(w.need)) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
    if (applied.ddl || applied.tables.size) for (const q of this.#live) q.changed(applied);
  }
}
