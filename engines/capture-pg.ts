// Change capture on PGlite. A row trigger writes each change as one line of text: op, table oid
// and the row in Postgres's own record syntax (`NEW::text`, every value exactly as Postgres
// prints it, so int8, numeric, bytea and timestamps keep every digit), and sends it with NOTIFY.
// Postgres delivers notifications only when their transaction commits (never for rolled-back
// work, nor for a rolled-back subtransaction), in order, within the reply to the committing
// statement: the engine learns a commit's changes without a query of its own. A payload over
// NOTIFY's 8000-byte limit, and every change while a two-phase prepare runs (its transaction
// rolls back, so its notifications never arrive), goes to _vt_changes instead, announced by a
// bare sequence number.
//
// Trust: the capture functions, sequences and table belong to CAPTURE_ROLE and run as it
// (SECURITY DEFINER). Every payload starts with the capture key, a random number the engine
// draws at each start and keeps in the _vt_key sequence, which only that role can read: the
// engine drops any notification without it. On an unprivileged engine (a shard primary),
// client statements run as USER_ROLE, which LOCKDOWN_SQL keeps away from all of it. The
// functions pin no search_path (a parameter saved and restored per row): their names resolve in
// pg_catalog first, and USER_ROLE can create no function, operator or cast to shadow them.
import { types } from '@electric-sql/pglite';
import { VitessError } from '../rpc/errors.js';
import type { Change } from '../rpc/changes.js';
import type { Row } from '../rpc/results.js';
import { normalizeInt, type SqlValue } from '../rpc/values.js';
import { quoteIdent } from './dialect/sql-text.js';

export const CHANNEL = '_vt_capture';
/** Owns and runs capture: its functions, sequences and table. */
export const CAPTURE_ROLE = 'vt_capture';
/** Runs client statements on an unprivileged engine: owns the tables they create, nothing else. */
export const USER_ROLE = 'vt_user';
/** Set (locally) by prepare: changes go to _vt_changes, where the engine reads them before rolling back. */
export const TO_TABLE_SQL = `SET LOCAL vt.capture_to_table = on`;

// The key is read where the payload is built: pg_sequence_last_value needs no session state, so
// triggers that fire before the engine sets this start's key (a restart's replay) still work.
const KEYED = `pg_sequence_last_value('public._vt_key'::regclass) || ' ' ||`;

