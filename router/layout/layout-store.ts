/**
 * The keeper's side of shard layouts (router/layout/layout.ts): one record per keyspace in the
 * DO SQLite of the VTCoordinator instance `topology/<keyspace>` (router/txn/coordinator-do.ts).
 */
import { nextLayout, reconcile, type ShardLayout, type StoredLayout } from './layout.js';

export class LayoutStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec('CREATE TABLE IF NOT EXISTS _vt_layout (keyspace TEXT PRIMARY KEY, record TEXT NOT NULL)');
  }

  private get(keyspace: string): StoredLayout | undefined {
    const [row] = [...this.sql.exec('SELECT record FROM _vt_layout WHERE keyspace = ?', keyspace)];
    return row ? (JSON.parse(String(row.record)) as StoredLayout) : undefined;
  }

  private put(stored: StoredLayout): ShardLayout {
    this.sql.exec('INSERT OR REPLACE INTO _vt_layout (keyspace, record) VALUES (?, ?)', stored.layout.keyspace, JSON.stringify(stored));
    return stored.layout;
  }

  /** The keyspace's layout; `seed`: the VSCHEMA's shards now (seeds it, or replaces it when edited). */
  read(keyspace: string, seed: readonly string[]): ShardLayout {
    const stored = this.get(keyspace);
    const now = reconcile(stored, keyspace, seed);
    return now === stored ? now.layout : this.put(now);
  }

  /** The stored layout, and the one `read` would store now (a new version when the VSCHEMA was edited). */
  peek(keyspace: string, seed: readonly string[]): { stored: ShardLayout | undefined; now: ShardLayout } {
    const stored = this.get(keyspace);
    return { stored: stored?.layout, now: reconcile(stored, keyspace, seed).layout };
  }

  /** The next version: the same shards, or `shards`. */
  bump(keyspace: string, seed: readonly string[], shards?: readonly string[]): ShardLayout {
    const { layout } = reconcile(this.get(keyspace), keyspace, seed);
    return this.put({ layout: nextLayout(layout, shards), seed: [...seed] });
  }
}
