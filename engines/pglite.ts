import type { PGliteInterface, QueryOptions, Results, Transaction } from '@electric-sql/pglite';
import { VitessError } from '../rpc/errors.js';
import { pageValues, type PageText, type ResultSet, type Row, type Statement } from '../rpc/results.js';
import { isJsonObject, normalizeInt, type SqlType, type SqlValue } from '../rpc/values.js';
import type { Change } from '../rpc/changes.js';
import { ADVANCE_SEQUENCES_SQL } from './pg-sequences.js';
import {
  AFTER_CREATE_SQL,
  CHANNEL,
  COLUMNS_SQL,
  decodeChanges,
  DRAIN_SQL,
  elevateSql,
  grantCreateSql,
  LOCKDOWN_SQL,
  LOWER_SQL,
  newCaptureKey,
  PARSERS,
  RECORD_DDL_SQL,
  schemaFromRows,
  SET_KEY_SQL,
  SETUP_SQL,
  TO_TABLE_SQL,
  triggerSql,
  UNCAPTURED_SQL,
  userModeSql,
  type PgSchema,
} from './capture-pg.js';
import type { BatchOptions, CaptureSink, CapturingEngine, Executor, PageLoader, TableInfo } from './engine.js';
import { Mutex } from './mutex.js';
import { checkBatchLength, checkStatementSize, checkValueSize, LIMITS, refuseTransactionControl } from './limits.js';
import { pgError } from './pg-errors.js';
import { COLUMN_TYPES_SQL, columnTypesParams, jsonUpserts } from './pglite-load.js';
import { quoteIdent } from './dialect/sql-text.js';
import { TransactionHandle } from './transaction.js';

/** Postgres type OIDs → the engine-neutral type. */
export const OID_TYPES: Record<number, SqlType> = {
  16: 'bool',
  21: 'int2',
  23: 'int4',
  20: 'int8',
  700: 'float4',
  701: 'float8',
  1700: 'numeric',
  25: 'text',
  1043: 'text',
  1042: 'text',
  19: 'text',
  705: 'text',
  114: 'json',
  3802: 'jsonb',
  17: 'bytea',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamptz',
  2950: 'uuid',
};

const encoder = new TextEncoder();

/** PGlite would send a JS array as a Postgres array: JSON values are sent as JSON text instead. */
function bindParams(params: SqlValue[]): unknown[] {
  if (params.length > LIMITS.paramsPerStatement) {
    throw new VitessError('LIMIT_EXCEEDED', `statement binds ${params.length} parameters; the limit is ${LIMITS.paramsPerStatement} per statement`, {
      limit: 'parameters per statement',
    });
  }
  return params.map((v, i) => {
    if (typeof v === 'string') checkValueSize(encoder.encode(v).length, i);
    if (v instanceof Uint8Array) checkValueSize(v.byteLength, i);
    return isJsonObject(v) ? JSON.stringify(v) : v;
  });
}

function toResult(r: Results<Row>): ResultSet {
  const fields = (r.fields ?? []).map((f) => ({ name: f.name, type: OID_TYPES[f.dataTypeID] ?? ('unknown' as const) }));
  const rows = r.rows.map((row) => {
    for (const f of fields) {
      const v = row[f.name];
      if (typeof v === 'bigint') row[f.name] = normalizeInt(v);
    }
    return row;
  });
  const dml = r.command === 'INSERT' || r.command === 'UPDATE' || r.command === 'DELETE' || r.command === 'MERGE';
  return { rows, fields, affected: dml ? (r.affectedRows ?? 0) : 0 };
}

type On = PGliteInterface | Transaction;
const MAYBE_DDL = /^(CREATE|ALTER|DROP|COMMENT)\b/i;
// PGlite reports only the first word of the command tag ("CREATE", "ALTER").
const isDdlCommand = (command: string | undefined): boolean => /^(CREATE|ALTER|DROP|COMMENT)\b/.test(command ?? '');

/** How long a client statement may run on an unprivileged engine (Postgres `statement_timeout`). */
export const STATEMENT_TIMEOUT_MS = 5_000;
/** Temporary files a client statement may write (`temp_file_limit`): PGlite keeps them in memory. */
export const TEMP_FILE_LIMIT = '64MB';

export interface PgliteEngineOptions {
  /**
   * Statements come from clients (a shard primary): once capture is on they run as a role that
   * can neither switch capture off nor forge or read its records, nor reach files, large objects
   * or notifications, under STATEMENT_TIMEOUT_MS (docs/engines.md, "Who runs what on PGlite").
   */
  unprivileged?: boolean;
}

