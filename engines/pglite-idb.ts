/**
 * The PGlite engine of a browser replica kept in IndexedDB (`path: 'idb://name'`; docs/browser.md,
 * "Persistence"). After each unit of work that may write (a transaction, an atomic batch, a
 * statement other than a read, a bulk `loadJson`) it asks the filesystem for a snapshot, and does
 * not wait for it: the change is applied, and shown, while IndexedDB is written behind it. A
 * reload finds the state after some committed transaction, with the replica's rows and stream
 * positions from the same one.
 */
import { PGlite } from '@electric-sql/pglite';
import type { PageText, ResultSet, Statement } from '../rpc/results.js';
import { VitessError } from '../rpc/errors.js';
import type { SqlValue } from '../rpc/values.js';
import { isReadStatement } from './dialect/read-only.js';
import type { BatchOptions, Executor } from './engine.js';
import { SnapshotIdbFs } from './pglite-idb-fs.js';
import { PgliteEngine } from './pglite.js';

export class IdbPgliteEngine extends PgliteEngine {
  /** A snapshot that could not be written: later writes are refused (they would not be kept). */
  #failed: VitessError | undefined;

  constructor(
    pg: PGlite,
    private readonly files: SnapshotIdbFs,
    private readonly where: string,
  ) {
    super(pg);
  }

  override query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    return isReadStatement(sql) ? super.query(sql, params) : this.#write(() => super.query(sql, params));
  }

  override batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    // Without `atomic` each statement goes through query().
    return opts.atomic ? this.#write(() => super.batch(statements, opts)) : super.batch(statements, opts);
  }

  override transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.#write(() => super.transaction(fn));
  }

  override loadJson(table: string, primaryKey: string[], page: PageText): Promise<number> {
    return this.#write(() => super.loadJson(table, primaryKey, page));
  }

  async #write<T>(run: () => Promise<T>): Promise<T> {
    if (this.#failed) throw this.#failed;
    try {
      return await run();
    } finally {
      this.files.flush().catch((e: unknown) => {
        this.#failed ??= new VitessError('INTERNAL', `could not save ${this.where} to IndexedDB: ${e instanceof Error ? e.message : String(e)}`);
      });
    }
  }
}

/** PGlite in the IndexedDB database `name`, created on first use. */
export async function openIdbPglite(name: string): Promise<IdbPgliteEngine> {
  const files = new SnapshotIdbFs(name);
  // 1 MiB WAL segments instead of 16: the segment being written is copied whole by each snapshot.
  // Only initdb reads this: a database made with 16 MiB segments keeps them.
  const pg = await PGlite.create({ fs: files, initDbStartParams: ['--wal-segsize=1'] });
  try {
    await files.flush(); // a new database's files, and what start-up changed
  } catch (e) {
    await pg.close().catch(() => undefined);
    throw e;
  }
  return new IdbPgliteEngine(pg, files, `idb://${name}`);
}
