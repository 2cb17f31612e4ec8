/**
 * The copy at one LSN, shared by the replica DO (replica/replica-do.ts: one shard, from its
 * tablet) and embedded replicas (replica/embedded/bootstrap.ts: the shards of a scope, through
 * VTGate). Pure logic over three small interfaces: where pages and the log come from
 * (`PageSource`), where rows go (`RowSink`), where progress is kept (`CopyProgress`). It imports
 * no engine and no platform module: the embedded library runs in Node, browsers and Workers.
 *
 * 1. Mark the copy under way (a restart from here on copies again), empty the local database and
 *    build the schema, current at one LSN per shard.
 * 2. Every table of every shard in primary-key pages, each exactly its shard's state at the
 *    page's LSN. Before loading a page, apply the shard's log from its position through the
 *    page's LSN: what the replica holds of a shard is always a subset of the shard's state at one
 *    LSN (copied rows exact, the rest absent), so no unique index trips on rows from different
 *    moments, and after the last page it is the whole state (Vitess's copy, catch up, copy).
 * 3. Mark the copy whole at the shards' LSNs: a restart resumes from them (`resumeAt`).
 *
 * A DDL met while catching up, a table gone, the log trimmed past the copy or ending short of a
 * page's LSN: the copy starts over (`RestartCopy`), a few times in a row, then `UNAVAILABLE`.
 */
import type { TableInfo } from '../engines/engine.js';
import { Mutex } from '../engines/mutex.js';
import { asVitessError, VitessError } from '../rpc/errors.js';
import type { SqlValue } from '../rpc/values.js';

/** The copy must start over: the schema changed, a table went away, or the log was trimmed past it. */
export class RestartCopy extends Error {}

/** A snapshot page: the rows of a table after a key, exactly as its shard held them at `lsn`. */
export interface CopyPage {
  lsn: number;
  /** The key the next page starts after; null after the last page. */
  nextKey: SqlValue[] | null;
}

/** One read of a shard's log while copying: its records (opaque here) and how far it got. */
export interface LogStep<R> {
  records: R;
  /** Every record of the shard through this LSN has been read: the read's end, or past it. */
  reached: number;
  /** Whether the read moved the shard's position (one that did not, short of the target, means the log ended). */
  moved: boolean;
  /** Whether the records hold DDL. */
  ddl: boolean;
}

/** Where pages, and the log between them, come from. */
export interface PageSource<P extends CopyPage, R> {
  /** The page of `table` on `shard` after `afterKey` (null: the first). NOT_FOUND: the table is gone. */
  page(shard: string, table: string, afterKey: SqlValue[] | null): Promise<P>;
  /**
   * A reader of `shard`'s log after LSN `from`, up to LSN `to` (no record past it), one read per
   * call. A read below the log's trim point is refused NOT_FOUND with `limit: 'log retention'`.
   */
  log(shard: string, from: number, to: number): () => Promise<LogStep<R>>;
}

/** What a copy starts from: the tables to copy, and per shard the LSN the schema is current at. */
export interface CopyStart {
  tables: TableInfo[];
  lsns: Record<string, number>;
}

/** Where rows go. */
export interface RowSink<P extends CopyPage, R> {
  /** Empties the local database and builds the schema. */
  reset(): Promise<CopyStart>;
  /** Upserts a page's rows (rows already there are overwritten: the page is newer). */
  load(shard: string, table: TableInfo, page: P): Promise<void>;
  /** Applies one read of `shard`'s log; `lsns` are the copy's positions as the catch-up began. */
  apply(shard: string, step: LogStep<R>, lsns: Readonly<Record<string, number>>): Promise<void>;
}

/** Where progress is kept, so that a restart knows whether the local state is a finished copy. */
export interface CopyProgress {
  /** A copy begins: until `copied`, the local state is no primary's, and a restart copies again. */
  copying(): Promise<void>;
  /** The copy is whole at `lsns`; the replica follows the log from there. */
  copied(lsns: Record<string, number>): Promise<void>;
}

/** What a replica stored of its progress (`CopyProgress` writes it). */
export interface StoredProgress {
  phase?: 'copying' | 'streaming' | undefined;
  /** Per shard: every record through this LSN is applied. */
  lsns: Record<string, number>;
}

export interface CopyOptions {
  /** Copies started in a row (each restart starts over) before giving up with UNAVAILABLE. */
  tries: number;
  /** What is copied, for that error: `keyspace "main"`, `shard main/-`. */
  what: string;
}

/** Where a replica opened on stored progress resumes: a finished copy's positions, else nothing (copy). */
export function resumeAt(stored: StoredProgress): Record<string, number> | undefined {
  return stored.phase === 'streaming' && Object.keys(stored.lsns).length ? stored.lsns : undefined;
}