/** Where the statement's first token starts: past whitespace and comments (block comments nest, as Postgres reads them). */
export function skipComments(sql: string, from = 0): number {
  let i = from;
  for (;;) {
    while (i < sql.length && /\s/.test(sql[i]!)) i++;
    if (sql.startsWith('--', i)) {
      const end = sql.slice(i).search(/[\n\r]/);
      if (end < 0) return sql.length;
      i += end + 1;
    } else if (sql.startsWith('/*', i)) {
      i = commentEnd(sql, i);
    } else return i;
  }
}

/** The index after the block comment opening at `start`. */
function commentEnd(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  do {
    if (sql.startsWith('/*', i)) depth++;
    else if (sql.startsWith('*/', i)) depth--;
    else {
      i++;
      continue;
    }
    i += 2;
  } while (depth > 0 && i < sql.length);
  return i;
}

const unsupported = (construct: string, why: string) => new VitessError('UNSUPPORTED', `${construct} is not supported ${why}`, { construct });

/** Statements a captured shard refuses (`text` starts at the first token). */
function refuseOnCapture(text: string): void {
  // Row triggers do not see TRUNCATE: it would vanish from the log.
  if (/^TRUNCATE\b/i.test(text)) throw unsupported('TRUNCATE', 'on a captured shard; use DELETE');
  // Capture hears commits through this session's LISTEN, which these would end.
  const m = /^(UNLISTEN|DISCARD)\b/i.exec(text);
  if (m) throw unsupported(m[1]!.toUpperCase(), 'on a captured shard');
}

/**
 * What an unprivileged engine refuses besides: session settings (the role, the timeout) are the
 * engine's, notifications capture's. SET CONSTRAINTS and SET TRANSACTION end with their transaction.
 */
function refuseForClient(text: string): void {
  const m = /^(SET|RESET|LISTEN|NOTIFY)\b/i.exec(text);
  if (!m) return;
  const word = m[1]!.toUpperCase();
  if (word === 'SET' && /^(CONSTRAINTS|TRANSACTION)\b/i.test(text.slice(skipComments(text, 3)))) return;
  throw unsupported(
    word,
    word === 'SET' || word === 'RESET' ? 'on a shard: its session settings are the engine’s' : 'on a shard: notifications belong to change capture',
  );
}

/** Postgres through PGlite, in Node, browsers or a Durable Object (see pglite-workerd.ts). */
export class PgliteEngine implements CapturingEngine, PageLoader {
  readonly kind = 'pglite';
  // Units of work run one at a time, so captured changes reach the sink in commit order.
  private readonly lock = new Mutex();
  private sink: CaptureSink | undefined;
  /** The committed schema, to decode captured rows with. */
  private schema: PgSchema = new Map();
  /** The running unit's schemas: before it, then after each of its DDL statements. */
  private schemas: PgSchema[] = [];
  /** Capture notifications heard while the running unit committed (see capture-pg.ts). */
  private heard: string[] = [];

  /** Options of every query: empty once the engine's parsers are in the instance's own table. */
  private readonly queryOptions: QueryOptions;
  private readonly unprivileged: boolean;
  /** This start's capture key, which begins every payload of capture's (see capture-pg.ts). */
  private readonly key = newCaptureKey();
  private readonly keyPrefix = `${this.key} `;
  /** Set once client statements run as the client's role: the superuser the engine's own work goes back to. */
  private superuser: string | undefined;

  constructor(
    readonly pg: PGliteInterface,
    opts: PgliteEngineOptions = {},
  ) {
    this.unprivileged = opts.unprivileged ?? false;
    // Parsers given with a query are spread over PGlite's whole table (~300 types) on every query,
    // ~80 µs each, more than a small INSERT takes: put them into the instance's table once.
    const table = (pg as { parsers?: Record<number, (s: string) => unknown> }).parsers;
    if (table) Object.assign(table, PARSERS);
    this.queryOptions = table ? {} : { parsers: PARSERS };
  }

