// The shard's ordered change log, in the Durable Object's own SQLite: one record per committed
// transaction, LSNs gap-free from 1. For a DO-SQLite primary it shares the database (and the
// transaction) with the data; for PGlite it is what makes a commit durable.
//
// A record's changes are stored one of two ways. Appended from JS (PGlite, two-phase commits),
// they are inline, as one JSON text. Captured in place (DO SQLite), the triggers already wrote
// each change as a row of _vt_log_changes during the transaction, each followed by a header row
// at the next LSN holding that row's seq (ROW_HEADER_SQL): a record's changes are the rows after
// the previous record's. A unit that changed one row is then sealed already; `seal` merges the
// headers of a larger unit into one. A commit costs the user's statement alone (its trigger
// does the rest inside SQLite), and nothing is decoded until someone reads the record.
// An appended record too large for one stored value (2 MB deployed) is kept in parts instead.
import { isDdl, type Change, type LogRecord } from '../rpc/changes.js';
import type { InPlaceLog } from '../engines/do-sqlite.js';
import type { CapturedUnit } from '../engines/engine.js';
import { VitessError } from '../rpc/errors.js';
import { decodeChanges, encodeChanges } from '../rpc/change-codec.js';

export interface PullOptions {
  maxRecords?: number;
  /** Stop before a page grows past this many bytes of encoded changes (at least one record is returned). */
  maxBytes?: number;
}

export interface PullResult {
  records: LogRecord[];
  /** The newest LSN in the log when pulled. */
  lastLsn: number;
}

export interface TrimPolicy {
  /** Keep at least the newest this many records, whatever listeners acknowledged. */
  keepRecords: number;
  /** Keep records younger than this, whatever listeners acknowledged. */
  keepMs: number;
  /** Never keep more than this many records: a listener further behind must re-bootstrap. */
  maxRecords: number;
}

export const DEFAULT_TRIM: TrimPolicy = { keepRecords: 1000, keepMs: 10 * 60_000, maxRecords: 100_000 };

/** Every schema change committed so far, in order: how a new replica builds its schema. */
export interface DdlHistory {
  /** The shard's LSN the history is current at. */
  lsn: number;
  /** Postgres-dialect DDL statements, oldest first. */
  statements: string[];
  /** False when the log was trimmed before the history was kept (a log older than it). */
  complete: boolean;
}

export interface Listener {
  id: string;
  ackedLsn: number;
}

/** Where a SQLite engine capturing in place has its triggers write (seq, change): see `seal`. */
export const LOG_CHANGES_TABLE = '_vt_log_changes';

/**
 * What a trigger capturing in place runs after writing its change row: a header for that row
 * alone, at the next LSN (after a trim that emptied the log, the one trim noted), with the time
 * and a random txid. The JS per commit is then one statement less: `seal` has nothing to do for
 * a unit that changed one row, and merges the headers of a larger one.
 */
export const ROW_HEADER_SQL = `INSERT INTO _vt_log (lsn, ts, txid, last_seq) VALUES (
  coalesce((SELECT max(lsn) FROM _vt_log), (SELECT CAST(value AS INTEGER) FROM _vt_meta WHERE key = 'last_lsn'), 0) + 1,
  CAST(unixepoch('subsec') * 1000 AS INTEGER), lower(hex(randomblob(16))), last_insert_rowid())`;

/**
 * The most UTF-8 bytes of changes one stored value holds here, under DO SQLite's 2 MB per value:
 * an appended record past it goes to _vt_log_parts in pieces, its header's `changes` ''.
 */
export const LOG_VALUE_BYTES = 1024 * 1024;

/** The newest header's LSN, as a scalar subquery: what the triggers got to (`CapturedUnit`'s `top`). */
export const TOP_LSN_SQL = `(SELECT max(lsn) FROM _vt_log)`;

/** What a DO SQLite engine capturing in place writes into (`new DoSqliteEngine(storage, IN_PLACE_LOG)`). */
export const IN_PLACE_LOG: InPlaceLog = { changesTable: LOG_CHANGES_TABLE, rowHeaderSql: ROW_HEADER_SQL, topLsnSql: TOP_LSN_SQL };

