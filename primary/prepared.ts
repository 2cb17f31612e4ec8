// Two-phase commit, participant side: a prepared transaction is its captured changes, kept
// durably until the coordinator decides. Commit re-applies them; rollback forgets them.
// A committed one is remembered for COMMITTED_RETENTION_MS, apart from the (trimmable) log, so
// that a decision asked again is answered `committed`, and NOT_FOUND means never prepared here.
import { decodeChanges, encodeChanges } from '../rpc/change-codec.js';
import type { Change } from '../rpc/changes.js';

/**
 * How long a tablet remembers a two-phase transaction it committed: a coordinator resends an
 * unacknowledged decision every second, so this only has to outlast a coordinator (or the
 * network to it) being down. Each commit costs a row of ~100 bytes for that long.
 */
export const COMMITTED_RETENTION_MS = 2 * 24 * 60 * 60_000;

export class PreparedStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS _vt_prepared (txid TEXT PRIMARY KEY, changes TEXT NOT NULL, prepared_at INTEGER NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS _vt_2pc_done (txid TEXT PRIMARY KEY, lsn INTEGER NOT NULL, at INTEGER NOT NULL)`);
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

  /** `txid` committed at `lsn`: no longer prepared, remembered instead. Call it in the storage transaction of its log record. */
  commit(txid: string, lsn: number): void {
    this.delete(txid);
    this.sql.exec(`INSERT OR REPLACE INTO _vt_2pc_done (txid, lsn, at) VALUES (?, ?, ?)`, txid, lsn, Date.now());
  }

  /** The LSN `txid` committed at, if it committed here within the retention. */
  committedAt(txid: string): number | undefined {
    const [r] = [...this.sql.exec(`SELECT lsn FROM _vt_2pc_done WHERE txid = ?`, txid)];
    return r ? Number(r.lsn) : undefined;
  }

  /** Forgets commits older than the retention. Rows go in in time order: the scan stops at the first one kept. */
  trimCommitted(now = Date.now()): void {
    this.sql.exec(
      `DELETE FROM _vt_2pc_done WHERE rowid < coalesce((SELECT rowid FROM _vt_2pc_done WHERE at >= ? ORDER BY rowid LIMIT 1), (SELECT max(rowid) + 1 FROM _vt_2pc_done))`,
      now - COMMITTED_RETENTION_MS,
    );
  }

  list(): { txid: string; preparedAt: number }[] {
    return [...this.sql.exec(`SELECT txid, prepared_at FROM _vt_prepared ORDER BY prepared_at`)].map((r) => ({
      txid: String(r.txid),
      preparedAt: Number(r.prepared_at),
    }));
  }
}
