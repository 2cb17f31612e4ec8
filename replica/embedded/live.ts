// `live(sql, params, cb)`: a local query re-run whenever the replica applies a change to a
// table it reads (or any schema change). Runs never overlap; changes that arrive during a run
// cause one more run after it, so the last call always sees the latest state.
import { tablesIn } from '../../engines/dialect/ast.js';
import { parseOne } from '../../engines/dialect/parse.js';
import type { ResultSet, Row } from '../../rpc/results.js';
import type { Applied } from './apply.js';

export type LiveCallback = (rows: Row[], result: ResultSet) => unknown;

export class LiveQuery {
  readonly tables: ReadonlySet<string>;
  #running = false;
  #again = false;
  #stopped = false;

  constructor(
    sql: string,
    private readonly run: () => Promise<ResultSet>,
    private readonly cb: LiveCallback,
    private readonly onError?: (e: unknown) => void,
  ) {
    this.tables = new Set(tablesIn(parseOne(sql).ast)); // a syntax error is the caller's, at once
  }

  /** Re-runs when `applied` touched a table this query reads. */
  changed(applied: Applied): void {
    if (applied.ddl || [...applied.tables].some((t) => this.tables.has(t))) this.refresh();
  }

  refresh(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void (async () => {
      do {
        this.#again = false;
        try {
          const r = await this.run();
          if (!this.#stopped) await this.cb(r.rows, r);
        } catch (e) {
          if (!this.#stopped) this.onError?.(e);
        }
      } while (this.#again && !this.#stopped);
      this.#running = false;
    })();
  }

  stop(): void {
    this.#stopped = true;
  }
}
