import type { Change } from '../rpc/changes.js';
import type { ResultSet, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import type { CatalogColumn } from './dialect/sqlite.js';
import { columnsFromRows, COLUMNS_SQL, decodeChanges, DRAIN_SQL, primaryKeyOf, RECORD_DDL_SQL, SETUP_SQL, TABLES_SQL, triggerSql, type ColumnInfo } from './capture-sqlite.js';
import type { BatchOptions, CaptureSink, Executor, StorageEngine, TableInfo } from './engine.js';
import { checkBatchSize, checkTableName, isInternalTable } from './limits.js';
import { Mutex } from './mutex.js';
import { CATALOG_SQL, catalogFromRows, prepareSqlite, sqliteResult } from './sqlite-codec.js';
import { sqliteError } from './sqlite-errors.js';
import { TransactionHandle } from './transaction.js';

/** Thrown to roll back a transaction that did what it had to (see `prepare`). */
const ROLLED_BACK = Symbol('rolled back');

/**
 * A Durable Object's own SQLite (`ctx.storage.sql`). It refuses BEGIN: atomic batches run in
 * `transactionSync`, interactive transactions in `ctx.storage.transaction`, which stays open
 * across awaits and rolls back when its closure throws (checked in workerd, DESIGN.md).
 */
export class DoSqliteEngine implements StorageEngine {
  readonly kind = 'do-sqlite';
  private catalog: Map<string, CatalogColumn[]> | undefined;
  // Other calls into the same DO wait on the input gate; this covers overlapping calls in one request.
  private readonly lock = new Mutex();
  private sink: CaptureSink | undefined;
  private readonly captured = new Map<string, ColumnInfo[]>();
  /** A statement that can fire triggers ran since the last drain (a SELECT cannot, on SQLite). */
  private wrote = false;

  constructor(private readonly storage: DurableObjectStorage) {}

  private exec(sql: string, ...args: SqlStorageValue[]): unknown[][] {
    return [...this.storage.sql.exec(sql, ...args).raw()];
  }

  /** (Re)installs capture triggers on every user table: after any DDL, columns or names may have changed. */
  private installTriggers(): void {
    this.captured.clear();
    for (const [name] of this.exec(TABLES_SQL)) {
      const table = String(name);
      if (isInternalTable(table)) continue;
      const columns = columnsFromRows(this.exec(COLUMNS_SQL, table));
      for (const stmt of triggerSql(table, columns)) this.exec(stmt);
      this.captured.set(table, columns);
    }
  }

  /** Takes the captured changes out of _vt_capture; runs inside the unit's transaction. */
  private drain(): Change[] {
    if (!this.wrote) return [];
    this.wrote = false;
    const rows = this.exec(DRAIN_SQL);
    if (!rows.length) return [];
    return decodeChanges(rows, (t) => this.captured.get(t) ?? []);
  }

  /** Drains captured changes to the sink; runs inside the unit's transaction. */
  private flush(): void {
    if (!this.sink) return;
    const changes = this.drain();
    if (changes.length) this.sink(changes);
  }

  /** One unit of work: with capture on, a transaction that ends by draining its changes. */
  private unit<T>(fn: () => T): T {
    if (!this.sink) return fn();
    return this.storage.transactionSync(() => {
      const out = fn();
      this.flush();
      return out;
    });
  }

  async tables(): Promise<TableInfo[]> {
    return this.exec(TABLES_SQL).map(([n]) => String(n)).filter((t) => !isInternalTable(t)).sort()
      .map((name) => ({ name, primaryKey: primaryKeyOf(columnsFromRows(this.exec(COLUMNS_SQL, name))) }));
  }

  async enableCapture(sink: CaptureSink): Promise<void> {
    await this.lock.run(async () => {
      this.storage.transactionSync(() => {
        this.exec(SETUP_SQL);
        this.installTriggers();
      });
      this.sink = sink;
    });
  }

  private runSync(sql: string, params: SqlValue[] = []): ResultSet {
    try {
      this.catalog ??= catalogFromRows([...this.storage.sql.exec(CATALOG_SQL).raw()]);
      const { stmt, args } = prepareSqlite(sql, params, this.catalog, 'do');
      // On a captured shard a reserved name would go unreplicated or clash with the engine's tables.
      if (this.sink && stmt.ddl && stmt.table) checkTableName(stmt.table);
      if (stmt.table) this.wrote = true;
      const cursor = this.storage.sql.exec(stmt.sql, ...(args as SqlStorageValue[]));
      const raw = [...cursor.raw()];
      const columns = cursor.columnNames;
      if (stmt.ddl) {
        this.catalog = undefined;
        if (this.sink) {
          this.installTriggers();
          this.exec(RECORD_DDL_SQL, sql);
        }
      }
      // rowsWritten counts index writes too; changes() is the row count Postgres reports.
      const changes = stmt.table && !stmt.ddl ? Number(this.storage.sql.exec('SELECT changes()').one()['changes()']) : 0;
      return sqliteResult(stmt, columns, raw, changes);
    } catch (e) {
      throw sqliteError(e);
    }
  }

  async query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    return this.lock.run(async () => this.unit(() => this.runSync(sql, params)));
  }

  async execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }> {
    return { affected: (await this.query(sql, params)).affected };
  }

  batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    checkBatchSize(statements.length);
    return this.lock.run(async () => {
      if (!opts.atomic) return statements.map((s) => this.unit(() => this.runSync(s.sql, s.params)));
      try {
        return this.storage.transactionSync(() => {
          const out = statements.map((s) => this.runSync(s.sql, s.params));
          this.flush();
          return out;
        });
      } catch (e) {
        this.catalog = undefined;
        throw e;
      }
    });
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const tx: Executor = { query: async (sql, params) => this.runSync(sql, params) };
    return this.lock.run(async () => {
      try {
        return await this.storage.transaction(async () => {
          const out = await TransactionHandle.run(tx, fn);
          this.flush();
          return out;
        });
      } catch (e) {
        this.catalog = undefined;
        throw e;
      }
    });
  }

  prepare(fn: (tx: Executor) => Promise<void>): Promise<Change[]> {
    const tx: Executor = { query: async (sql, params) => this.runSync(sql, params) };
    return this.lock.run(async () => {
      let changes: Change[] = [];
      await this.storage.transaction(async () => {
        await TransactionHandle.run(tx, fn);
        changes = this.drain();
        throw ROLLED_BACK;
      }).catch((e: unknown) => {
        this.catalog = undefined;
        if (e !== ROLLED_BACK) throw e;
      });
      return changes;
    });
  }

  async close(): Promise<void> {
    // The storage belongs to the Durable Object; nothing to release.
  }
}
