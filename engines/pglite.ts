import type { PGliteInterface, Results, Transaction } from '@electric-sql/pglite';
import { VitessError } from '../rpc/errors.js';
import type { ResultSet, Row, Statement } from '../rpc/results.js';
import { canonicalNumeric, isJsonObject, normalizeInt, type SqlType, type SqlValue } from '../rpc/values.js';
import type { Change } from '../rpc/changes.js';
import { COLUMNS_SQL, decodeChanges, DRAIN_SQL, RECORD_DDL_SQL, SETUP_SQL, triggerSql, UNCAPTURED_SQL, type PgColumn } from './capture-pg.js';
import type { BatchOptions, CaptureSink, Executor, StorageEngine, TableInfo } from './engine.js';
import { Mutex } from './mutex.js';
import { checkBatchSize, checkStatementSize, checkValueSize, LIMITS, refuseTransactionControl } from './limits.js';
import { pgError } from './pg-errors.js';
import { TransactionHandle } from './transaction.js';

/** Postgres type OIDs → the engine-neutral type. */
export const OID_TYPES: Record<number, SqlType> = {
  16: 'bool', 21: 'int2', 23: 'int4', 20: 'int8', 700: 'float4', 701: 'float8', 1700: 'numeric',
  25: 'text', 1043: 'text', 1042: 'text', 19: 'text', 705: 'text', 114: 'json', 3802: 'jsonb',
  17: 'bytea', 1082: 'date', 1114: 'timestamp', 1184: 'timestamptz', 2950: 'uuid',
};

/** Numeric compares by value across engines; dates stay `YYYY-MM-DD` (see rpc/values.ts). */
const PARSERS = { 1700: canonicalNumeric, 1082: (s: string) => s };

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
  private columns: Map<string, PgColumn[]> | undefined;

  constructor(readonly pg: PGliteInterface) {}

  private async run(on: On, sql: string, params: SqlValue[] = []): Promise<ResultSet> {
    refuseTransactionControl(sql);
    checkStatementSize(sql);
    // Row triggers do not see TRUNCATE: with capture on, it would vanish from the log.
    if (this.sink && /^\s*TRUNCATE\b/i.test(sql)) throw new VitessError('UNSUPPORTED', 'TRUNCATE is not supported on a captured shard; use DELETE', { construct: 'TRUNCATE' });
    try {
      const r = await on.query<Row>(sql, bindParams(params), { parsers: PARSERS });
      if (this.sink && isDdlCommand(r.command)) {
        await this.installTriggers(on);
        await on.query(RECORD_DDL_SQL, [sql]);
      }
      return toResult(r);
    } catch (e) {
      throw pgError(e);
    }
  }

  private async installTriggers(on: On): Promise<void> {
    this.columns = undefined;
    const uncaptured = await on.query<{ name: string; has_pk: boolean }>(UNCAPTURED_SQL);
    for (const t of uncaptured.rows) await on.query(triggerSql(t.name, t.has_pk));
  }

  private async drain(on: On): Promise<Change[]> {
    const rows = (await on.query<{ seq: unknown; tbl: string | null; op: string; row: string | null; old: string | null; ddl: string | null }>(DRAIN_SQL)).rows;
    if (!rows.length) return [];
    if (!this.columns) {
      const cols = (await on.query<{ tbl: string; col: string; oid: number; pk: number }>(COLUMNS_SQL)).rows;
      this.columns = new Map();
      for (const c of cols) {
        const list = this.columns.get(c.tbl) ?? [];
        list.push({ name: c.col, type: OID_TYPES[c.oid] ?? 'text', pk: c.pk });
        this.columns.set(c.tbl, list);
      }
    }
    const columns = this.columns;
    return decodeChanges(rows, (t) => columns.get(t) ?? []);
  }

  /**
   * One unit of work under the lock. With capture on, its changes are drained right after it
   * (inside the transaction for transactional units) and the sink hears of them once committed.
   * Every unit drains, reads too: a SELECT may call a function that writes.
   */
  private unit<T>(fn: (on: On) => Promise<T>, transactional = false): Promise<T> {
    return this.lock.run(async () => {
      if (!this.sink && !transactional) return fn(this.pg);
      if (!transactional) {
        // One autocommit statement: its trigger rows commit with it, and the drain that follows
        // cannot interleave with anything (the lock). Half the round trips of BEGIN…COMMIT.
        const out = await fn(this.pg);
        const changes = await this.drain(this.pg);
        if (changes.length) this.sink?.(changes);
        return out;
      }
      let changes: Change[] = [];
      const out = await this.pg.transaction(async (tx) => {
        const result = await fn(tx);
        if (this.sink) changes = await this.drain(tx);
        return result;
      }).catch((e: unknown) => {
        this.columns = undefined;
        throw e;
      });
      if (changes.length) this.sink?.(changes);
      return out;
    });
  }

  tables(): Promise<TableInfo[]> {
    return this.lock.run(async () => {
      const cols = (await this.pg.query<{ tbl: string; col: string; pk: number }>(COLUMNS_SQL)).rows.filter((c) => !c.tbl.startsWith('_vt_'));
      const names = [...new Set(cols.map((c) => c.tbl))].sort();
      return names.map((name) => ({
        name,
        primaryKey: cols.filter((c) => c.tbl === name && c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.col),
      }));
    });
  }

  async enableCapture(sink: CaptureSink): Promise<void> {
    await this.lock.run(() => this.pg.transaction(async (tx) => {
      for (const sql of SETUP_SQL) await tx.query(sql);
      await this.installTriggers(tx);
    }));
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

  prepare(fn: (tx: Executor) => Promise<void>): Promise<Change[]> {
    return this.lock.run(() => this.pg.transaction(async (tx) => {
      try {
        await TransactionHandle.run({ query: (sql, params) => this.run(tx, sql, params) }, fn);
        return await this.drain(tx);
      } finally {
        this.columns = undefined;
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