/** The log no longer holds the records after a position: a replica there must copy again, never skip. */
export function logTrimmed(e: unknown): boolean {
  const err = asVitessError(e);
  return err.code === 'NOT_FOUND' && err.details.limit === 'log retention';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Copies (starting over on `RestartCopy`, up to `opts.tries` times); returns per shard the LSN the copy is current at. */
export async function copyAtLsn<P extends CopyPage, R>(
  source: PageSource<P, R>,
  sink: RowSink<P, R>,
  progress: CopyProgress,
  opts: CopyOptions,
): Promise<Record<string, number>> {
  for (let attempt = 1; ; attempt++) {
    try {
      await progress.copying();
      const { tables, lsns } = await sink.reset();
      // Shards are copied side by side, each in its own page order with its own catch-up: while
      // one page loads (a local engine runs one transaction at a time), the others' pages travel.
      const run: CopyRun<P, R> = { source, sink, tables, lsns, stop: { reason: undefined }, loads: new Mutex() };
      const results = await Promise.allSettled(Object.keys(lsns).map((shard) => copyShard(run, shard)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw run.stop.reason ?? (failed as PromiseRejectedResult).reason;
      await progress.copied(lsns);
      return lsns;
    } catch (e) {
      if (!(e instanceof RestartCopy)) throw e;
      if (attempt >= opts.tries) throw new VitessError('UNAVAILABLE', `the copy of ${opts.what} restarted ${attempt} times (${e.message}); try again later`);
    }
  }
}

/** One copy attempt's state, shared by its shards. */
interface CopyRun<P extends CopyPage, R> {
  source: PageSource<P, R>;
  sink: RowSink<P, R>;
  tables: TableInfo[];
  /** Per shard, the LSN the local state is current at. */
  lsns: Record<string, number>;
  /** The first failure of any shard: the others stop at their next page. */
  stop: { reason: unknown };
  /** Page loads, one at a time (as a local engine runs them anyway). */
  loads: Mutex;
}

/** A page on its way: of table `tables[t]`, after key `afterKey`. */
interface Asked<P> {
  t: number;
  afterKey: SqlValue[] | null;
  page: Promise<P>;
}

/** Every table of one shard, page after page; gives up as soon as another shard's copy failed. */
async function copyShard<P extends CopyPage, R>(run: CopyRun<P, R>, shard: string): Promise<void> {
  const { source, sink, tables, lsns, stop, loads } = run;
  const fetchPage = (table: string, afterKey: SqlValue[] | null) =>
    source.page(shard, table, afterKey).catch((e: unknown) => {
      if (asVitessError(e).code === 'NOT_FOUND') throw new RestartCopy(`table ${table} is gone`);
      throw e;
    });
  /** Asks for a page of table `t` (none past the last table); a failure waits for whoever awaits it. */
  const ask = (t: number, afterKey: SqlValue[] | null): Asked<P> | undefined => {
    if (t >= tables.length) return undefined;
    const page = fetchPage(tables[t]!.name, afterKey);
    page.catch(() => undefined);
    return { t, afterKey, page };
  };
  try {
    // Once a page is in, two requests are on their way while it loads: this table's next page,
    // and the next table's first. A page goes in only after the one before it, so the last pages
    // of a shard (or a few small tables) do not each wait for a load before they are even asked
    // for. The copy's first request goes alone: the first page to load comes sooner.
    let next = ask(0, null);
    let ahead: Asked<P> | undefined;
    while (next) {
      const { t, afterKey } = next;
      let page = await next.page;
      if (stop.reason !== undefined) return;
      const table = tables[t]!;
      // A first page asked for ahead may be older than what this shard's last page had applied
      // (writes landed in between): loaded, it would take rows back. Asked again, it is not.
      if (page.lsn < lsns[shard]!) page = await fetchPage(table.name, afterKey);
      ahead ??= ask(t + 1, null);
      if (page.nextKey) next = ask(t, page.nextKey);
      else [next, ahead] = [ahead, undefined];
      if (page.lsn > lsns[shard]!) lsns[shard] = await catchUp(run, shard, page.lsn);
      await loads.run(async () => {
        // A local engine may load on this thread (libsql does, synchronously), and an HTTP batch
        // goes out on a timer: first let every request made so far leave — this shard's next
        // page, and the other shards' — or they wait for the load, and then for the next.
        await sleep(0);
        await sink.load(shard, table, page);
      });
    }
  } catch (e) {
    stop.reason ??= e;
    throw e;
  }
}

/** Applies `shard`'s log after its position through `to`; returns `to`. */
async function catchUp<P extends CopyPage, R>({ source, sink, lsns }: CopyRun<P, R>, shard: string, to: number): Promise<number> {
  const read = source.log(shard, lsns[shard]!, to);
  for (;;) {
    const step = await read().catch((e: unknown) => {
      if (logTrimmed(e)) throw new RestartCopy('the log was trimmed past the copy');
      throw e;
    });
    if (step.ddl) throw new RestartCopy('the schema changed while copying');
    await sink.apply(shard, step, lsns);
    if (step.reached >= to) return to;
    if (!step.moved) throw new RestartCopy(`shard ${shard}'s log ended at LSN ${step.reached}, before ${to}`);
  }
}
