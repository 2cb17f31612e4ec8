/**
 * The copy phase of an embedded replica: the schema from the shards' DDL histories, then every
 * table of every shard in primary-key pages, each page exactly its shard's state at the page's
 * LSN. Before loading a page the replica applies that shard's log up to the page's LSN, so what
 * it holds of a shard is always a subset of the shard's state at one LSN (the replica DO's
 * invariant, docs/replicas.md): no unique index trips on rows from different moments, and after
 * the last page it is the whole state, at the LSNs the stream then continues from.
 */
import { PAGE_LIMITS } from '../../changelog/snapshot.js';
import type { EngineKind, StorageEngine, TableInfo } from '../../engines/engine.js';
import { Mutex } from '../../engines/mutex.js';
import type { SnapshotText } from '../../client/client.js';
import { asVitessError, VitessError } from '../../rpc/errors.js';
import { completeLsn, decodePosition, encodePosition } from '../../rpc/position.js';
import type { ChangesPage, ChangesRequest, ShardSchema, SnapshotRequest } from '../../rpc/protocol.js';
import type { SqlValue } from '../../rpc/values.js';
import { applyUnits, type PrimaryKeys } from './apply.js';
import { replicaDdl } from './ddl.js';
import { loadPage } from './pages.js';
import { clearParked } from './rows.js';
import { Sequencer } from './sequencer.js';
import { createStateTable, writeState, type ReplicaScope } from './state.js';
import { quoteIdent } from '../../engines/dialect/sql-text.js';

/** The gateway calls a copy makes (a `VitessClient` has them). */
export interface CopySource {
  changes(req: ChangesRequest): Promise<ChangesPage>;
  snapshotText(req: Omit<SnapshotRequest, 'afterKey'> & { afterKey?: SqlValue[] | null }): Promise<SnapshotText>;
  schema(shards?: string[]): Promise<ShardSchema[]>;
}

export interface CopyOptions {
  /** Rows per snapshot page (default and at most 50,000; a shard pages wide rows fewer at a time). */
  pageRows?: number;
  /** Called after each snapshot page is loaded. */
  onPage?: (rows: number) => void;
}

/** The copy must start over: the schema changed, a table went away, or the log was trimmed past it. */
class RestartCopy extends Error {}

const COPY_TRIES = 3;
/** How long shards may disagree on their DDL history (a DDL running shard after shard) before that is an error. */
const SCHEMA_SETTLE_MS = 5_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const streamFilter = (scope: ReplicaScope): Omit<ChangesRequest, 'from'> => ({
  ddl: true,
  ...(scope.tables && { tables: scope.tables }),
  ...(scope.shards && { shards: scope.shards }),
  ...(scope.keyRange !== undefined && { keyRange: scope.keyRange }),
});

/** The shards a scope with a key range covers, as VTGate resolves the filter. */
async function rangeShards(source: CopySource, scope: ReplicaScope): Promise<string[]> {
  const page = await source.changes({ ...streamFilter(scope), from: 'now', maxEvents: 1, waitMs: 0 });
  return Object.keys(decodePosition(page.start).shards);
}

/** Copies the scope into `db` (emptied first); returns per shard the LSN the copy is current at. */
export async function copyKeyspace(
  db: StorageEngine,
  keys: PrimaryKeys,
  source: CopySource,
  scope: ReplicaScope,
  opts: CopyOptions = {},
): Promise<Record<string, number>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await copyOnce(db, keys, source, scope, opts);
    } catch (e) {
      if (!(e instanceof RestartCopy) || attempt >= COPY_TRIES) {
        throw e instanceof RestartCopy
          ? new VitessError('UNAVAILABLE', `the copy of keyspace "${scope.keyspace}" restarted ${attempt} times (${e.message}); try again later`)
          : e;
      }
    }
  }
}

