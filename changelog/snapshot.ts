// Snapshot pages: a table's rows in primary-key order, a page at a time, resumable from the
// last key. A consumer reads every page, then applies the log from the LSN of its first page:
// the log carries full row images, so rows changed while it paged converge (as in Vitess's
// VReplication copy phase). A DDL record in between means: start the snapshot again.
import type { JsonPage, PageReader, StorageEngine } from '../engines/engine.js';
import { VitessError } from '../rpc/errors.js';
import { consistentHashId, hashId } from '../rpc/keyspace/hash.js';
import { inRange, parseKeyRange } from '../rpc/keyspace/keyrange.js';
import { filterRowsJson } from '../rpc/results.js';
import { toWire, type SqlValue } from '../rpc/values.js';
import { placeholders, quoteIdent } from '../engines/dialect/sql-text.js';

export interface SnapshotPage {
  table: string;
  /** The table's columns, in the order of each row's values. */
  columns: string[];
  /**
   * The rows as JSON text: an array of value arrays in the wire encoding (rpc/values.ts). A page
   * crosses the DO RPC, VTGate and the wire to a replica as this one string, which the engine
   * builds itself where it can (`PageReader.pageJson`): no hop handles the rows one by one.
   */
  rowsJson: string;
  /** Key to pass as `afterKey` for the next page; null when this was the last page. */
  nextKey: SqlValue[] | null;
  /** The shard's LSN when the page was read. */
  lsn: number;
}

/**
 * How big a snapshot page gets: at most `rows` rows (`queriedRows` where the engine cannot build
 * the page's JSON itself), and where the engine builds it, about `chars` characters of JSON text —
 * a table of wide rows pages fewer rows at a time. A page crosses the DO RPC and VTGate whole, and
 * stays well under DO SQLite's 2 MB for one string.
 */
export const PAGE_LIMITS = { rows: 50_000, queriedRows: 5_000, chars: 1_000_000 } as const;

/** Keep only rows whose keyspace id (by `vindex` of `column`) falls in `range` (e.g. `40-80`). */
export interface KeyRangeFilter {
  column: string;
  vindex: 'hash' | 'consistent_hash';
  range: string;
}

/**
 * One page of `table`. With a key-range filter the page holds only the rows in the range (maybe
 * none), while `nextKey` still advances over every row read, so paging ends as it would without.
 */
export async function snapshotPage(
  db: StorageEngine & Partial<PageReader>,
  table: string,
  afterKey: SqlValue[] | null,
  limit: number,
  filter?: KeyRangeFilter,
): Promise<Omit<SnapshotPage, 'lsn'>> {
  const bad = filter && parseKeyRange(filter.range);
  if (typeof bad === 'string') throw new VitessError('INVALID', bad);
  const info = (await db.tables()).find((t) => t.name === table);
  if (!info) throw new VitessError('NOT_FOUND', `table "${table}" does not exist`, { table });
  const pk = info.primaryKey;
  if (afterKey && afterKey.length !== pk.length) {
    throw new VitessError(
      'INVALID',
      `afterKey has ${afterKey.length} values, but the primary key of table "${table}" has ${pk.length} columns (${pk.join(', ')})`,
      { table },
    );
  }
  const n = Math.max(1, Math.min(limit, PAGE_LIMITS.rows));
  const { nextKey, ...page } = readsPages(db)
    ? await jsonPage(db, table, pk, afterKey, n)
    : await queryPage(db, table, pk, afterKey, Math.min(n, PAGE_LIMITS.queriedRows));
  if (!filter) return { table, columns: page.columns, rowsJson: page.json, nextKey };
  const at = page.columns.indexOf(filter.column);
  if (at < 0) throw new VitessError('NOT_FOUND', `column "${filter.column}" does not exist in table "${table}"`, { table, columns: [filter.column] });
  const idOf = filter.vindex === 'consistent_hash' ? consistentHashId : hashId;
  const kept = filterRowsJson(page.json, at, (v) => {
    const id = idOf(v);
    return id !== undefined && inRange(id, filter.range);
  });
  return { table, columns: page.columns, rowsJson: kept, nextKey };
}

const keyList = (pk: string[]): string => pk.map(quoteIdent).join(', ');
const afterClause = (pk: string[], afterKey: SqlValue[] | null): string => (afterKey ? `WHERE (${keyList(pk)}) > (${placeholders(pk.length)})` : '');

const readsPages = (db: StorageEngine & Partial<PageReader>): db is StorageEngine & PageReader => db.pageJson !== undefined;

type ReadPage = JsonPage & { nextKey: SqlValue[] | null };

/** A page the engine encodes; a full page's last key is read by a second, index-only query. */
async function jsonPage(db: StorageEngine & PageReader, table: string, pk: string[], afterKey: SqlValue[] | null, n: number): Promise<ReadPage> {
  const page = await db.pageJson(table, pk, afterKey, n, PAGE_LIMITS.chars);
  if (page.count < page.limit) return { ...page, nextKey: null };
  const {
    rows: [last],
  } = await db.query(
    `SELECT ${keyList(pk)} FROM ${quoteIdent(table)} ${afterClause(pk, afterKey)} ORDER BY ${keyList(pk)} LIMIT 1 OFFSET ${page.count - 1}`,
    afterKey ?? [],
  );
  return { ...page, nextKey: pk.map((k) => last![k] ?? null) };
}

/** A page through the engine's SQL, for engines without `pageJson` (its rows pass through JS: fewer to a page). */
async function queryPage(db: StorageEngine, table: string, pk: string[], afterKey: SqlValue[] | null, n: number): Promise<ReadPage> {
  // json columns are read as their text: decoded, a JSON null would read back as SQL NULL does.
  const { fields } = await db.query(`SELECT * FROM ${quoteIdent(table)} LIMIT 0`);
  const isJson = fields.map((f) => f.type === 'json' || f.type === 'jsonb');
  const list = fields.map((f, i) => (isJson[i] ? `${quoteIdent(f.name)}::text AS ${quoteIdent(f.name)}` : quoteIdent(f.name))).join(', ');
  const result = await db.query(`SELECT ${list} FROM ${quoteIdent(table)} ${afterClause(pk, afterKey)} ORDER BY ${keyList(pk)} LIMIT ${n}`, afterKey ?? []);
  const columns = fields.map((f) => f.name);
  const last = result.rows.length === n ? result.rows.at(-1) : undefined;
  // A json column's values carry their tag even as scalars (a JSON string is not a text value).
  const values = result.rows.map((r) =>
    columns.map((c, i) => {
      const v = r[c] ?? null;
      return isJson[i] && v !== null ? { $json: JSON.parse(String(v)) as unknown } : toWire(v);
    }),
  );
  return {
    columns,
    json: JSON.stringify(values),
    count: result.rows.length,
    limit: n,
    nextKey: last ? pk.map((k) => last[k] ?? null) : null,
  };
}