  private async run(on: On, sql: string, params: SqlValue[] = []): Promise<ResultSet> {
    const text = sql.slice(skipComments(sql));
    refuseTransactionControl(text);
    checkStatementSize(sql);
    if (this.sink) refuseOnCapture(text);
    if (this.superuser) refuseForClient(text);
    try {
      // The client may create objects in this statement alone, which the engine sees as DDL: not
      // inside EXPLAIN ANALYZE or as SELECT INTO, where neither the engine nor event triggers would.
      const grant = this.superuser !== undefined && on !== this.pg && /^CREATE\b/i.test(text) ? grantCreateSql(this.superuser) : undefined;
      if (grant) await on.exec(grant);
      const r = await on.query<Row>(sql, bindParams(params), this.queryOptions);
      // CREATE TABLE … AS reports SELECT: the statement's first word says it is DDL.
      if (this.sink && (isDdlCommand(r.command) || MAYBE_DDL.test(text))) {
        await this.privileged(on, async (tx) => {
          if (grant) await tx.query(AFTER_CREATE_SQL);
          await this.installTriggers(tx);
          await tx.query(RECORD_DDL_SQL, [sql]);
        });
        this.schemas.push(await this.loadSchema(on));
      }
      return toResult(r);
    } catch (e) {
      throw this.error(e);
    }
  }

  private error(e: unknown): VitessError {
    const err = pgError(e);
    if (err.details.limit !== 'statement timeout') return err;
    return new VitessError('TIMEOUT', `${err.message}: a statement may run ${STATEMENT_TIMEOUT_MS} ms on a shard`, err.details);
  }

  /**
   * Runs the engine's own work as the superuser, inside a transaction (SET LOCAL: a failure that
   * rolls the transaction back also ends the elevation). Before client statements run as the
   * client's role, simply runs it.
   */
  private async privileged<T>(on: On, fn: (on: On) => Promise<T>): Promise<T> {
    const superuser = this.superuser;
    if (!superuser) return fn(on);
    if (on === this.pg) {
      return this.pg.transaction(async (tx) => {
        await tx.exec(elevateSql(superuser));
        return fn(tx);
      });
    }
    await on.exec(elevateSql(superuser));
    const out = await fn(on).catch(async (e: unknown) => {
      // An aborted transaction refuses LOWER_SQL, but its rollback lowers the role all the same.
      await on.exec(LOWER_SQL).catch(() => undefined);
      throw e;
    });
    await on.exec(LOWER_SQL);
    return out;
  }

  private async installTriggers(on: On): Promise<void> {
    const uncaptured = await on.query<{ name: string; has_pk: boolean }>(UNCAPTURED_SQL);
    for (const t of uncaptured.rows) await on.query(triggerSql(t.name, t.has_pk));
  }

  private async loadSchema(on: On): Promise<PgSchema> {
    return schemaFromRows((await on.query<{ relid: string; tbl: string; col: string; oid: number; pk: number }>(COLUMNS_SQL)).rows);
  }

  /**
   * One unit of work under the lock. With capture on, the notifications its commit sent arrive
   * with the reply to the committing statement, and the sink hears of them right after: no
   * query of its own, and nothing for reads or rolled-back work.
   */
  private unit<T>(fn: (on: On) => Promise<T>, transactional = false): Promise<T> {
    return this.lock.run(async () => {
      if (!this.sink) return transactional ? this.pg.transaction(fn) : fn(this.pg);
      this.heard = [];
      this.schemas = [this.schema];
      try {
        const out = await (transactional ? this.pg.transaction(fn) : fn(this.pg));
        this.schema = this.schemas.at(-1)!;
        return out;
      } catch (e) {
        // Schema changes it made may have rolled back.
        if (this.schemas.length > 1) this.schema = await this.loadSchema(this.pg);
        throw e;
      } finally {
        // Whatever committed is delivered, even if the unit failed afterwards.
        await this.deliver();
      }
    });
  }

  private async deliver(): Promise<void> {
    const heard = this.heard;
    this.heard = [];
    if (!heard.length) return;
    // Bodies too large for NOTIFY wait in the table (rare): read them now, still under the lock.
    const fromTable = new Map<string, string>();
    if (heard.some((p) => !p.includes(' '))) {
      const drained = await this.privileged(this.pg, (on) => on.query<{ seq: string; body: string }>(DRAIN_SQL));
      for (const r of drained.rows) fromTable.set(r.seq, r.body);
    }
    this.sink?.({ changes: decodeChanges(heard, fromTable, this.schemas) });
  }

  tables(): Promise<TableInfo[]> {
    return this.lock.run(async () => {
      const cols = (await this.pg.query<{ tbl: string; col: string; pk: number }>(COLUMNS_SQL)).rows;
      const names = [...new Set(cols.map((c) => c.tbl))].sort();
      return names.map((name) => ({
        name,
        primaryKey: cols
          .filter((c) => c.tbl === name && c.pk > 0)
          .sort((a, b) => a.pk - b.pk)
          .map((c) => c.col),
      }));
    });
  }

