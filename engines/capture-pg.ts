// Change capture on PGlite: one plpgsql trigger function copies every row change into
// _vt_changes as text-valued JSON images (so int8 and numeric keep every digit); the engine
// drains the table inside each unit's transaction.
import { VitessError } from '../rpc/errors.js';
import type { Change } from '../rpc/changes.js';
import type { Row } from '../rpc/results.js';
import { canonicalNumeric, normalizeInt, type SqlType } from '../rpc/values.js';

export const SETUP_SQL = [
  `CREATE TABLE IF NOT EXISTS _vt_changes (seq bigserial PRIMARY KEY, tbl text, op text, row jsonb, old jsonb, ddl text)`,
  // Units drain their own changes; leftovers can only come from recovery replay, already logged.
  `DELETE FROM _vt_changes`,
  `CREATE OR REPLACE FUNCTION _vt_image(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
     $$ SELECT coalesce(jsonb_object_agg(key, value #>> '{}'), '{}'::jsonb) FROM jsonb_each(r) $$`,
  `CREATE OR REPLACE FUNCTION _vt_capture() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     IF TG_OP = 'INSERT' THEN
       INSERT INTO _vt_changes (tbl, op, row) VALUES (TG_TABLE_NAME, 'insert', _vt_image(to_jsonb(NEW)));
     ELSIF TG_OP = 'UPDATE' THEN
       INSERT INTO _vt_changes (tbl, op, row, old) VALUES (TG_TABLE_NAME, 'update', _vt_image(to_jsonb(NEW)), _vt_image(to_jsonb(OLD)));
     ELSE
       INSERT INTO _vt_changes (tbl, op, old) VALUES (TG_TABLE_NAME, 'delete', _vt_image(to_jsonb(OLD)));
     END IF;
     RETURN NULL;
   END $$`,
];

/** User tables without the capture trigger, and whether each has a primary key. */
export const UNCAPTURED_SQL = `SELECT c.relname AS name, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname NOT LIKE '\\_vt\\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = '_vt_cap')`;

export const COLUMNS_SQL = `SELECT c.relname AS tbl, a.attname AS col, a.atttypid::int AS oid,
    coalesce((SELECT k.ord FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) WHERE k.attnum = a.attnum), 0)::int AS pk
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
  WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY c.relname, a.attnum`;

export const DRAIN_SQL = `DELETE FROM _vt_changes RETURNING seq, tbl, op, row::text AS row, old::text AS old, ddl`;
export const RECORD_DDL_SQL = `INSERT INTO _vt_changes (op, ddl) VALUES ('ddl', $1)`;

export function triggerSql(table: string, hasPk: boolean): string {
  if (!hasPk) throw new VitessError('INVALID', `table "${table}" has no primary key; a table needs one to be replicated`, { table });
  return `CREATE TRIGGER _vt_cap AFTER INSERT OR UPDATE OR DELETE ON "${table.replace(/"/g, '""')}" FOR EACH ROW EXECUTE FUNCTION _vt_capture()`;
}

export interface PgColumn {
  name: string;
  type: SqlType;
  pk: number;
}

/** A value from a text image, as the engine would return it for `type`. */
function fromText(type: SqlType, s: string): unknown {
  switch (type) {
    case 'bool': return s === 'true';
    case 'int2': case 'int4': case 'int8': return normalizeInt(BigInt(s));
    case 'float4': case 'float8': return Number(s);
    case 'numeric': return canonicalNumeric(s);
    case 'json': case 'jsonb': return JSON.parse(s);
    case 'bytea': {
      const hex = s.slice(2);
      return Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
    }
    // to_jsonb writes timestamp without a zone; it is UTC here, as everywhere in the value model.
    case 'timestamp': return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
    case 'timestamptz': return new Date(s);
    default: return s;
  }
}

function decodeImage(json: string, columns: PgColumn[]): Row {
  const row: Row = {};
  for (const [name, v] of Object.entries(JSON.parse(json) as Record<string, string | null>)) {
    const type = columns.find((c) => c.name === name)?.type ?? 'text';
    row[name] = v === null ? null : (fromText(type, v) as Row[string]);
  }
  return row;
}

const pick = (row: Row, columns: PgColumn[]): Row =>
  Object.fromEntries(columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => [c.name, row[c.name] ?? null]));

export function decodeChanges(rows: { seq: unknown; tbl: string | null; op: string; row: string | null; old: string | null; ddl: string | null }[], columnsOf: (t: string) => PgColumn[]): Change[] {
  return [...rows].sort((a, b) => Number(a.seq) - Number(b.seq)).map((r): Change => {
    if (r.op === 'ddl') return { ddl: r.ddl ?? '' };
    const table = r.tbl ?? '';
    const columns = columnsOf(table);
    const row = r.row === null ? undefined : decodeImage(r.row, columns);
    const old = r.old === null ? undefined : decodeImage(r.old, columns);
    if (r.op === 'insert') return { table, op: 'insert', key: pick(row!, columns), row: row! };
    if (r.op === 'update') return { table, op: 'update', key: pick(old!, columns), row: row! };
    return { table, op: 'delete', key: pick(old!, columns) };
  });
}
