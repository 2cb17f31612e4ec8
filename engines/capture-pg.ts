// Change capture on PGlite. A row trigger writes each change as one line of text: op, table oid
// and the row in Postgres's own record syntax (`NEW::text`, every value exactly as Postgres
// prints it, so int8, numeric, bytea and timestamps keep every digit), and sends it with NOTIFY.
// Postgres delivers notifications only when their transaction commits (never for rolled-back
// work, nor for a rolled-back subtransaction), in order, within the reply to the committing
// statement: the engine learns a commit's changes without a query of its own. A payload over
// NOTIFY's 8000-byte limit, and every change while a two-phase prepare runs (its transaction
// rolls back, so its notifications never arrive), goes to _vt_changes instead, announced by a
// bare sequence number.
import { types } from '@electric-sql/pglite';
import { VitessError } from '../rpc/errors.js';
import type { Change } from '../rpc/changes.js';
import type { Row } from '../rpc/results.js';
import { canonicalNumeric, normalizeInt, type SqlValue } from '../rpc/values.js';
import { quoteIdent } from './dialect/sql-text.js';

export const CHANNEL = '_vt_capture';
/** Set (locally) by prepare: changes go to _vt_changes, where the engine reads them before rolling back. */
export const TO_TABLE_SQL = `SELECT set_config('vt.capture_to_table', 'on', true)`;

export const SETUP_SQL = [
  `CREATE SEQUENCE IF NOT EXISTS _vt_seq`,
  // Leftovers can only come from recovery replay, already logged (and older data directories
  // have another layout).
  `DROP TABLE IF EXISTS _vt_changes`,
  `CREATE TABLE _vt_changes (seq bigint PRIMARY KEY, body text NOT NULL)`,
  // The sequence number also keeps payloads distinct: NOTIFY drops a payload already pending in
  // the transaction (insert, delete, then the same insert again would lose its second insert).
  `CREATE OR REPLACE FUNCTION _vt_emit(body text) RETURNS void LANGUAGE plpgsql AS $$
   DECLARE seq bigint := nextval('_vt_seq');
   BEGIN
     IF octet_length(body) < 7900 AND current_setting('vt.capture_to_table', true) IS DISTINCT FROM 'on' THEN
       PERFORM pg_notify('${CHANNEL}', seq || ' ' || body);
     ELSE
       INSERT INTO _vt_changes VALUES (seq, body);
       PERFORM pg_notify('${CHANNEL}', seq::text);
     END IF;
   END $$`,
  // _vt_emit inlined for the common case: one function call less per row.
  `CREATE OR REPLACE FUNCTION _vt_capture() RETURNS trigger LANGUAGE plpgsql AS $$
   DECLARE body text := CASE TG_OP WHEN 'INSERT' THEN 'i' || TG_RELID || NEW::text
     WHEN 'UPDATE' THEN 'u' || TG_RELID || NEW::text || OLD::text ELSE 'd' || TG_RELID || OLD::text END;
   BEGIN
     IF octet_length(body) < 7900 AND current_setting('vt.capture_to_table', true) IS DISTINCT FROM 'on' THEN
       PERFORM pg_notify('${CHANNEL}', nextval('_vt_seq') || ' ' || body);
     ELSE
       PERFORM _vt_emit(body);
     END IF;
     RETURN NULL;
   END $$`,
];

/** User tables without the capture trigger, and whether each has a primary key. */
export const UNCAPTURED_SQL = `SELECT c.relname AS name, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname NOT LIKE '\\_vt\\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = '_vt_cap')`;

/** Columns of user tables in attnum order (the order of record text), with key positions. */
export const COLUMNS_SQL = `SELECT c.oid::text AS relid, c.relname AS tbl, a.attname AS col, a.atttypid::int AS oid,
    coalesce((SELECT k.ord FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) WHERE k.attnum = a.attnum), 0)::int AS pk
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
  WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname NOT LIKE '\\_vt\\_%' ORDER BY c.relname, a.attnum`;

export const DRAIN_SQL = `WITH d AS (DELETE FROM _vt_changes RETURNING seq, body) SELECT seq::text AS seq, body FROM d ORDER BY d.seq`;
export const RECORD_DDL_SQL = `SELECT _vt_emit('D' || $1::text)`;

export function triggerSql(table: string, hasPk: boolean): string {
  if (!hasPk) throw new VitessError('INVALID', `table "${table}" has no primary key; a table needs one to be replicated`, { table });
  return `CREATE TRIGGER _vt_cap AFTER INSERT OR UPDATE OR DELETE ON ${quoteIdent(table)} FOR EACH ROW EXECUTE FUNCTION _vt_capture()`;
}

export interface PgTable {
  name: string;
  /** In attnum order; `pk` is the position in the primary key (0: not in it). */
  columns: { name: string; oid: number; pk: number }[];
}
/** User tables by oid (as text, the way TG_RELID prints), as of one point in a transaction. */
export type PgSchema = Map<string, PgTable>;