const SCHEMA = [
  // `changes` inline; or NULL, the record's changes being the rows of _vt_log_changes after the
  // previous in-place record's last_seq (or the trim point's, see `sealedBefore`) up to its own.
  `CREATE TABLE IF NOT EXISTS _vt_log (lsn INTEGER PRIMARY KEY, ts INTEGER NOT NULL, txid TEXT NOT NULL, changes TEXT, last_seq INTEGER)`,
  // No AUTOINCREMENT (a write to sqlite_sequence per change): trim keeps the newest row, so seq never goes back.
  `CREATE TABLE IF NOT EXISTS ${LOG_CHANGES_TABLE} (seq INTEGER PRIMARY KEY, change TEXT NOT NULL)`,
  // No index on txid: it would cost every commit a write at a random place, for the one lookup
  // by txid (hasTxid: a 2PC decision asked again), which can scan the retained log.
  `DROP INDEX IF EXISTS _vt_log_txid`,
  `CREATE TABLE IF NOT EXISTS _vt_log_parts (lsn INTEGER NOT NULL, part INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (lsn, part))`,
  `CREATE TABLE IF NOT EXISTS _vt_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS _vt_listeners (id TEXT PRIMARY KEY, acked_lsn INTEGER NOT NULL, updated INTEGER NOT NULL)`,
  // DDL is kept apart from the log and never trimmed, so a replica can build the schema any time.
  `CREATE TABLE IF NOT EXISTS _vt_ddl (lsn INTEGER NOT NULL, seq INTEGER NOT NULL, ddl TEXT NOT NULL, PRIMARY KEY (lsn, seq))`,
];

/**
 * Records from ?1 on (at most ?2) with their changes: an inline record as one row with its JSON
 * array text, an in-place record as one row per change row, in seq order (a join: it measured
 * faster than putting each record's text together with group_concat). The record before ?1 is
 * read too, for the seq its changes start after; ?3 stands in when it was trimmed (or was
 * inline: a log that began inline, before in-place capture, has no in-place rows then). ?4 is
 * the last sealed LSN: headers a transaction still open wrote are not records yet.
 */
const PULL_SQL = `WITH h AS (
    SELECT lsn, ts, txid, changes, last_seq, lag(last_seq) OVER (ORDER BY lsn) AS prev
    FROM _vt_log WHERE lsn >= ?1 - 1 AND lsn <= ?4 ORDER BY lsn LIMIT ?2 + 1)
  SELECT h.lsn, h.ts, h.txid, h.changes, c.change FROM h
  LEFT JOIN ${LOG_CHANGES_TABLE} c ON h.changes IS NULL AND c.seq > coalesce(h.prev, ?3) AND c.seq <= h.last_seq
  WHERE h.lsn >= ?1 ORDER BY h.lsn, c.seq`;

/** A log written before changes could be captured in place: `changes` was NOT NULL. */
const MIGRATE_V1 = [
  `ALTER TABLE _vt_log RENAME TO _vt_log_v1`,
  SCHEMA[0]!,
  `INSERT INTO _vt_log (lsn, ts, txid, changes) SELECT lsn, ts, txid, changes FROM _vt_log_v1`,
  `DROP TABLE _vt_log_v1`,
];

const ddlOf = (changes: Change[]): string[] => changes.filter(isDdl).map((c) => c.ddl);

export class ChangeLog {
  private last: number;
  private first: number;
  /** The newest change row of the records trimmed so far (trim keeps it in `_vt_meta`). */
  private trimmedSeq: number;
  /** The record appended last, as values: pushing it to listeners needs no read. */
  private recent: LogRecord | undefined;

