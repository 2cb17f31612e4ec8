/**
 * A shard's state two ways, for crash tests: replayed from its change log (`GET /log`, every
 * record from LSN 1), and read from its tables as they are (`snapshot` pages, exactly the
 * shard's state at one LSN). After a crash and restart the two must agree row for row; the log's
 * LSNs must run 1..n without a gap; and the DDL the log holds must be the shard's DDL history.
 */
import type { VitessClient } from '../../client/index.js';
import { authHeaders } from './auth.js';

/** A value as `/log` and snapshot pages carry it (rpc/values.ts `WireValue`). */
type Wire = unknown;
export type WireRow = Record<string, Wire>;

export type LogChange = { ddl: string } | { table: string; op: 'insert' | 'update' | 'delete'; key: WireRow; row?: WireRow };
export interface LogRecord {
  lsn: number;
  txid: string;
  changes: LogChange[];
}

/** Every record of one shard's log, from LSN 1 (nothing is trimmed in these tests). */
export async function readLog(url: string, keyspace: string, shard: string): Promise<{ records: LogRecord[]; lastLsn: number }> {
  const records: LogRecord[] = [];
  for (let from = 1; ; ) {
    const res = await fetch(`${url}/log?keyspace=${keyspace}&shard=${shard}&from=${from}&max=1000`, {
      headers: authHeaders(),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`GET /log ${keyspace}/${shard}: HTTP ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { records: LogRecord[]; lastLsn: number };
    records.push(...page.records);
    if (!page.records.length || records.at(-1)!.lsn >= page.lastLsn) return { records, lastLsn: page.lastLsn };
    from = records.at(-1)!.lsn + 1;
  }
}

/**
 * One value in a form both encodings agree on: integers as decimal text (a small int8 travels
 * as a number, a large one as `{ $int8 }`), everything else as its JSON.
 */
export function norm(v: Wire): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? `i${v}` : `f${v}`;
  if (typeof v === 'object' && typeof (v as { $int8?: unknown }).$int8 === 'string') return `i${(v as { $int8: string }).$int8}`;
  return JSON.stringify(v);
}

/** A row as comparable text over `columns` (a column the row lacks, e.g. added later, is NULL). */
export const canonRow = (row: WireRow, columns: string[]): string => columns.map((c) => `${c}=${norm(row[c])}`).join(' ');

const keyText = (key: WireRow): string =>
  Object.keys(key)
    .sort()
    .map((c) => `${c}=${norm(key[c])}`)
    .join(' ');

/** The tables a list of DDL statements leaves (CREATE / DROP TABLE), in creation order. */
export function tablesOf(ddl: string[]): string[] {
  const out: string[] = [];
  for (const d of ddl) {
    const create = /^\s*create\s+table\s+(?:if\s+not\s+exists\s+)?"?(\w+)"?/i.exec(d);
    if (create && !out.includes(create[1]!.toLowerCase())) out.push(create[1]!.toLowerCase());
    const drop = /^\s*drop\s+table\s+(?:if\s+exists\s+)?"?(\w+)"?/i.exec(d);
    const at = drop ? out.indexOf(drop[1]!.toLowerCase()) : -1;
    if (at >= 0) out.splice(at, 1);
  }
  return out;
}

export interface Replayed {
  /** Per table: primary key text → the row's last image. */
  tables: Map<string, Map<string, WireRow>>;
  /** The DDL statements of the log, in order. */
  ddl: string[];
}

/** The state a shard's log replays to. */
export function replay(records: LogRecord[]): Replayed {
  const tables = new Map<string, Map<string, WireRow>>();
  const ddl: string[] = [];
  for (const r of records) {
    for (const c of r.changes) {
      if ('ddl' in c) {
        ddl.push(c.ddl);
        continue;
      }
      const t = tables.get(c.table) ?? new Map<string, WireRow>();
      tables.set(c.table, t);
      if (c.op === 'delete') t.delete(keyText(c.key));
      else t.set(keyText(c.key), c.row!);
    }
  }
  return { tables, ddl };
}

/** A table on one shard as it is: its columns, its rows, and the shard's LSN they are the state at. */
export async function snapshotTable(c: VitessClient, shard: string, table: string): Promise<{ columns: string[]; rows: WireRow[]; lsn: number }> {
  const rows: WireRow[] = [];
  let columns: string[] = [];
  let lsn = -1;
  let afterKey: Parameters<VitessClient['snapshotText']>[0]['afterKey'] = null;
  do {
    const page = await c.snapshotText({ shard, table, afterKey, limit: 2_000 });
    if (lsn >= 0 && page.lsn !== lsn) throw new Error(`${shard} ${table}: pages at LSN ${lsn} and ${page.lsn}: the shard is being written`);
    ({ columns, lsn } = page);
    for (const values of JSON.parse(page.json) as Wire[][]) rows.push(Object.fromEntries(columns.map((col, i) => [col, values[i]])));
    afterKey = page.nextKey;
  } while (afterKey);
  return { columns, rows, lsn };
}
