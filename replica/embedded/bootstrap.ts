/**
 * The copy phase of an embedded replica: the schema from the shards' DDL histories, then every
 * table of every shard at one LSN per shard, through VTGate. The algorithm (pages, catch-up,
 * restarts) is replica/copy-core.ts, shared with the replica DO; this file says where pages and
 * the log come from (snapshot pages and one-shard change-stream pages), where rows go (the local
 * engine, merged across shards) and where progress is kept (`_vt_embedded`, state.ts).
 */
import { PAGE_LIMITS } from '../../changelog/snapshot.js';
import type { SnapshotText } from '../../client/client.js';
import type { EngineKind, StorageEngine } from '../../engines/engine.js';
import { quoteIdent } from '../../engines/dialect/sql-text.js';
import { VitessError } from '../../rpc/errors.js';
import { completeLsn, decodePosition, encodePosition } from '../../rpc/position.js';
import type { ChangesPage, ChangesRequest, ShardSchema, SnapshotRequest } from '../../rpc/protocol.js';
import type { SqlValue } from '../../rpc/values.js';
import { copyAtLsn, type CopyProgress, type CopyStart, type PageSource, type RowSink } from '../copy-core.js';
import { loadPage } from '../copy.js';
import { applyUnits, type PrimaryKeys } from './apply.js';
import { replicaDdl } from './ddl.js';
import { clearParked } from './rows.js';
import { type ApplyUnit, Sequencer } from './sequencer.js';
import { createStateTable, writeState, type ReplicaScope } from './state.js';

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

/** A catch-up read of one shard's log: what to apply, and the shard's position once it is. */
interface CatchUp {
  units: ApplyUnit[];
  at: number;
}

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

/**
 * Copies the scope into `db` (emptied first) and stores it as the replica's state, phase
 * `streaming`; returns per shard the LSN the copy is current at.
 */
export async function copyKeyspace(
  db: StorageEngine,
  keys: PrimaryKeys,
  source: CopySource,
  scope: ReplicaScope,
  opts: CopyOptions = {},
): Promise<Record<string, number>> {
  const pageRows = Math.min(PAGE_LIMITS.rows, Math.max(1, opts.pageRows ?? PAGE_LIMITS.rows));
  const pages: PageSource<SnapshotText, CatchUp> = {
    page: (shard, table, afterKey) =>
      source.snapshotText({ shard, table, afterKey, limit: pageRows, ...(scope.keyRange !== undefined && { keyRange: scope.keyRange }) }),
    log: (shard, from, to) => {
      // Records past `to` are left for the stream; a page's position may run past them.
      const seq = new Sequencer([shard]);
      let position = encodePosition({ keyspace: scope.keyspace, shards: { [shard]: from } });
      return async () => {
        const page = await source.changes({ ...streamFilter(scope), shards: [shard], from: position, maxEvents: 2_000, waitMs: 0 });
        const cursor = decodePosition(page.position).shards[shard]!;
        const reached = completeLsn(cursor);
        const end = { [shard]: reached >= to ? to : cursor };
        const units = seq.feed(
          page.events.filter((e) => e.lsn <= to),
          end,
        );
        const moved = page.position !== position;
        position = page.position;
        return { records: { units, at: seq.applied(end)[shard]! }, reached, moved, ddl: units.some((u) => u.kind === 'ddl') };
      };
    },
  };
  const rows: RowSink<SnapshotText, CatchUp> = {
    reset: () => emptyWithSchema(db, keys, source, scope),
    load: async (_shard, { name, primaryKey }, page) => {
      const n = await loadPage(db, name, primaryKey, page);
      opts.onPage?.(n);
    },
    apply: async (shard, { records: { units, at } }, lsns) => {
      if (units.length || at > lsns[shard]!) await applyUnits(db, keys, units, { [shard]: at }, lsns);
    },
  };
  const progress: CopyProgress = {
    // Before the wipe: SQLite keeps the state table through it, and must not read `streaming` after a crash.
    copying: () => writeState(db, { scope, phase: 'copying' }),
    copied: (lsns) => db.transaction((tx) => writeState(tx, { scope, phase: 'streaming', lsns })),
  };
  return copyAtLsn(pages, rows, progress, { tries: COPY_TRIES, what: `keyspace "${scope.keyspace}"` });
}

/** Empties `db` and builds the scope's schema, current at each shard's LSN; returns the tables to copy and those LSNs. */
async function emptyWithSchema(db: StorageEngine, keys: PrimaryKeys, source: CopySource, scope: ReplicaScope): Promise<CopyStart> {
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
  return { tables: scope.tables ? tables.filter((t) => scope.tables!.includes(t.name)) : tables, lsns };
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
