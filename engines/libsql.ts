import { createClient, type Client, type ResultSet as LibsqlResult, type Transaction } from '@libsql/client';
import type { Change } from '../rpc/changes.js';
import { pageValues, type PageText, type ResultSet, type Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import type { CatalogColumn } from './dialect/sqlite.js';
import {
  CAPTURE_TABLE,
  columnsFromRows,
  COLUMNS_SQL,
  decodeChanges,
  DRAIN_SQL,
  primaryKeyOf,
  recordDdlSql,
  SETUP_SQL,
  TABLES_SQL,
  triggerSql,
} from './capture-sqlite.js';
import type { BatchOptions, CaptureSink, CapturingEngine, Executor, PageLoader, TableInfo } from './engine.js';
import { checkBatchLength, checkTableName, isInternalTable } from './limits.js';
import { Mutex } from './mutex.js';
import { CATALOG_SQL, catalogFromRows, prepareSqlite, sqliteResult } from './sqlite-codec.js';
import { sqliteError } from './sqlite-errors.js';
import { loadStatements, pageColumns } from './sqlite-load.js';
import { loadJsonSql } from './sqlite-wire.js';
import { TransactionHandle } from './transaction.js';

/** libsql rows are array-like objects; the codec takes plain arrays. */
const rawRows = (rs: LibsqlResult): unknown[][] => rs.rows.map((r) => Array.from(r as ArrayLike<unknown>));

/** SQLite through `@libsql/client`: a file or memory database, in Node only (the browser bundle refuses it: scripts/build-browser.mjs). */
export class LibsqlEngine implements CapturingEngine, PageLoader {
  readonly kind = 'libsql';
  private catalog: Map<string, CatalogColumn[]> | undefined;
  // One connection: transactions hold it, so everything else waits its turn.
  private readonly lock = new Mutex();

  private sink: CaptureSink | undefined;
  /** A statement that can fire triggers ran since the last drain (a SELECT cannot, on SQLite). */
  private wrote = false;

  private constructor(private readonly client: Client) {}

  /** (Re)installs capture triggers on every user table: after any DDL, columns or names may have changed. */
  private async installTriggers(on: Client | Transaction): Promise<void> {
    for (const [name] of rawRows(await on.execute(TABLES_SQL))) {
      const table = String(name);
      if (isInternalTable(table)) continue;
      const columns = columnsFromRows(rawRows(await on.execute({ sql: COLUMNS_SQL, args: [table] })));
      for (const stmt of triggerSql(table, columns, CAPTURE_TABLE)) await on.execute(stmt);
    }
  }

  /** Takes the captured changes out of the capture table, inside the unit's transaction. */
  private async drain(tx: Transaction): Promise<Change[]> {
    if (!this.wrote) return [];
    this.wrote = false;
    const rows = rawRows(await tx.execute(DRAIN_SQL));
    if (!rows.length) return [];
    return decodeChanges(rows);
  }

  /** Drains captured changes to the sink, inside the unit's transaction. */
  private async flush(tx: Transaction): Promise<void> {
    if (!this.sink) return;
    const changes = await this.drain(tx);
    if (changes.length) this.sink({ changes });
  }

  /** One unit of work: with capture on, a transaction that ends by draining its changes. */
  private unit<T>(fn: (on: Client | Transaction) => Promise<T>): Promise<T> {
    return this.sink ? this.inTransaction(fn) : fn(this.client);
  }

  tables(): Promise<TableInfo[]> {
    return this.lock.run(async () => {
      const names = rawRows(await this.client.execute(TABLES_SQL))
        .map(([n]) => String(n))
        .filter((t) => !isInternalTable(t))
        .sort();
      const out: TableInfo[] = [];
      for (const name of names)
        out.push({ name, primaryKey: primaryKeyOf(columnsFromRows(rawRows(await this.client.execute({ sql: COLUMNS_SQL, args: [name] })))) });
      return out;
    });
  }

  async enableCapture(sink: CaptureSink): Promise<void> {
    await this.lock.run(() =>
      this.inTransaction(async (tx) => {
        await tx.execute(SETUP_SQL);
        await this.installTriggers(tx);
      }),
    );
    this.sink = sink;
  }

  /**
   * `url`: `:memory:` (default) or `file:path.db`. With `replica`, a file is kept in WAL mode
   * with synchronous=NORMAL: commits do not wait for the disk, and a power loss may take the last
   * transactions but never consistency. An embedded replica can afford that (it resumes from the
   * LSNs stored with its rows); a primary, whose commits are acknowledged writes, cannot.
   */
  static async open(url = ':memory:', opts: { replica?: boolean } = {}): Promise<LibsqlEngine> {
    const client = createClient({ url, intMode: 'bigint' });
    await client.execute('PRAGMA foreign_keys = ON');
    if (opts.replica && url.startsWith('file:')) {
      await client.execute('PRAGMA journal_mode = WAL');
      await client.execute('PRAGMA synchronous = NORMAL');
    }
    return new LibsqlEngine(client);
  }

  private async run(on: Client | Transaction, sql: string, params: SqlValue[] = []): Promise<ResultSet> {
    try {
      this.catalog ??= catalogFromRows(rawRows(await on.execute(CATALOG_SQL)));
      const { stmt, args } = prepareSqlite(sql, params, this.catalog, 'libsql');
      // On a captured shard a reserved name would go unreplicated or clash with the engine's tables.
      if (this.sink && stmt.ddl && stmt.table) checkTableName(stmt.table);
      if (stmt.table) this.wrote = true;
      const rs = await on.execute({ sql: stmt.sql, args: args as never });
      if (stmt.ddl) {
        this.catalog = undefined;
        if (this.sink) {
          await this.installTriggers(on);
          await on.execute({ sql: recordDdlSql(CAPTURE_TABLE), args: [sql] });
        }
      }
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
      await this.flush(tx);
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
    return this.lock.run(() => this.unit((on) => this.run(on, sql, params)));
  }

  async execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }> {
    return { affected: (await this.query(sql, params)).affected };
  }

  batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    checkBatchLength(statements.length);
    return this.lock.run(async () => {
      if (opts.atomic) {
        return this.inTransaction(async (tx) => {
          const out: ResultSet[] = [];
          for (const s of statements) out.push(await this.run(tx, s.sql, s.params));
          return out;
        });
      }
      const out: ResultSet[] = [];
      for (const s of statements) out.push(await this.unit((on) => this.run(on, s.sql, s.params)));
      return out;
    });
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.lock.run(() => this.inTransaction((t) => TransactionHandle.run({ query: (sql, params) => this.run(t, sql, params) }, fn)));
  }

  /** SQLite decodes the page itself where it can (`loadJsonSql`); else its rows are bound from JS. */
  loadJson(table: string, primaryKey: string[], page: PageText): Promise<number> {
    return this.lock.run(() =>
      this.inTransaction(async (tx) => {
        try {
          this.catalog ??= catalogFromRows(rawRows(await tx.execute(CATALOG_SQL)));
          const columns = pageColumns(table, page.columns, this.catalog.get(table));
          const sql = loadJsonSql(table, columns, primaryKey, page.json);
          this.wrote = true;
          if (sql) return (await tx.execute({ sql, args: [page.json] })).rowsAffected;
          const rows = pageValues(page.json);
          for (const s of loadStatements(table, primaryKey, rows, columns)) await tx.execute({ sql: s.sql, args: s.args as never });
          return rows.length;
        } catch (e) {
          throw sqliteError(e);
        }
      }),
    );
  }

  prepare(fn: (tx: Executor) => Promise<void>): Promise<Change[]> {
    return this.lock.run(async () => {
      const tx = await this.client.transaction('write');
      try {
        await TransactionHandle.run({ query: (sql, params) => this.run(tx, sql, params) }, fn);
        return await this.drain(tx);
      } finally {
        await tx.rollback();
        tx.close();
        this.catalog = undefined;
      }
    });
  }

  async close(): Promise<void> {
    await this.lock.run(async () => this.client.close());
  }
}