export function schemaFromRows(rows: { relid: string; tbl: string; col: string; oid: number; pk: number }[]): PgSchema {
  const schema: PgSchema = new Map();
  for (const r of rows) {
    const t = schema.get(r.relid) ?? { name: r.tbl, columns: [] };
    t.columns.push({ name: r.col, oid: r.oid, pk: r.pk });
    schema.set(r.relid, t);
  }
  return schema;
}

/** Parsers the engine adds to PGlite's: numeric compares by value, dates stay `YYYY-MM-DD`, `timestamp` is UTC (rpc/values.ts). */
export const PARSERS: Record<number, (s: string) => unknown> = {
  1700: canonicalNumeric,
  1082: (s) => s,
  1114: (s) => (/^\d{4}-\d\d-\d\d \d/.test(s) ? new Date(`${s.replace(' ', 'T')}Z`) : types.parsers[1114]!(s)),
};

/** json, jsonb. */
const JSON_OIDS = new Set([114, 3802]);

/** A value in Postgres text, as the engine's queries return it (types it does not model stay text). */
function parseValue(oid: number, s: string): SqlValue {
  // A parser's null is a value (a JSON null), not "no parser".
  const parse = PARSERS[oid] ?? types.parsers[oid];
  const v = parse ? parse(s) : s;
  return (typeof v === 'bigint' ? normalizeInt(v) : v) as SqlValue;
}

const broken = (what: string) => new VitessError('INTERNAL', `change capture: ${what}`);

/**
 * The fields of Postgres record text (`(1,"a b",,"x""y")`: empty is NULL, quoted fields double
 * `"` and `\`) starting at `s[at] === '('`, and the index after its `)`.
 */
export function parseRecord(s: string, at: number): [(string | null)[], number] {
  const fields: (string | null)[] = [];
  let i = at + 1;
  for (;;) {
    if (s[i] === '"') {
      let v = '';
      let start = ++i;
      for (; ; i++) {
        const c = s.charCodeAt(i);
        if (c === 92) { // \x: x
          v += s.slice(start, i);
          start = ++i;
        } else if (c === 34) { // "" inside quotes: "
          v += s.slice(start, i);
          if (s.charCodeAt(i + 1) !== 34) break;
          start = ++i;
        } else if (Number.isNaN(c)) throw broken('unterminated record text');
      }
      i++;
      fields.push(v);
    } else {
      let j = i;
      while (j < s.length && s[j] !== ',' && s[j] !== ')') j++;
      fields.push(j > i ? s.slice(i, j) : null);
      i = j;
    }
    if (s[i] === ')') return [fields, i + 1];
    if (s[i++] !== ',') throw broken('malformed record text');
  }
}

function toRow(fields: (string | null)[], table: PgTable): Row {
  // A mismatch means a schema change the engine did not see (DDL run inside a function).
  if (fields.length !== table.columns.length) throw broken(`a row of "${table.name}" does not match its columns`);
  const row: Row = {};
  table.columns.forEach((c, i) => {
    const v = fields[i];
    row[c.name] = v == null ? null : parseValue(c.oid, v);
  });
  return row;
}

const pick = (row: Row, table: PgTable): Row =>
  Object.fromEntries(table.columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => [c.name, row[c.name] ?? null]));

/**
 * One commit's changes from its payloads (in order) and `fromTable` (seq → body, for payloads
 * that are a bare sequence number). `schemas[k]` is the schema after the unit's k-th DDL
 * statement (`schemas[0]`: before any), so every row decodes with the columns it was written with.
 */
export function decodeChanges(payloads: string[], fromTable: Map<string, string>, schemas: PgSchema[]): Change[] {
  let version = 0;
  return payloads.map((p): Change => {
    const space = p.indexOf(' ');
    const body = space < 0 ? fromTable.get(p) : p.slice(space + 1);
    if (body === undefined) throw broken(`change ${p} is missing from _vt_changes`);
    if (body[0] === 'D') {
      version++;
      return { ddl: body.slice(1) };
    }
    const open = body.indexOf('(');
    const table = schemas[version]?.get(body.slice(1, open));
    if (!table) throw broken(`no table with oid ${body.slice(1, open)}`);
    const [fields, next] = parseRecord(body, open);
    const image = toRow(fields, table);
    if (body[0] === 'd') return { table: table.name, op: 'delete', key: pick(image, table) };
    // JSON values (a JSON null too, which is not SQL NULL) are named: the row holds them decoded.
    const json = table.columns.filter((c, i) => JSON_OIDS.has(c.oid) && fields[i] != null).map((c) => c.name);
    const row = { row: image, ...(json.length && { json }) };
    if (body[0] === 'i') return { table: table.name, op: 'insert', key: pick(image, table), ...row };
    const old = toRow(parseRecord(body, next)[0], table);
    return { table: table.name, op: 'update', key: pick(old, table), ...row };
  });
}