  /** After replaying the log: sequences move past the values replay wrote (see ADVANCE_SEQUENCES_SQL). */
  advanceSequences(): Promise<void> {
    return this.lock.run(() =>
      this.privileged(this.pg, async (on) => {
        await on.exec(ADVANCE_SEQUENCES_SQL);
      }),
    );
  }

  async enableCapture(sink: CaptureSink): Promise<void> {
    await this.lock.run(async () => {
      const lockdown = this.unprivileged && !this.superuser;
      await this.pg.transaction((tx) =>
        this.privileged(tx, async () => {
          for (const sql of SETUP_SQL) await tx.query(sql);
          await tx.query(SET_KEY_SQL, [this.key]);
          if (lockdown) for (const sql of LOCKDOWN_SQL) await tx.query(sql);
          await this.installTriggers(tx);
        }),
      );
      // Only payloads with this start's key are capture's: anything else is dropped.
      if (!this.sink)
        await this.pg.listen(CHANNEL, (p) => {
          if (p.startsWith(this.keyPrefix)) this.heard.push(p.slice(this.keyPrefix.length));
        });
      this.schema = await this.loadSchema(this.pg);
      if (lockdown) {
        const { rows } = await this.pg.query<{ name: string }>('SELECT session_user AS name');
        await this.pg.exec(userModeSql(STATEMENT_TIMEOUT_MS, TEMP_FILE_LIMIT));
        this.superuser = quoteIdent(rows[0]!.name);
      }
    });
    this.sink = sink;
  }

  query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    // DDL installs triggers and is recorded after it runs: all of it must commit or none.
    return this.unit((on) => this.run(on, sql, params), MAYBE_DDL.test(sql.slice(skipComments(sql))));
  }

  async execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }> {
    return { affected: (await this.query(sql, params)).affected };
  }

  async batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    checkBatchLength(statements.length);
    if (!opts.atomic) {
      const out: ResultSet[] = [];
      for (const s of statements) out.push(await this.query(s.sql, s.params));
      return out;
    }
    return this.unit(async (on) => {
      const out: ResultSet[] = [];
      for (const s of statements) out.push(await this.run(on, s.sql, s.params));
      return out;
    }, true);
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.unit((on) => TransactionHandle.run({ query: (sql, params) => this.run(on, sql, params) }, fn), true);
  }

  loadJson(table: string, primaryKey: string[], page: PageText): Promise<number> {
    return this.unit(async (on) => {
      // A missing table fails here, as Postgres names it.
      const types = new Map((await this.run(on, COLUMN_TYPES_SQL, columnTypesParams(table))).rows.map((x) => [String(x.name), String(x.type)]));
      const rows = pageValues(page.json);
      let wrote = 0;
      for (const s of jsonUpserts(table, primaryKey, page.columns, rows, types)) wrote += (await this.run(on, s.sql, s.params)).affected;
      return wrote;
    }, true);
  }

  prepare(fn: (tx: Executor) => Promise<void>): Promise<Change[]> {
    return this.lock.run(() =>
      this.pg.transaction(async (tx) => {
        this.schemas = [this.schema];
        try {
          // This transaction rolls back, so its notifications never arrive: capture into the table.
          await tx.query(TO_TABLE_SQL);
          await TransactionHandle.run({ query: (sql, params) => this.run(tx, sql, params) }, fn);
          const { rows } = await this.privileged(tx, (on) => on.query<{ seq: string; body: string }>(DRAIN_SQL));
          return decodeChanges(
            rows.map((r) => r.seq),
            new Map(rows.map((r) => [r.seq, r.body])),
            this.schemas,
          );
        } finally {
          await tx.rollback();
        }
      }),
    );
  }

  /**
   * The data directory as a tarball, taken between units of work (so it matches the log).
   * CHECKPOINT first: single-user Postgres has no checkpointer, so WAL would only grow.
   */
  dumpDataDir(): Promise<Blob> {
    return this.lock.run(async () => {
      await this.privileged(this.pg, (on) => on.query('CHECKPOINT'));
      return (await this.pg.dumpDataDir('none')) as Blob;
    });
  }

  async close(): Promise<void> {
    await this.lock.run(() => this.pg.close());
  }
}
