/**
 * Every shard's rows of a table in one local table, while each shard's log is ordered only on its
 * own. A row whose vindex column is not in its primary key moves between shards as a delete on
 * one and an insert on the other, which may arrive here in either order: for a while two shards
 * hold the key. The table shows the version of the shard whose insert came first; another shard's
 * version waits in `_vt_row_parked`, following that shard's changes. A shard's delete removes only
 * its own version, and when the shown one goes, a parked one takes its place. So once a key is on
 * one shard again, the table holds that shard's row, in any interleaving of the shards' records
 * (tests/unit/embedded-merge.test.ts).
 *
 * Nothing is recorded for a key only one shard holds: a shard's insert finds its key free (a log
 * never inserts a key its shard has), so its later updates and deletes meet its own version. Only
 * an insert that finds the key taken parks, so while nothing moves this costs no statement.
 */
import { boundRow, changeStatements } from '../../changelog/apply.js';
import { insertValues, quoteIdent } from '../../engines/dialect/sql-text.js';
import type { Executor } from '../../engines/engine.js';
import { changesFromWire, changesToWire, type RowChange } from '../../rpc/changes.js';
import type { Row, Statement } from '../../rpc/results.js';
import { toWire } from '../../rpc/values.js';

export const PARKED_SETUP =
  'CREATE TABLE IF NOT EXISTS _vt_row_parked (tbl TEXT NOT NULL, pk TEXT NOT NULL, shard TEXT NOT NULL, change TEXT NOT NULL, PRIMARY KEY (tbl, pk, shard))';

/** After a copy's wipe (which keeps the engine's own tables on SQLite). */
export const clearParked = (tx: Executor) => tx.query('DELETE FROM _vt_row_parked');
/** A dropped table's parked rows go with it; a renamed table's follow it. */
export const forgetParked = (table: string): Statement => ({ sql: 'DELETE FROM _vt_row_parked WHERE tbl = $1', params: [table] });
export const renameParked = (from: string, to: string): Statement => ({ sql: 'UPDATE _vt_row_parked SET tbl = $2 WHERE tbl = $1', params: [from, to] });

/** A key's identity whichever shard sends it: its columns by name, values in the wire encoding. */
const keyId = (key: Row): string =>
  JSON.stringify(
    Object.keys(key)
      .sort()
      .map((k) => [k, toWire(key[k] ?? null)]),
  );

const pick = (row: Row, cols: string[]): Row => Object.fromEntries(cols.map((c) => [c, row[c] ?? null]));

const sameRow = (a: Row, b: Row): boolean => Object.keys(b).every((k) => JSON.stringify(toWire(a[k] ?? null)) === JSON.stringify(toWire(b[k] ?? null)));

interface Parked {
  shard: string;
  change: RowChange;
}

/** Applies the shards' row changes inside one local transaction. */
export class RowMerge {
  private constructor(
    private readonly tx: Executor,
    private readonly parked: Set<string>,
  ) {}

  /** Which tables have parked rows, read once a transaction: only their changes look for any. */
  static async open(tx: Executor): Promise<RowMerge> {
    const { rows } = await tx.query('SELECT DISTINCT tbl FROM _vt_row_parked');
    return new RowMerge(tx, new Set(rows.map((r) => String(r.tbl))));
  }

  async apply(shard: string, c: RowChange): Promise<void> {
    if (c.op === 'delete') return this.#delete(shard, c.table, c.key);
    const key = pick(c.row!, Object.keys(c.key));
    if (keyId(key) === keyId(c.key)) return this.#upsert(shard, c);
    // A new primary key: the old one leaves this shard, the new one was not on it.
    await this.#delete(shard, c.table, c.key);
    return this.#upsert(shard, { ...c, op: 'insert', key });
  }

  async #upsert(shard: string, c: RowChange): Promise<void> {
    const id = keyId(c.key);
    if ((await this.#versions(c.table, id)).some((p) => p.shard === shard)) return this.#park(shard, c, id);
    if (c.op === 'update') return this.#run(changeStatements(c));
    if (await this.#insertIfFree(c)) return;
    // Another shard's version has the key. The same row from several shards (a reference
    // table's) is kept once: its copies change alike.
    if (sameRow(await this.#row(c.table, c.key), c.row!)) return;
    await this.#park(shard, c, id);
  }

  async #delete(shard: string, table: string, key: Row): Promise<void> {
    const id = keyId(key);
    const versions = await this.#versions(table, id);
    if (versions.some((p) => p.shard === shard)) return this.#unpark(table, id, shard);
    await this.#run(changeStatements({ table, op: 'delete', key }));
    const next = versions[0];
    if (!next) return;
    // The version shown is gone, but another shard still holds the key: its version shows now.
    await this.#unpark(table, id, next.shard);
    await this.#run(changeStatements(await this.#current(next.change)));
  }

  async #versions(table: string, id: string): Promise<Parked[]> {
    if (!this.parked.has(table)) return [];
    const { rows } = await this.tx.query('SELECT shard, change FROM _vt_row_parked WHERE tbl = $1 AND pk = $2 ORDER BY shard', [table, id]);
    return rows.map((r) => ({ shard: String(r.shard), change: changesFromWire([JSON.parse(String(r.change))])[0] as RowChange }));
  }

  async #park(shard: string, c: RowChange, id: string): Promise<void> {
    this.parked.add(c.table);
    const change = JSON.stringify(changesToWire([{ ...c, op: 'insert' }])[0]);
    await this.tx.query(
      'INSERT INTO _vt_row_parked (tbl, pk, shard, change) VALUES ($1, $2, $3, $4) ON CONFLICT (tbl, pk, shard) DO UPDATE SET change = EXCLUDED.change',
      [c.table, id, shard, change],
    );
  }

  async #unpark(table: string, id: string, shard: string): Promise<void> {
    await this.tx.query('DELETE FROM _vt_row_parked WHERE tbl = $1 AND pk = $2 AND shard = $3', [table, id, shard]);
  }

  /** Inserts the row unless its key is there; says whether it did. */
  async #insertIfFree(c: RowChange): Promise<boolean> {
    const row = boundRow(c);
    const { sql, params } = insertValues(c.table, Object.keys(row), [Object.values(row)], 'ON CONFLICT DO NOTHING');
    return (await this.tx.query(sql, params)).affected > 0;
  }

  async #row(table: string, key: Row): Promise<Row> {
    const cols = Object.keys(key);
    const { rows } = await this.tx.query(
      `SELECT * FROM ${quoteIdent(table)} WHERE ${cols.map((k, i) => `${quoteIdent(k)} = $${i + 1}`).join(' AND ')}`,
      Object.values(key),
    );
    return rows[0] ?? {};
  }

  /** A parked row in the table's columns now: one dropped since is left out, one added takes its default (as on the shard). */
  async #current(c: RowChange): Promise<RowChange> {
    const { fields } = await this.tx.query(`SELECT * FROM ${quoteIdent(c.table)} LIMIT 0`);
    const has = new Set(fields.map((f) => f.name));
    const row = Object.fromEntries(Object.entries(c.row!).filter(([k]) => has.has(k)));
    return { ...c, row, ...(c.json && { json: c.json.filter((k) => has.has(k)) }) };
  }

  async #run(statements: Statement[]): Promise<void> {
    for (const s of statements) await this.tx.query(s.sql, s.params);
  }
}
