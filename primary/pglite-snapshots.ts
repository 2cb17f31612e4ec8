// A PGlite primary's data directory lives in memory. Durability is the change log in the DO's
// SQLite plus, periodically, the data directory itself (a tarball, chunked under the 2 MB row
// limit): a cold start loads the newest snapshot and replays the log after it.

const CHUNK = 1024 * 1024;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS _vt_pgsnap (seq INTEGER PRIMARY KEY, chunk BLOB NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS _vt_pgsnap_meta (id INTEGER PRIMARY KEY CHECK (id = 1), lsn INTEGER NOT NULL, bytes INTEGER NOT NULL, taken INTEGER NOT NULL)`,
];

export interface SnapshotInfo {
  lsn: number;
  bytes: number;
  taken: number;
}

export class PgliteSnapshots {
  constructor(private readonly storage: DurableObjectStorage) {
    for (const s of SCHEMA) storage.sql.exec(s);
  }

  latest(): SnapshotInfo | undefined {
    const [r] = [...this.storage.sql.exec(`SELECT lsn, bytes, taken FROM _vt_pgsnap_meta WHERE id = 1`)];
    return r ? { lsn: Number(r.lsn), bytes: Number(r.bytes), taken: Number(r.taken) } : undefined;
  }

  load(): Blob | undefined {
    if (!this.latest()) return undefined;
    const parts = [...this.storage.sql.exec(`SELECT chunk FROM _vt_pgsnap ORDER BY seq`)].map((r) => new Uint8Array(r.chunk as ArrayBuffer));
    return new Blob(parts);
  }

  /** Replaces the snapshot atomically: a crash midway leaves the previous one whole. */
  async save(data: Blob, lsn: number): Promise<SnapshotInfo> {
    const bytes = new Uint8Array(await data.arrayBuffer());
    const info = { lsn, bytes: bytes.byteLength, taken: Date.now() };
    this.storage.transactionSync(() => {
      this.storage.sql.exec(`DELETE FROM _vt_pgsnap`);
      for (let i = 0, seq = 0; i < bytes.byteLength; i += CHUNK, seq++) {
        this.storage.sql.exec(`INSERT INTO _vt_pgsnap (seq, chunk) VALUES (?, ?)`, seq, bytes.slice(i, i + CHUNK).buffer);
      }
      this.storage.sql.exec(
        `INSERT INTO _vt_pgsnap_meta (id, lsn, bytes, taken) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET lsn = excluded.lsn, bytes = excluded.bytes, taken = excluded.taken`,
        info.lsn,
        info.bytes,
        info.taken,
      );
    });
    return info;
  }
}
