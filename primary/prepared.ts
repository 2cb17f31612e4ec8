// Two-phase commit, participant side: a prepared transaction is its captured changes, kept
// durably until the coordinator decides. Commit re-applies them; rollback forgets them.
import { decodeChanges, encodeChanges } from '../changelog/codec.js';
import type { Change } from '../rpc/changes.js';

export class PreparedStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS _vt_prepared (txid TEXT PRIMARY KEY, changes TEXT NOT NULL, prepared_at INTEGER NOT NULL)`);
  }

  put(txid: string, changes: Change[]): void {
    this.sql.exec(`INSERT INTO _vt_prepared (txid, changes, prepared_at) VALUES (?, ?, ?)`, txid, encodeChanges(changes), Date.now());
  }

  get(txid: string): Change[] | undefined {
    const [r] = [...this.sql.exec(`SELECT changes FROM _vt_prepared WHERE txid = ?`, txid)];
    return r ? decodeChanges(String(r.changes)) : undefined;
  }

  has(txid: string): boolean {
    return [...this.sql.exec(`SELECT 1 FROM _vt_prepared WHERE txid = ?`, txid)].length > 0;
  }

  delete(txid: string): void {
    this.sql.exec(`DELETE FROM _vt_prepared WHERE txid = ?`, txid);
  }

  list(): { txid: string; preparedAt: number }[] {
    return [...this.sql.exec(`SELECT txid, prepared_at FROM _vt_prepared ORDER BY prepared_at`)].map((r) => ({ txid: String(r.txid), preparedAt: Number(r.prepared_at) }));
  }
}
