import type { Change } from '../rpc/changes.js';
import { VitessError } from '../rpc/errors.js';
import type { ResultSet, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import type { CatalogColumn, SqliteStatement } from './dialect/sqlite.js';
import { columnsFromRows, COLUMNS_SQL, decodeChanges, primaryKeyOf, recordDdlSql, TABLES_SQL, triggerSql } from './capture-sqlite.js';
import type { BatchOptions, CaptureSink, CapturingEngine, Executor, JsonPage, PageReader, TableInfo } from './engine.js';
import { checkBatchLength, isInternalTable } from './limits.js';
import { Mutex } from './mutex.js';
import { bindOne, CATALOG_SQL, catalogFromRows, prepareSqlite, sqliteResult } from './sqlite-codec.js';
import { pageCharsSql, pageJsonSql } from './sqlite-wire.js';
import { sqliteError } from './sqlite-errors.js';
import { TransactionHandle } from './transaction.js';

/**
 * Where capture in place writes, in the same DO SQLite: the change log's table of changes, the
 * statement a trigger runs to head its row, and the newest header's LSN. The change log
 * (changelog/log.ts, IN_PLACE_LOG) provides them, so that engines/ depends on nothing of it.
 */
export interface InPlaceLog {
  changesTable: string;
  rowHeaderSql: string;
  topLsnSql: string;
}

/** The engine's and the platform's tables, in any letter case: SQLite matches table names without it. */
const isReserved = (name: string): boolean => isInternalTable(name.toLowerCase());

function refuseReserved(name: string): void {
  if (isReserved(name)) {
    throw new VitessError(
      'INVALID',
      `table name "${name}" is reserved (names starting with _vt_, __, _cf_ or sqlite_, in any letter case, belong to the engine)`,
      { table: name },
    );
  }
}

/**
 * A captured shard's catalog: translation looks up every table a statement reads or writes
 * here (joins and subqueries too), and a reserved name is refused. The extra entry keeps the
 * translations cached for it apart from those of an unguarded catalog of the same tables.
 */
class GuardedCatalog extends Map<string, CatalogColumn[]> {
  constructor(tables: Map<string, CatalogColumn[]>) {
    super([...tables, ['\0guarded', []]]);
  }
  override get(name: string): CatalogColumn[] | undefined {
    refuseReserved(name);
    return super.get(name);
  }
}

/** Names a DDL statement gives or points at besides its table: a new name, a referenced table, an index. */
const DDL_NAMES = /\b(?:RENAME TO|REFERENCES|INDEX(?: IF (?:NOT )?EXISTS)?)\s+"((?:[^"]|"")*)"/gi;

function refuseReservedNames(stmt: SqliteStatement): void {
  if (stmt.table) refuseReserved(stmt.table);
  if (stmt.ddl) for (const m of stmt.sql.matchAll(DDL_NAMES)) refuseReserved(m[1]!.replace(/""/g, '"'));
}

/** Thrown to roll back a transaction that did what it had to (see `prepare`). */
const ROLLED_BACK = Symbol('rolled back');
/** Rows whose JSON text sizes a snapshot page (`pageJson`). */
const PAGE_SAMPLE_ROWS = 64;

/**
 * A Durable Object's own SQLite (`ctx.storage.sql`). It refuses BEGIN: atomic batches run in
 * `transactionSync`, interactive transactions in `ctx.storage.transaction`, which stays open
 * across awaits and rolls back when its closure throws (checked in workerd, docs/platform.md).
 *
 * Capture is in place: the triggers write into the change log's own tables (a `ChangeLog` on the
 * same storage creates them), and each unit ends by handing the sink `{ inPlace }` to seal.
 */
export class DoSqliteEngine implements CapturingEngine, PageReader {
  readonly kind = 'do-sqlite';
  private catalog: Map<string, CatalogColumn[]> | undefined;
  // Other calls into the same DO wait on the input gate; this covers overlapping calls in one request.
  private readonly lock = new Mutex();
  private sink: CaptureSink | undefined;
  /** The unit now running changed a row or the schema (so it may have captured changes). */
  private wrote = false;
  /** DDL statements the unit now running executed, in order. */
  private ddl: string[] = [];
  /** The newest log header after the unit's last statement that could change rows. */
  private top: number | undefined;

