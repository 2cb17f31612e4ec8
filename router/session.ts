/**
 * A session on one keyspace: plans each statement (cached per isolate), runs it through a
 * cursor on the shards' primaries, and keeps the bookmark (the LSN of every shard it saw).
 * `/sql` makes one per request; a capnweb client holds one per keyspace for its connection.
 */
import { decodeBookmark, encodeBookmark, mergePositions, type Positions } from '../rpc/bookmark.js';
import { asVitessError, VitessError } from '../rpc/errors.js';
import type { Atomicity, Consistency } from '../rpc/protocol.js';
import type { ReplicaResult } from '../replica/replica-do.js';
import type { ResultSet, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import { checkBatchLength, checkStatementSize } from '../engines/limits.js';
import { quoteIdent } from '../engines/dialect/sql-text.js';
import { mergeYjs, yjsState } from '../rpc/yjs-state.js';
import { parseOne } from '../engines/dialect/parse.js';
import { planYjsUpdate } from './yjs-update.js';
import { authorizeStatement, internalTables } from './access/authorize.js';
import { checkKeyspace, type Grants } from './access/grants.js';
import { observeQuery } from './ops/metrics.js';
import { execute, type Executed, type ShardCursor } from './engine/executor.js';
import type { Plan, PlanKind, Primitive } from './planner/plan.js';
import { Planner } from './planner/planner.js';
import { drawIds, prepareSequences, registerSequences, sequenceColumns } from './sequences/sequence.js';
import { ShardTransaction } from './txn/shard-transaction.js';
import { engineKind, type Topology } from './topology.js';
import { staleLayoutVersion } from './layout/layout.js';
import type { VSchema } from './vschema.js';

export interface SessionResult extends ResultSet {
  plan: PlanKind;
  /** The shards that answered, in key order. */
  shards: string[];
  /** `replica` when replicas answered for every shard. */
  role: 'primary' | 'replica';
  /** The replicas' region, when they answered. */
  region?: string;
  bookmark: string;
  /** The id a one-row INSERT drew from a global sequence. */
  lastInsertId?: number;
  /** A write outside a transaction: how it committed (docs/transactions.md). */
  atomicity?: Atomicity;
}

/** How a read may be served: by a replica in `region` that covers the session's positions. */
export interface ReadRouting {
  consistency: Consistency;
  region: string;
  maxStalenessMs?: number;
}

/** A reader of every table: the statements a replica serves (`Session.#replicaSafe`). */
const REPLICA_READER: Grants = { admin: false, keyspaces: '*', readOnly: true, tables: '*', rows: [] };

/** How long a replica may wait to catch up with a session's bookmark before the primary serves. */
const REPLICA_WAIT_MS = 50;

/**
 * Runs statements on primaries, or reads on replicas when `read` allows it, and notes each
 * shard's LSN. A replica that is behind the session, too stale, not started or failing leaves
 * the read to the primary.
 */
class ShardsCursor implements ShardCursor {
  readonly shards = new Set<string>();
  readonly byReplica = new Set<string>();
  positions: Positions = {};
  /** Statements sent to primaries: a stale-layout refusal of the only one means nothing was applied. */
  sent = 0;

  constructor(
    private readonly topology: Topology,
    private readonly need: Positions,
    private readonly read?: ReadRouting,
    /** The layout versions the plan was made by (`Topology.routing`). */
    private readonly versions?: ReadonlyMap<string, number>,
  ) {}

  async execute(keyspace: string, shard: string, sql: string, params: SqlValue[]): Promise<ResultSet> {
    const r = (this.read && (await this.fromReplica(keyspace, shard, sql, params, this.read))) ?? (await this.primary(keyspace, shard, sql, params));
    this.shards.add(shard);
    this.positions = mergePositions(this.positions, { [`${keyspace}/${shard}`]: r.lsn });
    return r;
  }

  /**
   * The shard's primary, the statement stamped with the layout version it was routed by
   * (primary/layout-fence.ts) and the session's bookmark, which it waits for (a cross-shard
   * commit is acknowledged before its participants apply it).
   */
  private primary(keyspace: string, shard: string, sql: string, params: SqlValue[]): Promise<ResultSet & { lsn: number }> {
    this.sent++;
    const layoutVersion = this.versions?.get(keyspace) ?? this.topology.layoutVersion(keyspace);
    const minLsn = this.need[`${keyspace}/${shard}`];
    return this.topology.tablet(keyspace, shard).query(engineKind(this.topology.keyspace(keyspace)), sql, params, { layoutVersion, ...(minLsn && { minLsn }) });
  }

  private async fromReplica(keyspace: string, shard: string, sql: string, params: SqlValue[], read: ReadRouting): Promise<ReplicaResult | undefined> {
    const replica = this.topology.replica(keyspace, shard, read.region);
    try {
      const r = await replica.read(sql, params, {
        minLsn: read.consistency === 'session' ? (this.need[`${keyspace}/${shard}`] ?? 0) : 0,
        waitMs: REPLICA_WAIT_MS,
        ...(read.maxStalenessMs !== undefined && { maxLagMs: read.maxStalenessMs }),
      });
      this.byReplica.add(shard);
      return r;
    } catch (e) {
      // Replicas start on first use; anything else a replica refuses (behind the bookmark, maybe
      // older than maxStalenessMs, copying, failing), the primary answers (or reports as the user's error).
      if (/not started/.test(asVitessError(e).message)) await replica.start(this.topology.replicaConfig(keyspace, shard, read.region)).catch(() => undefined);
      return undefined;
    }
  }
}

// One planner per keyspace per isolate: plans are cached, and the schema (primary keys decide
// where rows of tables the vschema does not name go) is read once from a shard's catalog.
const planners = new WeakMap<VSchema, Map<string, { planner: Planner; loaded?: Promise<void> }>>();

/**
 * Reads the schema from the first shard `tx` does not hold: one it holds answers only after it
 * ends (an open DO SQLite transaction blocks every other call to its DO, a PGlite one holds the
 * engine), so the statement would wait for its own transaction. Holding every shard, it refuses.
 */
async function loadSchema(topology: Topology, keyspace: string, planner: Planner, tx?: ShardTransaction): Promise<void> {
  const ks = topology.keyspace(keyspace);
  const held = new Set(tx?.shards.filter((s) => s.keyspace === keyspace).map((s) => s.shard));
  const shard = ks.shards.find((s) => !held.has(s));
  if (shard === undefined) {
    throw new VitessError(
      'UNSUPPORTED',
      `this statement names a table new to this VTGate, whose schema must be read from a shard of keyspace "${keyspace}", and transaction ${tx!.txid} holds every one of them: run any statement on the table outside a transaction first (VTGate then knows it), or reach it before the transaction holds every shard`,
      { construct: 'schema read inside a transaction holding every shard' },
    );
  }
  // A sharded keyspace's sequence columns are plain integers on the shards: the registry names them.
  const [tables, sequences] = await Promise.all([
    topology.tablet(keyspace, shard).schema(engineKind(ks)),
    ks.shards.length > 1 ? sequenceColumns(topology, keyspace) : [],
  ]);
  const sequenceOf = new Map(sequences.map((s) => [`${s.table}.${s.column}`, s.sequence]));
  planner.learn(
    Object.fromEntries(
      tables.map((t) => [
        t.name,
        {
          primaryKey: t.primaryKey,
          columns: t.columns.map((c) => ({ ...c, ...(sequenceOf.has(`${t.name}.${c.name}`) && { sequence: sequenceOf.get(`${t.name}.${c.name}`)! }) })),
        },
      ]),
    ),
  );
}

/** Whether planning failed only because this isolate has not seen the table yet. */
const unknownTable = (e: unknown, planner: Planner): boolean =>
  e instanceof VitessError &&
  ((e.code === 'NOT_FOUND' && /unknown to VTGate/.test(e.message)) ||
    // …or its columns (e.g. the sequence column that fills the vindex column) of a vschema table.
    (e.code === 'INVALID' && e.details.table !== undefined && !planner.schema.columns(e.details.table)));

const WRITES: Plan['statement'][] = ['insert', 'update', 'delete'];

/**
 * Whether a write may reach more than one shard: any plan but a single-shard one, and one whose
 * lookup entries (on the shards of their values) change with the row.
 */
function spansShards(plan: Plan, shards: number): boolean {
  if (shards < 2 || !WRITES.includes(plan.statement)) return false;
  if (plan.kind !== 'single-shard') return true;
  const r = written(plan);
  return r.op === 'LookupDelete' || r.op === 'LookupUpdate' || (r.op === 'Insert' && r.lookups.length > 0);
}

/**
 * A statement a tablet refused as routed by a stale shard layout, with nothing of it applied:
 * `Session.run` reads the layout again and runs it once more.
 */
class StaleLayout {
  constructor(
    readonly error: unknown,
    readonly layoutVersion: number,
  ) {}
}

/** `tx`, refusing a second shard: `transactionMode: single` (the transaction then rolls back). */
function oneShard(tx: ShardCursor, keyspace: string): ShardCursor {
  let first: string | undefined;
  return {
    async execute(ks, shard, sql, params) {
      if ((first ??= `${ks}/${shard}`) !== `${ks}/${shard}`) {
        throw new VitessError(
          'UNSUPPORTED',
          `keyspace "${keyspace}" has transactionMode "single": this write would reach more than one shard (${first}, ${ks}/${shard}); narrow it to one shard's rows, or set transactionMode "multi" or "twopc"`,
          { construct: 'multi-shard write in transactionMode single' },
        );
      }
      return tx.execute(ks, shard, sql, params);
    },
  };
}

/**
 * The statements of a DDL plan that reach every shard (the statement, then e.g. its lookup
 * tables), or undefined when it is not only that (then it runs as before).
 */
function ddlStatements(root: Primitive): string[] | undefined {
  const routes = root.op === 'Sequence' ? root.steps : [root];
  const out: string[] = [];
  for (const r of routes) {
    if (r.op !== 'Route' || r.target.type !== 'all' || r.params.length) return undefined;
    out.push(r.sql);
  }
  return out.length ? out : undefined;
}

/** What a write plan runs on the shards: an INSERT that draws ids, the INSERT it feeds them to. */
const written = (plan: Plan): Primitive => (plan.root.op === 'Generate' ? plan.root.input : plan.root);

/** An INSERT into a sharded table planned without its columns: sequence columns would go unfilled. */
const unseenInsert = (plan: Plan, planner: Planner): boolean => {
  const w = written(plan);
  return w.op === 'Insert' && !planner.schema.columns(w.table);
};

/** `tx`'s statements, stamped with the layout versions their plan was made by (`Topology.routing`). */
function routedBy(tx: ShardTransaction, versions: ReadonlyMap<string, number>): ShardCursor {
  return { execute: (keyspace, shard, sql, params) => tx.execute(keyspace, shard, sql, params, versions.get(keyspace)) };
}

/** `cursor`, drawing global-sequence ids (a plan's `Generate`) from this isolate's blocks of the keyspace's VTSequence. */
function withSequences(cursor: ShardCursor, topology: Topology): ShardCursor {
  return {
    execute: (keyspace, shard, sql, params) => cursor.execute(keyspace, shard, sql, params),
    drawIds: (keyspace, sequence, count) => drawIds(topology, keyspace, sequence, count),
  };
}

export class Session {
  private positions: Positions;
  #internal?: (table: string) => boolean;

  /** `grants`: what the caller's token allows (router/access/); VTGate's own work passes ADMIN. */
  constructor(
    readonly topology: Topology,
    readonly keyspace: string,
    bookmark: string | undefined,
    readonly grants: Grants,
  ) {
    topology.keyspace(keyspace); // an unknown keyspace fails here, with the known ones named
    checkKeyspace(grants, keyspace);
    this.positions = decodeBookmark(bookmark);
  }

  /**
   * Whether a replica may run a read: only what a read-only token could (pure functions, no
   * internal tables). A replica's engine applies the log with its owner's rights, so an admin's
   * `set_config` or `pg_notify` goes to the primary, whose engine refuses them to every client.
   */
  #replicaSafe(sql: string, params: SqlValue[]): boolean {
    try {
      authorizeStatement(sql, params, this.keyspace, REPLICA_READER, this.internal);
      return true;
    } catch {
      return false;
    }
  }

  /** The internal tables of this keyspace, which only admin tokens reach. */
  get internal(): (table: string) => boolean {
    return (this.#internal ??= internalTables(this.topology.vschema, this.keyspace));
  }

  get bookmark(): string {
    return encodeBookmark(this.positions);
  }

  /** Adopts a bookmark handed over from elsewhere (it only moves the session forward). */
  observe(bookmark: string | undefined): void {
    if (bookmark) this.positions = mergePositions(this.positions, decodeBookmark(bookmark));
  }

  private planner(tx?: ShardTransaction): { planner: Planner; loaded: Promise<void>; versions: ReadonlyMap<string, number> } {
    const { vschema, versions } = this.topology.routing();
    let byKs = planners.get(vschema);
    if (!byKs) planners.set(vschema, (byKs = new Map()));
    let entry = byKs.get(this.keyspace);
    if (!entry) byKs.set(this.keyspace, (entry = { planner: new Planner(vschema) }));
    if (!entry.loaded) {
      const e = entry;
      e.loaded = loadSchema(this.topology, this.keyspace, e.planner, tx).catch((err) => {
        e.loaded = undefined;
        throw err;
      });
    }
    return { ...(entry as { planner: Planner; loaded: Promise<void> }), versions };
  }

  /** Plans `sql`; `tx`: the transaction it runs in (the schema is not read from its shards). */
  async plan(sql: string, tx?: ShardTransaction): Promise<{ plan: Plan; planner: Planner; versions: ReadonlyMap<string, number> }> {
    const { planner, loaded, versions } = this.planner(tx);
    await loaded;
    try {
      const plan = planner.plan(sql, this.keyspace);
      if (!unseenInsert(plan, planner)) return { plan, planner, versions };
    } catch (e) {
      if (!unknownTable(e, planner)) throw e;
    }
    // Another isolate may have created the table: read the catalog again, once.
    await loadSchema(this.topology, this.keyspace, planner, tx);
    return { plan: planner.plan(sql, this.keyspace), planner, versions };
  }

  /**
   * Plans and runs one statement: inside `tx`, or on primaries, or — a query, when `read` allows
   * it and the keyspace has replicas — on replicas.
   */
  run(sql: string, params: SqlValue[], tx?: ShardTransaction, read?: ReadRouting): Promise<SessionResult> {
    return this.#mayMerge(sql) ? this.#mergeUpdate(sql, params, undefined, tx) : this.#plain(sql, params, tx, read);
  }

  /** An UPDATE in a keyspace that declares Yjs columns (docs/yjs.md): #mergeUpdate looks at its table and assignments. */
  #mayMerge(sql: string): boolean {
    return typeof sql === 'string' && /^\s*update\b/i.test(sql) && Object.values(this.topology.keyspace(this.keyspace).tables).some((t) => t.yjs);
  }

  /** `sql` as it is: planned and run, once more if a shard refused the layout it was routed by. */
  #plain(sql: string, params: SqlValue[], tx?: ShardTransaction, read?: ReadRouting): Promise<SessionResult> {
    return observeQuery(this.keyspace, String(sql), async (seen) => {
      try {
        return await this.#run(sql, params, seen, tx, read);
      } catch (e) {
        if (!(e instanceof StaleLayout)) throw e;
        // Refused before anything ran: once more, routed by the layout the tablet was told.
        await this.topology.layout(this.keyspace, e.layoutVersion);
        try {
          return await this.#run(sql, params, seen, tx, read);
        } catch (again) {
          throw again instanceof StaleLayout ? again.error : again;
        }
      }
    });
  }

  async #run(sql: string, params: SqlValue[], seen: { plan?: string }, tx?: ShardTransaction, read?: ReadRouting): Promise<SessionResult> {
    if (typeof sql !== 'string') throw new VitessError('INVALID', 'sql must be a string');
    await this.topology.layout(this.keyspace); // cached: no round trip while fresh
    checkStatementSize(sql);
    // The token's grants, on the parsed statement; row filters come back as bound parameters.
    if (!this.grants.admin) ({ sql, params } = authorizeStatement(sql, params, this.keyspace, this.grants, this.internal));
    const { plan, planner, versions } = await this.plan(sql, tx);
    seen.plan = plan.kind;
    // Global sequences (router/sequences/sequence.ts) that DDL names exist before it runs; an
    // INSERT's ids are drawn by its plan's Generate, through the cursor, before its rows are routed.
    if (plan.sequences && plan.statement === 'ddl') await prepareSequences(this.topology, this.keyspace, plan.sequences);
    const onReplicas = read && read.consistency !== 'strong' && plan.statement === 'select' && this.#replicaSafe(sql, params) ? read : undefined;
    // Outside a transaction, a write that may reach several shards runs in one of its own when
    // it must be atomic (reference copies always; `twopc`) or must stay on one shard (`single`).
    const ks = this.topology.keyspace(this.keyspace);
    // DDL outside a transaction on a sharded keyspace: a recorded intent, on every shard or none.
    const statements = !tx && plan.kind === 'ddl' && ks.shards.length > 1 ? ddlStatements(plan.root) : undefined;
    if (statements) return this.#ddl(plan, planner, statements);
    const mode = plan.kind === 'reference' ? 'twopc' : ks.transactionMode;
    const implicit = !tx && mode !== 'multi' && spansShards(plan, ks.shards.length) ? new ShardTransaction(this.topology) : undefined;
    const cursor = tx ?? implicit ?? new ShardsCursor(this.topology, this.positions, onReplicas, versions);
    const run = cursor instanceof ShardTransaction ? routedBy(cursor, versions) : cursor;
    let r: Executed;
    try {
      r = await execute(plan, params, withSequences(implicit && mode === 'single' ? oneShard(run, this.keyspace) : run, this.topology));
      if (implicit) await this.commit(implicit);
    } catch (e) {
      await implicit?.rollback();
      const stale = staleLayoutVersion(e);
      if (stale === undefined) throw e;
      // A read, a write whose only shard statement was the refused one, or an implicit
      // transaction (rolled back whole): nothing was applied, `run` retries it.
      if (implicit || (cursor instanceof ShardsCursor && (plan.statement === 'select' || cursor.sent === 1))) throw new StaleLayout(e, stale);
      // Anything else (the client's transaction is over, rolled back) reaches the caller, whose
      // retry is routed by the new layout.
      await this.topology.layout(this.keyspace, stale).catch(() => undefined);
      throw e;
    }
    planner.applied(plan);
    if (plan.schemaChange && plan.kind === 'ddl') await registerSequences(this.topology, this.keyspace, plan.schemaChange, planner.schema);
    let shards: string[];
    let replicas = 0;
    if (cursor instanceof ShardsCursor) {
      this.positions = mergePositions(this.positions, cursor.positions);
      shards = [...cursor.shards];
      replicas = cursor.byReplica.size;
    } else {
      shards = [...new Set(cursor.shards.filter((s) => s.keyspace === this.keyspace).map((s) => s.shard))];
    }
    shards.sort((a, b) => ks.shards.indexOf(a) - ks.shards.indexOf(b));
    const byReplica = replicas > 0 && replicas === shards.length;
    const atomicity: Atomicity | undefined =
      tx || plan.statement === 'select' || plan.statement === 'explain'
        ? undefined
        : shards.length <= 1
          ? 'single-shard'
          : implicit
            ? 'two-phase'
            : 'per-shard';
    return {
      rows: r.rows,
      fields: r.fields,
      affected: r.affected,
      plan: plan.kind,
      shards,
      bookmark: this.bookmark,
      role: byReplica ? 'replica' : 'primary',
      ...(byReplica && { region: onReplicas!.region }),
      ...(r.lastInsertId !== undefined && { lastInsertId: r.lastInsertId }),
      ...(atomicity && { atomicity }),
    };
  }

  /**
   * A DDL statement for every shard: the keyspace's DDL coordinator records it, then the first
   * shard decides (its refusal is the answer, and no shard has it), then the others apply it.
   * Those that did not answer get it from the coordinator's recovery: UNAVAILABLE says so
   * (docs/transactions.md, "DDL across shards").
   */
  async #ddl(plan: Plan, planner: Planner, statements: string[]): Promise<SessionResult> {
    const ks = this.topology.keyspace(this.keyspace);
    const id = crypto.randomUUID();
    const r = await this.topology.ddlCoordinator(this.keyspace).ddl({ id, keyspace: this.keyspace, engine: engineKind(ks), statements, shards: ks.shards });
    if (r.outcome === 'refused') throw VitessError.fromJSON(r.error ?? { code: 'INTERNAL', message: `DDL intent ${id} refused` });
    this.positions = mergePositions(this.positions, Object.fromEntries(Object.entries(r.lsns).map(([shard, lsn]) => [`${this.keyspace}/${shard}`, lsn])));
    const applied = ks.shards.filter((s) => !r.pending.includes(s));
    // On the first shard, it will be on every one: VTGate learns the schema change now.
    if (applied.length) {
      planner.applied(plan);
      if (plan.schemaChange) await registerSequences(this.topology, this.keyspace, plan.schemaChange, planner.schema);
    }
    if (r.outcome === 'pending') {
      const why = r.error ? ` (${r.error.code}: ${r.error.message})` : '';
      throw new VitessError(
        'UNAVAILABLE',
        applied.length
          ? `the DDL statement is recorded (intent ${id}) and applied on shard(s) ${applied.join(', ')}, not yet on ${r.pending.join(', ')}${why}: recovery applies it there; do not run it again`
          : `the DDL statement is recorded (intent ${id}) but its first shard ${ks.shards[0]} did not answer${why}: recovery applies it on every shard, or on none should that shard refuse it; do not run it again before it did`,
        { shards: r.pending },
      );
    }
    return {
      rows: [],
      fields: [],
      affected: 0,
      plan: plan.kind,
      shards: [...ks.shards],
      bookmark: this.bookmark,
      role: 'primary',
      atomicity: 'per-shard',
    };
  }

  /**
   * Statements in order. `atomic`: one transaction (two-phase commit when it spans shards);
   * otherwise each statement stands alone.
   */
  async batch(statements: Statement[], atomic = false, read?: ReadRouting): Promise<SessionResult[]> {
    if (!Array.isArray(statements)) throw new VitessError('INVALID', 'a batch is an array of { sql, params }');
    checkBatchLength(statements.length);
    if (!atomic) {
      const out: SessionResult[] = [];
      for (const s of statements) out.push(await this.run(s.sql, s.params ?? [], undefined, read));
      return out;
    }
    const { out, bookmark } = await this.#atomically(async (tx) => {
      const results: SessionResult[] = [];
      for (const s of statements) results.push(await this.run(s.sql, s.params ?? [], tx));
      return results;
    });
    return out.map((r) => ({ ...r, bookmark }));
  }

  /** `fn` in a transaction of its own, then committed. Refused by a shard's layout fence (rolled back whole), it runs once more by the new layout. */
  async #atomically<T>(fn: (tx: ShardTransaction) => Promise<T>): Promise<{ out: T; bookmark: string }> {
    for (let attempt = 1; ; attempt++) {
      const tx = this.begin();
      try {
        const out = await fn(tx);
        return { out, bookmark: await this.commit(tx) };
      } catch (e) {
        await tx.rollback();
        if (attempt === 1 && staleLayoutVersion(e) !== undefined) continue;
        throw e;
      }
    }
  }

  /**
   * Merges the Yjs update `update` into column `column` of the row of `table` whose columns equal
   * `key` (docs/yjs.md), whether or not the vschema declares the column a Yjs column: as the
   * UPDATE of a declared one runs (`#mergeUpdate`), and NOT_FOUND unless the key names one row.
   */
  async applyUpdate(table: string, key: Record<string, SqlValue>, column: string, update: Uint8Array): Promise<SessionResult> {
    const names = Object.keys(key ?? {});
    if (!names.length)
      throw new VitessError('INVALID', `applyUpdate needs the key of the row of table "${table}" (its primary key columns and values)`, { table });
    const where = names.map((n, i) => `${quoteIdent(n)} = $${i + 2}`).join(' AND ');
    const sql = `UPDATE ${quoteIdent(table)} SET ${quoteIdent(column)} = $1 WHERE ${where}`;
    const shown = names.map((n) => `${n} = ${typeof key[n] === 'string' ? `'${key[n]}'` : String(key[n])}`).join(' and ');
    return this.#mergeUpdate(sql, [update, ...names.map((n) => key[n] ?? null)], column, undefined, `of table "${table}" where ${shown}`);
  }

  /**
   * An UPDATE that sets one of its table's Yjs columns (router/yjs-update.ts; `column`: this one,
   * declared or not), else `sql` as it is. In one transaction (the caller's, or one of its own),
   * the matching rows are read and each written back by key with the updates merged into its states. The transaction holds each row's shard
   * from the read on, so concurrent merges apply one after the other and none is lost; merging
   * an update twice changes nothing. `one`: the row it must be (NOT_FOUND, or INVALID for several).
   */
  async #mergeUpdate(sql: string, params: SqlValue[], column?: string, tx?: ShardTransaction, one?: string): Promise<SessionResult> {
    const parsed = parseOne(sql);
    const table = parsed.ast.type === 'update' ? parsed.ast.table.name : '';
    const yjs = new Set(column ? [column] : (this.topology.keyspace(this.keyspace).tables[table]?.yjs ?? []));
    // Planned as written first: an unknown table or column is refused as any statement's would be.
    const { planner } = await this.plan(sql, tx);
    const u = yjs.size ? planYjsUpdate(parsed, params, yjs, planner.schema.primaryKey(table)) : undefined;
    if (!u) return this.#plain(sql, params, tx);
    const merge = async (t: ShardTransaction): Promise<SessionResult> => {
      const read = await this.#plain(u.select.sql, u.select.params, t);
      if (one && read.rows.length !== 1)
        throw new VitessError(
          read.rows.length ? 'INVALID' : 'NOT_FOUND',
          `applyUpdate: ${read.rows.length ? `${read.rows.length} rows` : 'no row'} ${one}: the key must name one row`,
          {
            table,
          },
        );
      for (const row of read.rows) {
        const states = u.columns.map((c, i) => mergeYjs(yjsState(row[`__vt_yjs_${i}`], `column "${c}" of table "${table}"`), u.updates[i]!));
        const w = u.write(
          u.primaryKey.map((k) => row[k] ?? null),
          states,
        );
        await this.#plain(w.sql, w.params, t);
      }
      return { ...read, rows: [], fields: [], affected: read.rows.length };
    };
    if (tx) return merge(tx);
    const { out, bookmark } = await this.#atomically(merge);
    return { ...out, bookmark };
  }

  begin(timeoutMs?: number): ShardTransaction {
    if (this.grants.readOnly)
      throw new VitessError('FORBIDDEN', 'a read-only token cannot open a transaction (atomic batches included)', { construct: 'BEGIN' });
    return new ShardTransaction(this.topology, timeoutMs);
  }

  /** Commits and moves the bookmark past the commit. */
  async commit(tx: ShardTransaction): Promise<string> {
    for (const c of await tx.commit()) this.positions = mergePositions(this.positions, { [`${c.keyspace}/${c.shard}`]: c.lsn });
    return this.bookmark;
  }
}
