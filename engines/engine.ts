import type { Change } from '../rpc/changes.js';
import type { PageText, ResultSet, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';

export type EngineKind = 'do-sqlite' | 'libsql' | 'pglite';

/** Runs statements: an engine, or an open transaction on one. */
export interface Executor {
  /** Runs one Postgres-dialect statement with `$n` parameters; rows are in the `rpc/` value model. */
  query(sql: string, params?: SqlValue[]): Promise<ResultSet>;
}

/**
 * A committed unit of work (a statement, an atomic batch, a transaction) as capture hands it
 * over: its changes as values; or, on DO SQLite, whose triggers write straight into the log
 * (`changelog/log.ts`, the log shares the database: a change row and a header per row), only
 * the DDL it ran and the newest header LSN (`top`, if a statement changed rows), and the sink
 * seals what was captured since the last unit into the unit's record.
 */
export type CapturedUnit = { changes: Change[] } | { inPlace: { ddl: string[]; top?: number } };

/**
 * Receives each committed unit of work that changed something, in commit order. SQLite engines
 * call it inside the transaction, so what it writes to the same database commits or rolls back
 * with the data; PGlite calls it right after its commit, under the engine's lock. A sink that
 * throws inside the transaction aborts it.
 */
export type CaptureSink = (unit: CapturedUnit) => void;

export interface TableInfo {
  name: string;
  /** Primary-key columns in key order. */
  primaryKey: string[];
}

export interface BatchOptions {
  /** All statements in one transaction: any failure leaves nothing behind. */
  atomic?: boolean;
}

/**
 * A storage engine, the side that runs queries. Every implementation takes the same
 * Postgres-dialect SQL and returns the same values (the conformance suite in tests/conformance
 * holds them to it).
 */
export interface StorageEngine extends Executor {
  readonly kind: EngineKind;
  /** Like `query`, for statements run for their effect. */
  execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }>;
  /** Statements in order; with `atomic`, all or nothing. Without it, stops at the first failure. */
  batch(statements: Statement[], opts?: BatchOptions): Promise<ResultSet[]>;
  /**
   * An interactive transaction: commits when `fn` resolves, rolls back when it throws. A statement
   * that fails inside it aborts it: later statements are refused, as in Postgres.
   */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
  /** User tables (not the engine's own `_vt_` tables), with their primary keys. */
  tables(): Promise<TableInfo[]>;
  close(): Promise<void>;
}

/** The side a primary needs: every committed change handed over, and the prepare of two-phase commit. */
export interface CapturingEngine extends StorageEngine {
  /**
   * Installs change capture on every user table (and on each table created later; a table
   * without a primary key is then refused) and sends every committed change to `sink`.
   */
  enableCapture(sink: CaptureSink): Promise<void>;
  /**
   * The prepare step of two-phase commit: runs `fn` as a transaction, then rolls it back and
   * returns the changes it made, for the caller to keep durably and re-apply on commit.
   * Requires capture.
   */
  prepare(fn: (tx: Executor) => Promise<void>): Promise<Change[]>;
}

/** A bulk write of snapshot pages, on the engines that run in-process (a replica's copy). */
export interface PageLoader {
  /**
   * Upserts a snapshot page's rows into `table` in one transaction, returning how many it wrote: a
   * row whose primary key is already there overwrites it. Without it, the caller sends multi-row
   * upserts.
   */
  loadJson(table: string, primaryKey: string[], page: PageText): Promise<number>;
}

/** A bulk read of snapshot pages, on the engines that can encode rows without handing each value to JS. */
export interface PageReader {
  /**
   * The first rows of `table` in primary-key order (after `afterKey`, one value per key column),
   * at most `limit` and about `maxChars` of JSON text, built by the engine itself. Without it, the
   * caller queries.
   */
  pageJson(table: string, primaryKey: string[], afterKey: SqlValue[] | null, limit: number, maxChars: number): Promise<JsonPage>;
}

/** A page `pageJson` read. */
export interface JsonPage extends PageText {
  /** How many rows `json` holds. */
  count: number;
  /** How many rows it read up to: fewer (`count` < `limit`) means the table ended. */
  limit: number;
}