  constructor(private readonly sql: SqlStorage) {
    const columns = [...sql.exec(`SELECT name FROM pragma_table_info('_vt_log')`)].map((r) => r.name);
    if (columns.length && !columns.includes('last_seq')) for (const s of MIGRATE_V1) sql.exec(s);
    for (const s of SCHEMA) sql.exec(s);
    this.last = this.storedLast();
    // After a trim the log may be empty; the first LSN still available is one past the trim point.
    this.first = Number(this.meta('first_lsn') ?? 1);
    this.trimmedSeq = Number(this.meta('trimmed_seq') ?? 0);
    if (this.meta('ddl_history') === undefined) {
      // A log written before the history was kept: rebuild it, unless records were trimmed.
      if (this.first === 1) {
        for (const r of this.sql.exec(`SELECT lsn, changes FROM _vt_log WHERE changes LIKE '%"ddl"%' ORDER BY lsn`))
          this.recordDdl(Number(r.lsn), ddlOf(decodeChanges(String(r.changes))));
      }
      this.setMeta('ddl_history', this.first === 1 ? 'complete' : 'partial');
    }
  }

  private recordDdl(lsn: number, ddl: string[]): void {
    for (const [seq, statement] of ddl.entries()) this.sql.exec(`INSERT OR REPLACE INTO _vt_ddl (lsn, seq, ddl) VALUES (?, ?, ?)`, lsn, seq, statement);
  }

  /**
   * The newest change row held by a record before `lsn`: the newest in-place record's, or (all of
   * them trimmed) what trim noted. Rows after it up to the record's own last_seq are its changes.
   */
  private sealedBefore(lsn: number): number {
    const [prev] = [...this.sql.exec(`SELECT last_seq FROM _vt_log WHERE lsn < ? AND last_seq IS NOT NULL ORDER BY lsn DESC LIMIT 1`, lsn).raw()];
    return Number(prev?.[0] ?? this.trimmedSeq);
  }

  /**
   * The newest LSN: the log's last record, or (when trimming emptied the log) what trim noted.
   * Appends write no meta row: one statement less per commit.
   */
  private storedLast(): number {
    const max = Number([...this.sql.exec(`SELECT coalesce(max(lsn), 0) AS lsn FROM _vt_log`)][0]!.lsn);
    return Math.max(max, Number(this.meta('last_lsn') ?? 0));
  }

  private meta(key: string): string | undefined {
    const rows = [...this.sql.exec(`SELECT value FROM _vt_meta WHERE key = ?`, key)];
    return rows[0]?.value as string | undefined;
  }