async function copyOnce(db: StorageEngine, keys: PrimaryKeys, source: CopySource, scope: ReplicaScope, opts: CopyOptions): Promise<Record<string, number>> {
  // The scope's shards and their schemas at once (a round trip saved): without a key range the
  // schemas' shards are the scope's; with one, the schemas of shards outside it are dropped.
  const [all, ranged] = await Promise.all([source.schema(scope.shards), scope.keyRange !== undefined ? rangeShards(source, scope) : undefined]);
  const shards = ranged ?? all.map((s) => s.shard);
  const first = all.filter((s) => shards.includes(s.shard));
  const schemas = await settledSchemas(source, scope.keyspace, shards, first.length === shards.length ? first : await source.schema(shards));
  await wipe(db);
  keys.forget();
  const lsns = Object.fromEntries(schemas.map((s) => [s.shard, s.lsn]));
  await db.transaction(async (tx) => {
    await createStateTable(tx); // PGlite's wipe dropped it with the schema
    await clearParked(tx); // SQLite's kept it
    for (const ddl of schemas[0]!.ddl) for (const st of replicaDdl(ddl)) await tx.query(st.sql, st.params);
    await writeState(tx, { scope, phase: 'copying', lsns });
  });
  const tables = await db.tables();
  const missing = (scope.tables ?? []).filter((t) => !tables.some((x) => x.name === t));
  if (missing.length) throw new VitessError('NOT_FOUND', `keyspace "${scope.keyspace}" has no table ${missing.join(', ')}`, { table: missing[0] });
  const copied = scope.tables ? tables.filter((t) => scope.tables!.includes(t.name)) : tables;
  const pageRows = Math.min(PAGE_LIMITS.rows, Math.max(1, opts.pageRows ?? PAGE_LIMITS.rows));
  // Shards are copied side by side, each in its own page order with its own catch-up: while one
  // page loads (the engine runs one local transaction at a time), the others' pages travel.
  const run: CopyRun = { db, keys, source, scope, opts, tables: copied, pageRows, lsns, stop: { reason: undefined }, loads: new Mutex() };
  const results = await Promise.allSettled(shards.map((shard) => copyShard(run, shard)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw run.stop.reason ?? (failed as PromiseRejectedResult).reason;
  return lsns;
}

/** One copy's state, shared by its shards. */
interface CopyRun {
  db: StorageEngine;
  keys: PrimaryKeys;
  source: CopySource;
  scope: ReplicaScope;
  opts: CopyOptions;
  tables: TableInfo[];
  pageRows: number;
  /** Per shard, the LSN the copy is current at. */
  lsns: Record<string, number>;
  /** The first failure of any shard: the others stop at their next page. */
  stop: { reason: unknown };
  /** Page loads, one at a time (as the engine runs them anyway). */
  loads: Mutex;
}

/** A snapshot page on its way: of table `tables[t]`, after key `afterKey`. */
interface Asked {
  t: number;
  afterKey: SqlValue[] | null;
  page: Promise<SnapshotText>;
}

/** Every table of one shard, page after page; gives up as soon as another shard's copy failed. */
async function copyShard(run: CopyRun, shard: string): Promise<void> {
  const { db, keys, source, scope, opts, tables, pageRows, lsns, stop, loads } = run;
  const fetchPage = (table: string, afterKey: SqlValue[] | null) =>
    source.snapshotText({ shard, table, afterKey, limit: pageRows, ...(scope.keyRange !== undefined && { keyRange: scope.keyRange }) }).catch((e: unknown) => {
      if (asVitessError(e).code === 'NOT_FOUND') throw new RestartCopy(`table ${table} is gone`);
      throw e;
    });
  /** Asks for a page of table `t` (none past the last table); a failure waits for whoever awaits it. */
  const ask = (t: number, afterKey: SqlValue[] | null): Asked | undefined => {
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
    let ahead: Asked | undefined;
    while (next) {
      const { t, afterKey } = next;
      let page = await next.page;
      if (stop.reason !== undefined) return;
      const { name, primaryKey } = tables[t]!;
      // A first page asked for ahead may be older than what this shard's last page had applied
      // (writes landed in between): loaded, it would take rows back. Asked again, it is not.
      if (page.lsn < lsns[shard]!) page = await fetchPage(name, afterKey);
      ahead ??= ask(t + 1, null);
      if (page.nextKey) next = ask(t, page.nextKey);
      else [next, ahead] = [ahead, undefined];
      if (page.lsn > lsns[shard]!) lsns[shard] = await catchUp(db, keys, source, scope, shard, lsns, page.lsn);
      const rows = await loads.run(async () => {
        // A local engine may load on this thread (libsql does, synchronously), and an HTTP batch
        // goes out on a timer: first let every request made so far leave — this shard's next
        // page, and the other shards' — or they wait for the load, and then for the next.
        await sleep(0);
        return loadPage(db, name, primaryKey, page);
      });
      opts.onPage?.(rows);
    }
  } catch (e) {
    stop.reason ??= e;
    throw e;
  }
}

/** The shards' DDL histories once they agree (a DDL may be running shard after shard), starting from `first`. */
async function settledSchemas(source: CopySource, keyspace: string, shards: string[], first: ShardSchema[]): Promise<ShardSchema[]> {
  const deadline = Date.now() + SCHEMA_SETTLE_MS;
  for (let schemas = first; ; schemas = await source.schema(shards)) {
    const partial = schemas.filter((s) => !s.complete).map((s) => s.shard);
    if (partial.length)
      throw new VitessError(
        'UNAVAILABLE',
        `shard ${partial.join(', ')} of keyspace "${keyspace}" lost its DDL history (its log was trimmed before it was kept): an embedded replica cannot build the schema`,
        { shards: partial },
      );
    const ddl = JSON.stringify(schemas[0]!.ddl);
    const differ = schemas.filter((s) => JSON.stringify(s.ddl) !== ddl).map((s) => s.shard);
    if (!differ.length) return schemas;
    if (Date.now() > deadline)
      throw new VitessError(
        'UNAVAILABLE',
        `the shards of keyspace "${keyspace}" have different schemas (shard ${differ.join(', ')} differs from ${schemas[0]!.shard})`,
        { shards: differ },
      );
    await sleep(100);
  }
}

/** While copying: applies `shard`'s log after its position through `to`. */
async function catchUp(
  db: StorageEngine,
  keys: PrimaryKeys,
  source: CopySource,
  scope: ReplicaScope,
  shard: string,
  lsns: Record<string, number>,
  to: number,
): Promise<number> {
  const seq = new Sequencer([shard]);
  let from = encodePosition({ keyspace: scope.keyspace, shards: { [shard]: lsns[shard]! } });
  for (;;) {
    const page = await source.changes({ ...streamFilter(scope), shards: [shard], from, maxEvents: 2_000, waitMs: 0 }).catch((e: unknown) => {
      const err = asVitessError(e);
      if (err.code === 'NOT_FOUND' && err.details.limit === 'log retention') throw new RestartCopy('the log was trimmed past the copy');
      throw e;
    });
    const cursor = decodePosition(page.position).shards[shard]!;
    // Records past `to` are left for the stream; the page's position may run past them.
    const done = completeLsn(cursor) >= to;
    const units = seq.feed(
      page.events.filter((e) => e.lsn <= to),
      { [shard]: done ? to : cursor },
    );
    if (units.some((u) => u.kind === 'ddl')) throw new RestartCopy('the schema changed while copying');
    const at = seq.applied({ [shard]: done ? to : cursor })[shard]!;
    if (units.length || at > lsns[shard]!) await applyUnits(db, keys, units, { [shard]: at }, lsns);
    if (done) return to;
    if (page.position === from) throw new RestartCopy(`shard ${shard}'s log ended at LSN ${completeLsn(cursor)}, before ${to}`);
    from = page.position;
  }
}

/** An empty database: every user table dropped (and, on PGlite, everything else in `public`). */
async function wipe(db: StorageEngine): Promise<void> {
  if ((db.kind as EngineKind) === 'pglite') {
    await db.query('DROP SCHEMA public CASCADE');
    await db.query('CREATE SCHEMA public');
    return;
  }
  // SQLite refuses to drop a table other rows still reference: drop the others first, then retry.
  let left = (await db.tables()).map((t) => t.name);
  while (left.length) {
    const failed: string[] = [];
    let lastError: unknown;
    for (const t of left)
      await db.query(`DROP TABLE ${quoteIdent(t)}`).catch((e: unknown) => {
        failed.push(t);
        lastError = e;
      });
    if (failed.length === left.length) throw lastError;
    left = failed;
  }
}
