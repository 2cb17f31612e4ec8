/**
 * The tablet's layout fence: the newest shard-layout version of its keyspace it was told
 * (VTTablet.fenceLayout, sent by the keyspace's layout keeper on each change), kept in its DO
 * SQLite. A request VTGate stamped with an older version was routed by a layout that may no
 * longer hold: it is refused before anything runs (docs/resharding.md, "Topology as state").
 * Requests without a stamp (tests, operators, the coordinator) are not fenced.
 */
import { STALE_LAYOUT, VitessError } from '../rpc/errors.js';

export class LayoutFence {
  #version: number;

  constructor(private readonly sql: SqlStorage) {
    sql.exec('CREATE TABLE IF NOT EXISTS _vt_layout_fence (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)');
    const [row] = [...sql.exec('SELECT version FROM _vt_layout_fence')];
    this.#version = row ? Number(row.version) : 0;
  }

  /** The newest version told, 0 if none. */
  get version(): number {
    return this.#version;
  }

  /** Raises the fence to `version` (never lowers it); returns the fence. */
  raise(version: number): number {
    if (!Number.isInteger(version) || version < 1) throw new VitessError('INVALID', `a layout version is a positive integer, not ${version}`);
    if (version > this.#version) {
      this.sql.exec('INSERT OR REPLACE INTO _vt_layout_fence (id, version) VALUES (1, ?)', version);
      this.#version = version;
    }
    return this.#version;
  }

  /** Throws the stale-layout refusal when `stamped` is older than the fence. */
  check(stamped: number | undefined): void {
    if (stamped === undefined || stamped >= this.#version) return;
    throw new VitessError(
      'UNAVAILABLE',
      `this request was routed by shard layout version ${stamped}, and this shard's keyspace is at version ${this.#version}: nothing was run; read the layout again and retry`,
      { construct: STALE_LAYOUT, layoutVersion: this.#version },
    );
  }
}
