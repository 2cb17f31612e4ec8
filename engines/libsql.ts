import { createClient, type Client, type ResultSet as LibsqlResult, type Transaction } from '@libsql/client';
import type { ResultSet, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import type { CatalogColumn } from './dialect/sqlite.js';
import type { BatchOptions, Executor, StorageEngine } from './engine.js';
import { checkBatchSize } from './limits.js';
import { Mutex } from './mutex.js';
import { CATALOG_SQL, catalogFromRows, prepareSqlite, sqliteResult } from './sqlite-codec.js';
import { sqliteError } from './sqlite-errors.js';
import { TransactionHandle } from './transaction.js';

/** libsql rows are array-like objects; the codec takes plain arrays. */
const rawRows = (rs: LibsqlResult): unknown[][] => rs.rows.map((r) => Array.from(r as ArrayLike<unknown>));

/** SQLite through `@libsql/client`: a file or memory database in Node, its wasm build in browsers. */
export class LibsqlEngine implements StorageEngine {
  readonly kind = 'libsql';
  private catalog: Map<string, CatalogColumn[]> | undefined;
  // One connection: transactions hold it, so everything else waits its turn.
  private readonly lock = new Mutex();

  private constructor(private readonly client: Client) {}

  /** `url`: `:memory:` (default) or `file:path.db`. */
  static async open(url = ':memory:'): Promise<LibsqlEngine> {
    const client = createClient({ url, intMode: 'bigint' });
    await client.execute('PRAGMA foreign_keys = ON');
    return new LibsqlEngine(client);
  }

  private async run(on: Client | Transaction, sql: string, params: SqlValue[] = []): Promise<ResultSet> {
    try {
      this.catalog ??= catalogFromRows(rawRows(await on.execute(CATALOG_SQL)));
      const { stmt, args } = prepareSqlite(sql, params, this.catalog, 'libsql');
      const rs = await on.execute({ sql: stmt.sql, args: args as never });
      if (stmt.ddl) this.catalog = undefined;
      // libsql reports no row count for statements that return rows; with RETURNING it is one row each.
      return sqliteResult(stmt, rs.columns, rawRows(rs), rs.columns.length ? rs.rows.length : rs.rowsAffected);
    } catch (e) {
      throw sqliteError(e);
    }
  }

  /**
   * Runs `fn` on a transaction that owns the connection (the client's pool rolls back any
   * transaction left open on a pooled connection, so plain BEGIN would not hold).
   */
  private async inTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const tx = await this.client.transaction('write');
    try {
      const result = await fn(tx);
      await tx.commit();
      return result;
    } catch (e) {
      await tx.rollback();
      this.catalog = undefined; // a rolled-back DDL may have been cached
      throw e;
    } finally {
      tx.close();
    }
  }

  query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    return this.lock.run(() => this.run(this.client, sql, params));
  }

  async execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }> {
    return { affected: (await this.query(sql, params)).affected };
  }

  batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    checkBatchSize(statements.length);
    const all = async (on: Client | Transaction) => {
      const out: ResultSet[] = [];
      for (const s of statements) out.push(await this.run(on, s.sql, s.params));
      return out;
    };
    return this.lock.run(() => (opts.atomic ? this.inTransaction(all) : all(this.client)));
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.lock.run(() => this.inTransaction((t) => TransactionHandle.run({ query: (sql, params) => this.run(t, sql, params) }, fn)));
  }

  async close(): Promise<void> {
    await this.lock.run(async () => this.client.close());
  }
}
