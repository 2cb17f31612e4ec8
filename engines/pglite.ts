import type { PGliteInterface, QueryOptions, Results, Transaction } from '@electric-sql/pglite';
import { VitessError } from '../rpc/errors.js';
import { pageValues, type PageText, type ResultSet, type Row, type Statement } from '../rpc/results.js';
import { isJsonObject, normalizeInt, type SqlType, type SqlValue } from '../rpc/values.js';
import type { Change } from '../rpc/changes.js';
import { CHANNEL, COLUMNS_SQL, decodeChanges, DRAIN_SQL, PARSERS, RECORD_DDL_SQL, schemaFromRows, SETUP_SQL, TO_TABLE_SQL, triggerSql, UNCAPTURED_SQL, type PgSchema } from './capture-pg.js';
import type { BatchOptions, CaptureSink, Executor, StorageEngine, TableInfo } from './engine.js';
import { Mutex } from './mutex.js';
import { checkBatchSize, checkStatementSize, checkValueSize, LIMITS, refuseTransactionControl } from './limits.js';
import { pgError } from './pg-errors.js';
import { COLUMN_TYPES_SQL, columnTypesParams, jsonUpserts } from './pglite-load.js';
import { TransactionHandle } from './transaction.js';

/** Postgres type OIDs → the engine-neutral type. */
export const OID_TYPES: Record<number, SqlType> = {
  16: 'bool', 21: 'int2', 23: 'int4', 20: 'int8', 700: 'float4', 701: 'float8', 1700: 'numeric',
  25: 'text', 1043: 'text', 1042: 'text', 19: 'text', 705: 'text', 114: 'json', 3802: 'jsonb',
  17: 'bytea', 1082: 'date', 1114: 'timestamp', 1184: 'timestamptz', 2950: 'uuid',
};

const encoder = new TextEncoder();

/** PGlite would send a JS array as a Postgres array: JSON values are sent as JSON text instead. */
function bindParams(params: SqlValue[]): unknown[] {
  if (params.length > LIMITS.paramsPerStatement) {
    throw new VitessError('LIMIT_EXCEEDED', `statement binds ${params.length} parameters; the limit is ${LIMITS.paramsPerStatement} per statement`, { limit: 'parameters per statement' });
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
  return { rows, fields, affected: dml ? r.affectedRows ?? 0 : 0 };
}

type On = PGliteInterface | Transaction;
const MAYBE_DDL = /^\s*(CREATE|ALTER|DROP|COMMENT)\b/i;
// PGlite reports only the first word of the command tag ("CREATE", "ALTER").
const isDdlCommand = (command: string | undefined): boolean => /^(CREATE|ALTER|DROP|COMMENT)\b/.test(command ?? '');

/** Postgres through PGlite, in Node, browsers or a Durable Object (see pglite-workerd.ts). */
export class PgliteEngine implements StorageEngine {
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

  constructor(readonly pg: PGliteInterface) {
    // Parsers given with a query are spread over PGlite's whole table (~300 types) on every query,
    // ~80 µs each, more than a small INSERT takes: put them into the instance's table once.
    const table = (pg as { parsers?: Record<number, (s: string) => unknown> }).parsers;
    if (table) Object.assign(table, PARSERS);
    this.queryOptions = table ? {} : { parsers: PARSERS };
  }

  private async run(on: On, sql: string, params: SqlValue[] = []): Promise<ResultSet> {
    refuseTransactionControl(sql);
    checkStatementSize(sql);
    // Row triggers do not see TRUNCATE: with capture on, it would vanish from the log.
    if (this.sink && /^\s*TRUNCATE\b/i.test(sql)) throw new VitessError('UNSUPPORTED', 'TRUNCATE is not supported on a captured shard; use DELETE', { construct: 'TRUNCATE' });
    // Capture hears commits through this session's LISTEN, which these would end.
    const unlisten = this.sink && /^\s*(UNLISTEN|DISCARD)\b/i.exec(sql);
    if (unlisten) throw new VitessError('UNSUPPORTED', `${unlisten[1]!.toUpperCase()} is not supported on a captured shard`, { construct: unlisten[1]!.toUpperCase() });
    try {
      const r = await on.query<Row>(sql, bindParams(params), this.queryOptions);
      // CREATE TABLE … AS reports SELECT: the statement's first word says it is DDL.
      if (this.sink && (isDdlCommand(r.command) || MAYBE_DDL.test(sql))) {
        await this.installTriggers(on);
        await on.query(RECORD_DDL_SQL, [sql]);
        this.schemas.push(await this.loadSchema(on));
      }
      return toResult(r);
    } catch (e) {
      throw pgError(e);
    }
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
      for (const r of (await this.pg.query<{ seq: string; body: string }>(DRAIN_SQL)).rows) fromTable.set(r.seq, r.body);
    }
    this.sink?.({ changes: decodeChanges(heard, fromTable, this.schemas) });
  }

  tables(): Promise<TableInfo[]> {
    return this.lock.run(async () => {
      const cols = (await this.pg.query<{ tbl: string; col: string; pk: number }>(COLUMNS_SQL)).rows;
      const names = [...new Set(cols.map((c) => c.tbl))].sort();
      return names.map((name) => ({
        name,
        primaryKey: cols.filter((c) => c.tbl === name && c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.col),
      }));
    });
  }

  async enableCapture(sink: CaptureSink): Promise<void> {
    await this.lock.run(async () => {
      await this.pg.transaction(async (tx) => {
        for (const sql of SETUP_SQL) await tx.query(sql);
        await this.installTriggers(tx);
      });
      if (!this.sink) await this.pg.listen(CHANNEL, (payload) => { this.heard.push(payload); });
      this.schema = await this.loadSchema(this.pg);
    });
    this.sink = sink;
  }

  query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    // DDL installs triggers and is recorded after it runs: all of it must commit or none.
    return this.unit((on) => this.run(on, sql, params), MAYBE_DDL.test(sql));
  }

  async execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }> {
    return { affected: (await this.query(sql, params)).affected };
  }

  async batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    checkBatchSize(statements.length);
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
    return this.lock.run(() => this.pg.transaction(async (tx) => {
      this.schemas = [this.schema];
      try {
        // This transaction rolls back, so its notifications never arrive: capture into the table.
        await tx.query(TO_TABLE_SQL);
        await TransactionHandle.run({ query: (sql, params) => this.run(tx, sql, params) }, fn);
        const rows = (await tx.query<{ seq: string; body: string }>(DRAIN_SQL)).rows;
        return decodeChanges(rows.map((r) => r.seq), new Map(rows.map((r) => [r.seq, r.body])), this.schemas);
      } finally {
        await tx.rollback();
      }
    }));
  }

  /**
   * The data directory as a tarball, taken between units of work (so it matches the log).
   * CHECKPOINT first: single-user Postgres has no checkpointer, so WAL would only grow.
   */
  dumpDataDir(): Promise<Blob> {
    return this.lock.run(async () => {
      await this.pg.query('CHECKPOINT');
      return (await this.pg.dumpDataDir('none')) as Blob;
    });
  }

  async close(): Promise<void> {
    await this.lock.run(() => this.pg.close());
  }
}