export const SETUP_SQL = [
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${CAPTURE_ROLE}') THEN CREATE ROLE ${CAPTURE_ROLE} NOLOGIN; END IF;
   END $$`,
  `CREATE SEQUENCE IF NOT EXISTS _vt_seq`,
  `CREATE SEQUENCE IF NOT EXISTS _vt_key`,
  // Leftovers can only come from recovery replay, already logged (and older data directories
  // have another layout).
  `DROP TABLE IF EXISTS _vt_changes`,
  `CREATE TABLE _vt_changes (seq bigint PRIMARY KEY, body text NOT NULL)`,
  // The sequence number also keeps payloads distinct: NOTIFY drops a payload already pending in
  // the transaction (insert, delete, then the same insert again would lose its second insert).
  `CREATE OR REPLACE FUNCTION _vt_emit(body text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
   DECLARE seq bigint := nextval('public._vt_seq');
   BEGIN
     IF octet_length(body) < 7900 AND current_setting('vt.capture_to_table', true) IS DISTINCT FROM 'on' THEN
       PERFORM pg_notify('${CHANNEL}', ${KEYED} seq || ' ' || body);
     ELSE
       INSERT INTO public._vt_changes VALUES (seq, body);
       PERFORM pg_notify('${CHANNEL}', ${KEYED} seq);
     END IF;
   END $$`,
  // _vt_emit inlined for the common case: one function call less per row.
  `CREATE OR REPLACE FUNCTION _vt_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
   DECLARE body text := CASE TG_OP WHEN 'INSERT' THEN 'i' || TG_RELID || NEW::text
     WHEN 'UPDATE' THEN 'u' || TG_RELID || NEW::text || OLD::text ELSE 'd' || TG_RELID || OLD::text END;
   BEGIN
     IF octet_length(body) < 7900 AND current_setting('vt.capture_to_table', true) IS DISTINCT FROM 'on' THEN
       PERFORM pg_notify('${CHANNEL}', ${KEYED} nextval('public._vt_seq') || ' ' || body);
     ELSE
       PERFORM public._vt_emit(body);
     END IF;
     RETURN NULL;
   END $$`,
  `ALTER SEQUENCE _vt_seq OWNER TO ${CAPTURE_ROLE}`,
  `ALTER SEQUENCE _vt_key OWNER TO ${CAPTURE_ROLE}`,
  `ALTER TABLE _vt_changes OWNER TO ${CAPTURE_ROLE}`,
  `ALTER FUNCTION _vt_emit(text) OWNER TO ${CAPTURE_ROLE}`,
  `ALTER FUNCTION _vt_capture() OWNER TO ${CAPTURE_ROLE}`,
  `REVOKE ALL ON FUNCTION _vt_emit(text), _vt_capture() FROM PUBLIC`,
  `GRANT EXECUTE ON FUNCTION pg_notify(text, text) TO ${CAPTURE_ROLE}`,
];

/** Sets this start's capture key ($1, as text). */
export const SET_KEY_SQL = `SELECT setval('public._vt_key', $1::bigint)`;

/** A capture key: random, positive, as text. */
export function newCaptureKey(): string {
  return String((crypto.getRandomValues(new BigUint64Array(1))[0]! >> 2n) + 1n);
}

/**
 * DDL an unprivileged client may run (event-trigger command tags). Not triggers, rules, functions,
 * operators, casts, grants…: those could switch capture off, forge its records, or shadow what
 * the engine's own statements resolve; nor materialized views, whose refreshes capture misses.
 */
const USER_DDL = [
  'CREATE TABLE',
  'CREATE TABLE AS',
  'ALTER TABLE',
  'DROP TABLE',
  'CREATE INDEX',
  'ALTER INDEX',
  'DROP INDEX',
  'CREATE VIEW',
  'ALTER VIEW',
  'DROP VIEW',
  'CREATE SEQUENCE',
  'ALTER SEQUENCE',
  'DROP SEQUENCE',
  'CREATE TYPE',
  'ALTER TYPE',
  'DROP TYPE',
  'CREATE DOMAIN',
  'ALTER DOMAIN',
  'DROP DOMAIN',
  'COMMENT',
];

/**
 * Run once capture is set up (as the superuser), before client statements run as USER_ROLE:
 * nothing created outside the statements the engine sees as DDL (it grants CREATE on the schema
 * for those alone, see grantCreateSql), no temporary tables, no code (functions, DO), no
 * parameters set by function (set_config; SET itself the engine refuses), no notifications,
 * large objects or sleeps; event triggers hold DDL to USER_DDL, keep capture triggers enabled,
 * reserved names the engine's and row-level security off. Relations and types that replay (or
 * an older engine) created as the superuser become the client's. Idempotent.
 */
export const LOCKDOWN_SQL = [
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${USER_ROLE}') THEN CREATE ROLE ${USER_ROLE} NOLOGIN; END IF;
     EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
   END $$`,
  `REVOKE CREATE ON SCHEMA public FROM PUBLIC, ${USER_ROLE}`,
  `REVOKE USAGE ON LANGUAGE plpgsql, sql FROM PUBLIC`,
  `REVOKE EXECUTE ON FUNCTION set_config(text, text, boolean), pg_notify(text, text), pg_sleep(double precision),
     pg_sleep_for(interval), pg_sleep_until(timestamptz) FROM PUBLIC`,
  `DO $$ DECLARE f regprocedure; r regclass; t record; BEGIN
     FOR f IN SELECT oid FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND (proname LIKE 'lo\\_%' OR proname IN ('loread', 'lowrite')) LOOP
       EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
     END LOOP;
     FOR r IN SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
         AND c.relname NOT LIKE '\\_vt\\_%' AND c.relowner <> '${USER_ROLE}'::regrole
         AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')) LOOP
       EXECUTE format('ALTER TABLE %s OWNER TO ${USER_ROLE}', r);
     END LOOP;
     FOR t IN SELECT y.oid::regtype AS name, y.typtype FROM pg_type y WHERE y.typnamespace = 'public'::regnamespace
         AND y.typtype IN ('e', 'd', 'r', 'c') AND y.typowner <> '${USER_ROLE}'::regrole
         AND (y.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = y.typrelid) = 'c') LOOP
       EXECUTE format('ALTER %s %s OWNER TO ${USER_ROLE}', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.name);
     END LOOP;
   END $$`,
  `CREATE OR REPLACE FUNCTION _vt_ddl_start() RETURNS event_trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
   BEGIN
     IF session_user = '${USER_ROLE}' AND NOT tg_tag = ANY ('{${USER_DDL.map((t) => `"${t}"`).join(',')}}'::text[]) THEN
       RAISE EXCEPTION '% is not supported on a shard', tg_tag USING ERRCODE = 'feature_not_supported';
     END IF;
   END $$`,
  `CREATE OR REPLACE FUNCTION _vt_ddl_end() RETURNS event_trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
   BEGIN
     IF session_user <> '${USER_ROLE}' THEN RETURN; END IF;
     IF EXISTS (SELECT FROM pg_trigger WHERE tgname = '_vt_cap' AND tgenabled <> 'O') THEN
       RAISE EXCEPTION 'change capture cannot be switched off (trigger _vt_cap)' USING ERRCODE = 'feature_not_supported';
     END IF;
     IF EXISTS (SELECT FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname LIKE '\\_vt\\_%' AND pg_get_userbyid(relowner) = session_user) THEN
       RAISE EXCEPTION 'names starting with _vt_ belong to the engine' USING ERRCODE = 'reserved_name';
     END IF;
     -- Rows it hid would be missing from the snapshot pages replicas copy (read as the client).
     IF EXISTS (SELECT FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relrowsecurity) THEN
       RAISE EXCEPTION 'row-level security is not supported on a shard' USING ERRCODE = 'feature_not_supported';
     END IF;
   END $$`,
  `DROP EVENT TRIGGER IF EXISTS _vt_ddl_start`,
  `CREATE EVENT TRIGGER _vt_ddl_start ON ddl_command_start EXECUTE FUNCTION _vt_ddl_start()`,
  `DROP EVENT TRIGGER IF EXISTS _vt_ddl_end`,
  `CREATE EVENT TRIGGER _vt_ddl_end ON ddl_command_end EXECUTE FUNCTION _vt_ddl_end()`,
];

/** Makes `superuser` (the session's original role, quoted) the role of the running transaction. */
export const elevateSql = (superuser: string): string => `SET LOCAL SESSION AUTHORIZATION ${superuser}`;
/** Back to the client's role within the transaction. */
export const LOWER_SQL = `SET LOCAL SESSION AUTHORIZATION ${USER_ROLE}`;
/** For one CREATE statement of the client's, in its transaction (revoked after it, see AFTER_CREATE_SQL). */
export const grantCreateSql = (superuser: string): string => `${elevateSql(superuser)}; GRANT CREATE ON SCHEMA public TO ${USER_ROLE}; ${LOWER_SQL}`;
export const AFTER_CREATE_SQL = `REVOKE CREATE ON SCHEMA public FROM ${USER_ROLE}`;
/** Session settings of the client's role: its statement timeout and temporary-file limit, then the role itself. */
export const userModeSql = (timeoutMs: number, tempFileLimit: string): string =>
  `SET statement_timeout = ${timeoutMs}; SET temp_file_limit = '${tempFileLimit}'; SET SESSION AUTHORIZATION ${USER_ROLE}`;

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

export const DRAIN_SQL = `WITH d AS (DELETE FROM public._vt_changes RETURNING seq, body) SELECT seq::text AS seq, body FROM d ORDER BY d.seq`;
export const RECORD_DDL_SQL = `SELECT public._vt_emit('D' || $1::text)`;

export function triggerSql(table: string, hasPk: boolean): string {
  if (!hasPk) throw new VitessError('INVALID', `table "${table}" has no primary key; a table needs one to be replicated`, { table });
  return `CREATE TRIGGER _vt_cap AFTER INSERT OR UPDATE OR DELETE ON public.${quoteIdent(table)} FOR EACH ROW EXECUTE FUNCTION public._vt_capture()`;
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

/** Parsers the engine adds to PGlite's: numeric stays Postgres's text (its scale kept), dates stay `YYYY-MM-DD`, `timestamp` is UTC (rpc/values.ts). */
export const PARSERS: Record<number, (s: string) => unknown> = {
  1700: (s) => s,
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
        if (c === 92) {
          // \x: x
          v += s.slice(start, i);
          start = ++i;
        } else if (c === 34) {
          // "" inside quotes: "
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
  Object.fromEntries(
    table.columns
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => [c.name, row[c.name] ?? null]),
  );

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
