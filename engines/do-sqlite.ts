import type { ResultSet, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import type { CatalogColumn } from './dialect/sqlite.js';
import type { BatchOptions, Executor, StorageEngine } from './engine.js';
import { checkBatchSize } from './limits.js';
import { Mutex } from './mutex.js';
import { CATALOG_SQL, catalogFromRows, prepareSqlite, sqliteResult } from './sqlite-codec.js';
import { sqliteError } from './sqlite-errors.js';
import { TransactionHandle } from './transaction.js';

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

  constructor(private readonly storage: DurableObjectStorage) {}

  private runSync(sql: string, params: SqlValue[] = []): ResultSet {
    try {
      this.catalog ??= catalogFromRows([...this.storage.sql.exec(CATALOG_SQL).raw()]);
      const { stmt, args } = prepareSqlite(sql, params, this.catalog, 'do');
      const cursor = this.storage.sql.exec(stmt.sql, ...(args as SqlStorageValue[]));
      const raw = [...cursor.raw()];
      const columns = cursor.columnNames;
      if (stmt.ddl) this.catalog = undefined;
      // rowsWritten counts index writes too; changes() is the row count Postgres reports.
      const changes = stmt.table && !stmt.ddl ? Number(this.storage.sql.exec('SELECT changes()').one()['changes()']) : 0;
      return sqliteResult(stmt, columns, raw, changes);
    } catch (e) {
      throw sqliteError(e);
    }
  }

  async query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    return this.lock.run(async () => this.runSync(sql, params));
  }

  async execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }> {
    return { affected: (await this.query(sql, params)).affected };
  }

  batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    checkBatchSize(statements.length);
    const all = () => statements.map((s) => this.runSync(s.sql, s.params));
    return this.lock.run(async () => {
      if (!opts.atomic) return all();
      try {
        return this.storage.transactionSync(all);
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
        return await this.storage.transaction(() => TransactionHandle.run(tx, fn));
      } catch (e) {
        this.catalog = undefined;
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    // The storage belongs to the Durable Object; nothing to release.
  }
}