  private setMeta(key: string, value: string | number): void {
    this.sql.exec(`INSERT INTO _vt_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, String(value));
  }

  get lastLsn(): number {
    return this.last;
  }

  /** Oldest LSN a pull can still start from. */
  get firstLsn(): number {
    return this.first;
  }

  /**
   * Appends one committed transaction. Synchronous, so inside a DO SQLite transaction it commits
   * or rolls back with the data it describes; the in-memory LSN follows only once that is known,
   * so callers roll it back with `reload()` when the surrounding transaction fails.
   */
  append(changes: Change[], txid: string, ts = Date.now()): LogRecord {
    const lsn = this.last + 1;
    const text = encodeChanges(changes);
    // Parts first, header last: a failure midway leaves no record (parts without their header are never read).
    const bytes = text.length * 3 > LOG_VALUE_BYTES ? new TextEncoder().encode(text) : undefined;
    const inParts = bytes !== undefined && bytes.byteLength > LOG_VALUE_BYTES;
    if (inParts) {
      this.sql.exec(`DELETE FROM _vt_log_parts WHERE lsn >= ?`, lsn);
      for (let i = 0; i < bytes.byteLength; i += LOG_VALUE_BYTES) {
        this.sql.exec(`INSERT INTO _vt_log_parts (lsn, part, bytes) VALUES (?, ?, ?)`, lsn, i / LOG_VALUE_BYTES, bytes.slice(i, i + LOG_VALUE_BYTES).buffer);
      }
    }
    this.sql.exec(`INSERT INTO _vt_log (lsn, ts, txid, changes) VALUES (?, ?, ?, ?)`, lsn, ts, txid, inParts ? '' : text);
    this.recordDdl(lsn, ddlOf(changes));
    this.last = lsn;
    this.recent = { lsn, ts, txid, changes };
    return this.recent;
  }

  /**
   * Closes a unit whose changes triggers wrote into LOG_CHANGES_TABLE, each row with a header
   * (ROW_HEADER_SQL) up to `top`: one header already is the record, unless the unit has a txid or
   * DDL to add; several are merged into the first; none (DDL alone) get one. Call it only for a
   * unit that changed a row or the schema, synchronously and in the unit's transaction, like
   * `append`. Rows a unit left unsealed (its seal failed) are taken by the next.
   */
  seal(txid: string | undefined, ddl: string[], top = 0, ts = Date.now()): number {
    const lsn = this.last + 1;
    if (top < lsn) {
      this.sql.exec(
        `INSERT INTO _vt_log (lsn, ts, txid, last_seq) VALUES (?, ?, ?, (SELECT max(seq) FROM ${LOG_CHANGES_TABLE}))`,
        lsn,
        ts,
        txid ?? crypto.randomUUID(),
      );
    } else if (top > lsn || ddl.length || txid !== undefined) {
      if (top > lsn) this.sql.exec(`DELETE FROM _vt_log WHERE lsn > ?`, lsn);
      this.sql.exec(`UPDATE _vt_log SET last_seq = (SELECT max(seq) FROM ${LOG_CHANGES_TABLE}), txid = coalesce(?, txid) WHERE lsn = ?`, txid ?? null, lsn);
    }
    this.recordDdl(lsn, ddl);
    this.last = lsn;
    this.recent = undefined;
    return lsn;
  }

  /**
   * Records a committed unit as capture handed it over (appended, or sealed in place); its LSN,
   * if it changed anything. Without a txid (a statement or batch on its own) it gets a random one.
   */
  record(unit: CapturedUnit, txid?: string): number | undefined {
    if ('changes' in unit) return unit.changes.length ? this.append(unit.changes, txid ?? crypto.randomUUID()).lsn : undefined;
    return this.seal(txid, unit.inPlace.ddl, unit.inPlace.top);
  }

  /** The changes captured in place by the unit committing now (not sealed yet): what a prepare keeps. */
  unsealed(): Change[] {
    const rows = [...this.sql.exec(`SELECT change FROM ${LOG_CHANGES_TABLE} WHERE seq > ? ORDER BY seq`, this.sealedBefore(this.last + 1)).raw()];
    return decodeChanges(`[${rows.map((r) => String(r[0])).join(',')}]`);
  }

  /** Re-reads the LSNs from storage (after a rolled-back transaction that appended or sealed). */
  reload(): void {
    this.last = this.storedLast();
    this.first = Number(this.meta('first_lsn') ?? 1);
    this.trimmedSeq = Number(this.meta('trimmed_seq') ?? 0);
    this.recent = undefined;
  }

  /** Whether a transaction with this id is in the (retained) log: a decided 2PC commit. A scan (rare: a decision asked again). */
  hasTxid(txid: string): boolean {
    return [...this.sql.exec(`SELECT 1 FROM _vt_log WHERE txid = ? LIMIT 1`, txid)].length > 0;
  }

  /** Records with `lsn >= fromLsn`, oldest first, bounded by count and bytes. */
  pull(fromLsn: number, opts: PullOptions = {}): PullResult {
    if (fromLsn < this.first) {
      throw new VitessError('NOT_FOUND', `LSN ${fromLsn} is below the log's trim point (${this.first}); re-bootstrap from a snapshot`, {
        limit: 'log retention',
      });
    }
    const maxRecords = Math.max(1, opts.maxRecords ?? 1000);
    const maxBytes = opts.maxBytes ?? 1024 * 1024;
    if (fromLsn === this.last && this.recent?.lsn === fromLsn) return { records: [this.recent], lastLsn: this.last };
    const records: LogRecord[] = [];
    let bytes = 0;
    type Reading = { lsn: number; ts: number; txid: string; inline: string | null; parts: string[] };
    /** Adds a record read in full; false when it would take the page past maxBytes. */
    const add = (r: Reading): boolean => {
      const text = r.inline === '' ? this.partsText(r.lsn) : (r.inline ?? `[${r.parts.join(',')}]`);
      if (records.length && bytes + text.length > maxBytes) return false;
      bytes += text.length;
      records.push({ lsn: r.lsn, ts: r.ts, txid: r.txid, changes: decodeChanges(text) });
      return true;
    };
    let reading: Reading | undefined;
    for (const [lsn, ts, txid, inline, change] of this.sql.exec(PULL_SQL, fromLsn, maxRecords, this.trimmedSeq, this.last).raw()) {
      if (!reading || reading.lsn !== lsn) {
        if (reading && !add(reading)) return { records, lastLsn: this.last };
        reading = { lsn: Number(lsn), ts: Number(ts), txid: String(txid), inline: inline as string | null, parts: [] };
      }
      if (change !== null) reading.parts.push(String(change));
    }
    if (reading) add(reading);
    return { records, lastLsn: this.last };
  }

  /** The changes text of a record kept in parts (see LOG_VALUE_BYTES). */
  private partsText(lsn: number): string {
    const parts = [...this.sql.exec(`SELECT bytes FROM _vt_log_parts WHERE lsn = ? ORDER BY part`, lsn).raw()].map((r) => new Uint8Array(r[0] as ArrayBuffer));
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    return new TextDecoder().decode(bytes);
  }

  /** The DDL history with the LSN it is current at (read in one synchronous step: consistent). */
  ddlHistory(): DdlHistory {
    const statements = [...this.sql.exec(`SELECT ddl FROM _vt_ddl ORDER BY lsn, seq`)].map((r) => String(r.ddl));
    return { lsn: this.last, statements, complete: this.meta('ddl_history') !== 'partial' };
  }

  register(id: string, fromLsn = this.last): void {
    this.sql.exec(`INSERT INTO _vt_listeners (id, acked_lsn, updated) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, id, fromLsn, Date.now());
  }

  ack(id: string, lsn: number): void {
    this.sql.exec(`UPDATE _vt_listeners SET acked_lsn = max(acked_lsn, ?), updated = ? WHERE id = ?`, lsn, Date.now(), id);
  }

  unregister(id: string): void {
    this.sql.exec(`DELETE FROM _vt_listeners WHERE id = ?`, id);
  }

  listeners(): Listener[] {
    return [...this.sql.exec(`SELECT id, acked_lsn FROM _vt_listeners ORDER BY id`)].map((r) => ({ id: String(r.id), ackedLsn: Number(r.acked_lsn) }));
  }

  /**
   * Deletes records no one needs: below every listener's acknowledgement and outside the
   * retention window, and in any case beyond `maxRecords`. Returns the new first LSN.
   */
  trim(policy: TrimPolicy = DEFAULT_TRIM, now = Date.now()): number {
    const acked = this.listeners().reduce((m, l) => Math.min(m, l.ackedLsn + 1), this.last + 1);
    const byCount = this.last - policy.keepRecords + 1;
    const byAge = Number([...this.sql.exec(`SELECT coalesce(min(lsn), ?) AS lsn FROM _vt_log WHERE ts >= ?`, this.last + 1, now - policy.keepMs)][0]!.lsn);
    const hardFloor = this.last - policy.maxRecords + 1;
    const keepFrom = Math.max(hardFloor, Math.min(acked, byCount, byAge));
    if (keepFrom <= this.first) return this.first;
    // The records' change rows go with them, except the newest row of all: seq must never go back.
    const upTo = this.sealedBefore(keepFrom);
    const newest = Number(this.sql.exec(`SELECT coalesce(max(seq), 0) AS seq FROM ${LOG_CHANGES_TABLE}`).one().seq);
    this.sql.exec(`DELETE FROM ${LOG_CHANGES_TABLE} WHERE seq <= ?`, Math.min(upTo, newest - 1));
    this.sql.exec(`DELETE FROM _vt_log WHERE lsn < ?`, keepFrom);
    this.sql.exec(`DELETE FROM _vt_log_parts WHERE lsn < ?`, keepFrom);
    this.setMeta('trimmed_seq', upTo);
    this.trimmedSeq = upTo;
    this.setMeta('first_lsn', keepFrom);
    this.setMeta('last_lsn', this.last);
    this.first = keepFrom;
    return keepFrom;
  }
}