  /** `log`: needed for capture only. */
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly log?: InPlaceLog,
  ) {}

  private get inPlace(): InPlaceLog {
    if (!this.log) throw new VitessError('INTERNAL', 'capture on DO SQLite needs the change log it writes into: new DoSqliteEngine(storage, IN_PLACE_LOG)');
    return this.log;
  }

  private exec(sql: string, ...args: SqlStorageValue[]): unknown[][] {
    return [...this.storage.sql.exec(sql, ...args).raw()];
  }

  private run(sql: string, args: unknown[]): { raw: unknown[][]; columns: string[] } {
    const cursor = this.storage.sql.exec(sql, ...(args as SqlStorageValue[]));
    return { raw: [...cursor.raw()], columns: cursor.columnNames };
  }

  /** (Re)installs capture triggers on every user table: after any DDL, columns or names may have changed. */
  private installTriggers(): void {
    for (const [name] of this.exec(TABLES_SQL)) {
      const table = String(name);
      if (isReserved(table)) continue;
      for (const stmt of triggerSql(table, columnsFromRows(this.exec(COLUMNS_SQL, table)), this.inPlace.changesTable, this.inPlace.rowHeaderSql))
        this.exec(stmt);
    }
  }

  /** Starts a unit: nothing captured yet (a unit that failed before its end left its marks). */
  private begin(): void {
    this.wrote = false;
    this.ddl = [];
    this.top = undefined;
  }

  /** Ends a unit inside its transaction: the sink seals what the triggers captured. */
  private flush(): void {
    if (this.sink && this.wrote) this.sink({ inPlace: { ddl: this.ddl, top: this.top } });
    this.begin();
  }

  /**
   * One statement as a unit of work, followed by its seal. No savepoint: inside a
   * savepoint SQLite makes each of these statements several times dearer, and the DO commits
   * every write of one synchronous turn in one transaction anyway, so a crash cannot separate
   * the statement from its seal. A failed statement leaves nothing (SQLite undoes it, triggers
   * included). Should the seal itself fail, the rows stay unsealed and go into the next record.
   */
  private unit<T>(fn: () => T): T {
    this.begin();
    const out = fn();
    this.flush();
    return out;
  }

  async tables(): Promise<TableInfo[]> {
    return this.exec(TABLES_SQL)
      .map(([n]) => String(n))
      .filter((t) => !isReserved(t))
      .sort()
      .map((name) => ({ name, primaryKey: primaryKeyOf(columnsFromRows(this.exec(COLUMNS_SQL, name))) }));
  }

  async enableCapture(sink: CaptureSink): Promise<void> {
    await this.lock.run(async () => {
      this.storage.transactionSync(() => this.installTriggers());
      this.sink = sink;
      this.catalog = undefined; // to be read again, guarded
    });
  }

  private runSync(sql: string, params: SqlValue[] = []): ResultSet {
    try {
      if (!this.catalog) {
        const tables = catalogFromRows([...this.storage.sql.exec(CATALOG_SQL).raw()]);
        this.catalog = this.sink ? new GuardedCatalog(tables) : tables;
      }
      const { stmt, args } = prepareSqlite(sql, params, this.catalog, 'do');
      // On a captured shard a reserved name would go unreplicated, clash with the engine's tables,
      // or expose (read) or corrupt (written) the change log.
      if (this.sink) refuseReservedNames(stmt);
      // A schema change and the triggers and record that follow it are one (DO SQLite DDL is transactional).
      const { raw, columns } =
        stmt.ddl && this.sink
          ? this.storage.transactionSync(() => {
              const out = this.run(stmt.sql, args);
              this.installTriggers();
              this.exec(recordDdlSql(this.inPlace.changesTable), sql);
              return out;
            })
          : this.run(stmt.sql, args);
      if (stmt.ddl) {
        this.catalog = undefined;
        if (this.sink) {
          this.ddl.push(sql);
          this.wrote = true;
        }
      }
      // rowsWritten counts index writes too; changes() is the row count Postgres reports.
      const changes = stmt.table && !stmt.ddl ? this.changes() : 0;
      if (changes) this.wrote = true;
      return sqliteResult(stmt, columns, raw, changes);
    } catch (e) {
      throw sqliteError(e);
    }
  }

  /** Rows the last statement changed; capturing, also how far its triggers' headers got (one query). */
  private changes(): number {
    if (!this.sink) return Number(this.storage.sql.exec('SELECT changes()').one()['changes()']);
    const [changes, top] = this.storage.sql.exec(`SELECT changes(), ${this.inPlace.topLsnSql}`).raw().next().value as [number, number | null];
    this.top = top ?? undefined;
    return changes;
  }

  async query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    return this.lock.run(async () => this.unit(() => this.runSync(sql, params)));
  }

  async execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }> {
    return { affected: (await this.query(sql, params)).affected };
  }

  batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    checkBatchLength(statements.length);
    return this.lock.run(async () => {
      if (!opts.atomic) return statements.map((s) => this.unit(() => this.runSync(s.sql, s.params)));
      try {
        return this.storage.transactionSync(() => {
          this.begin();
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
          this.begin();
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
      await this.storage
        .transaction(async () => {
          this.begin();
          const [[before]] = this.exec(`SELECT coalesce(max(seq), 0) FROM ${this.inPlace.changesTable}`) as [[number]];
          await TransactionHandle.run(tx, fn);
          changes = decodeChanges(this.exec(`SELECT seq, change FROM ${this.inPlace.changesTable} WHERE seq > ?`, before));
          this.begin();
          throw ROLLED_BACK;
        })
        .catch((e: unknown) => {
          this.catalog = undefined;
          if (e !== ROLLED_BACK) throw e;
        });
      return changes;
    });
  }

  pageJson(table: string, primaryKey: string[], afterKey: SqlValue[] | null, limit: number, maxChars: number): Promise<JsonPage> {
    return this.lock.run(async () => {
      try {
        const columns = columnsFromRows(this.exec(COLUMNS_SQL, table));
        const args = (afterKey ?? []).map((v, i) => bindOne(v, 'do', i)) as SqlStorageValue[];
        const after = afterKey !== null;
        const read = (n: number): JsonPage => {
          const [[json, count]] = this.exec(pageJsonSql(table, columns, primaryKey, after, n), ...args) as [[string, number]];
          return { columns: columns.map((c) => c.name), json, count, limit: n };
        };
        // Wide rows go fewer to a page: the first rows' size sets the count, and a page still far
        // over (wider rows after narrow ones) is read again, shorter.
        const [[chars, sampled]] = this.exec(pageCharsSql(table, columns, primaryKey, after, Math.min(limit, PAGE_SAMPLE_ROWS)), ...args) as [[number, number]];
        const page = read(sampled ? Math.max(1, Math.min(limit, Math.floor((maxChars * sampled) / Math.max(1, chars)))) : limit);
        return page.json.length > 2 * maxChars && page.count > 1 ? read(Math.max(1, Math.floor((page.count * maxChars) / page.json.length))) : page;
      } catch (e) {
        throw sqliteError(e);
      }
    });
  }

  async close(): Promise<void> {
    // The storage belongs to the Durable Object; nothing to release.
  }
}
