// SQL text for PGlite shards that imports nothing of PGlite itself: the tablet runs it, and the
// SQLite-only Worker (router/server-sqlite.ts) bundles the tablet without PGlite.

/**
 * Replay upserts explicit values and never calls nextval (and a replayed CREATE TABLE restarts
 * a sequence at 1): after it, every serial or identity sequence of a user table moves up to its
 * column's largest value, so the next default is a new one.
 */
export const ADVANCE_SEQUENCES_SQL = `DO $$
DECLARE r record; m bigint;
BEGIN
  FOR r IN SELECT s.oid::regclass AS seq, c.oid::regclass AS tbl, quote_ident(a.attname) AS col, q.last_value
    FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_class c ON c.oid = d.refobjid JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
    JOIN pg_sequences q ON q.schemaname = n.nspname AND q.sequencename = s.relname
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      AND n.nspname = 'public' AND c.relname NOT LIKE '\\_vt\\_%' AND q.increment_by > 0
  LOOP
    EXECUTE format('SELECT max(%s)::bigint FROM %s', r.col, r.tbl) INTO m;
    IF m > coalesce(r.last_value, m - 1) THEN PERFORM setval(r.seq, m); END IF;
  END LOOP;
END $$`;
