// Change capture on an unprivileged PGlite engine (a shard primary's): client statements can
// neither switch capture off, forge or read its records, nor reach files, large objects or
// notifications, and every write after each attempt still reaches the sink.
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteEngine } from '../../engines/pglite.js';
import type { Change } from '../../rpc/changes.js';
import { asVitessError } from '../../rpc/errors.js';

let db: PgliteEngine;
const units: Change[][] = [];
let next = 100;

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e) => asVitessError(e).code,
  );
const every = (): Change[] => units.flat();
/** A write after an attempt: it must be the newest unit the sink heard. */
async function writeStillCaptured(): Promise<void> {
  const id = ++next;
  await db.query('INSERT INTO t (id, v) VALUES ($1, $2)', [id, 'after']);
  expect(units.at(-1)).toEqual([{ table: 't', op: 'insert', key: { id }, row: { id, v: 'after' } }]);
}
const forged = (): Change[] => every().filter((c) => JSON.stringify(c).includes('forged'));

beforeAll(async () => {
  db = new PgliteEngine(await PGlite.create(), { unprivileged: true });
  await db.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
  await db.enableCapture((unit) => {
    if ('changes' in unit) units.push(unit.changes);
  });
  await db.query("INSERT INTO t VALUES (1, 'before')");
});
afterAll(() => db.close());

describe('an unprivileged PGlite engine', () => {
  it('runs client statements as a role that is not a superuser', async () => {
    const { rows } = await db.query("SELECT current_user AS u, session_user AS s, current_setting('is_superuser') AS su");
    expect(rows).toEqual([{ u: 'vt_user', s: 'vt_user', su: 'off' }]);
  });

  it.each([
    "SELECT set_config('session_replication_role', 'replica', false)",
    'SET session_replication_role = replica',
    "/* hidden */ SET session_replication_role = 'replica'",
    'ALTER TABLE t DISABLE TRIGGER ALL',
    'ALTER TABLE t DISABLE TRIGGER _vt_cap',
    'ALTER TABLE t ENABLE REPLICA TRIGGER _vt_cap',
    'DROP TRIGGER _vt_cap ON t',
    'ALTER TRIGGER _vt_cap ON t RENAME TO other',
    "SELECT set_config('role', 'none', false)",
    "SELECT set_config('session_authorization', 'postgres', false)",
    "UPDATE pg_settings SET setting = 'postgres' WHERE name = 'session_authorization'",
    'RESET ROLE',
    'SET ROLE postgres',
    'SET SESSION AUTHORIZATION postgres',
    '-- a comment first\nSET SESSION AUTHORIZATION postgres',
    'RESET SESSION AUTHORIZATION',
    'DISCARD ALL',
    'UNLISTEN *',
    'DO $$ BEGIN PERFORM 1; END $$',
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    'CREATE RULE r AS ON INSERT TO t DO ALSO NOTIFY _vt_capture',
    'CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)',
    'CREATE TEMP TABLE tmp (id int PRIMARY KEY)',
    'EXPLAIN ANALYZE CREATE TABLE hidden AS SELECT 1 AS id',
    'SELECT 1 AS id INTO hidden2',
    'CREATE TABLE _vt_mine (id int PRIMARY KEY)',
    'ALTER TABLE t RENAME TO _vt_renamed',
    'ALTER TABLE t ENABLE ROW LEVEL SECURITY',
    'TRUNCATE t',
    "SELECT query_to_xml('SET SESSION AUTHORIZATION postgres', true, false, '')",
    'SELECT pg_sleep(0.01)',
  ])('refuses %j, and the next write is still captured', async (sql) => {
    expect(await outcome(db.query(sql))).not.toBe('ok');
    expect((await db.query('SELECT current_user AS u')).rows).toEqual([{ u: 'vt_user' }]);
    await writeStillCaptured();
  });

  it('neither forges nor reads capture records', async () => {
    const relid = String((await db.query("SELECT 't'::regclass::oid::text AS o")).rows[0]!.o);
    const row = `i${relid}(999,forged)`;
    for (const sql of [
      `SELECT pg_notify('_vt_capture', '999 ${row}')`,
      `NOTIFY _vt_capture, '999 ${row}'`,
      `/**/ NOTIFY _vt_capture, '1 999 ${row}'`,
      'SELECT * FROM _vt_changes',
      "INSERT INTO _vt_changes VALUES (1, 'x')",
      'SELECT last_value FROM _vt_key',
      "SELECT _vt_emit('Dforged')",
      'SELECT * FROM _vt_log',
    ]) {
      expect(await outcome(db.query(sql)), sql).not.toBe('ok');
      await writeStillCaptured();
    }
    expect(forged()).toEqual([]);
    // Without rights on the key's sequence, Postgres reads its value as NULL.
    expect((await db.query("SELECT pg_sequence_last_value('_vt_key') AS k")).rows).toEqual([{ k: null }]);
  });

  it('calls no file, large-object or notify functions', async () => {
    for (const sql of [
      "SELECT pg_read_file('/etc/passwd')",
      "SELECT lo_import('/etc/passwd')",
      'SELECT lo_creat(-1)',
      "SELECT lo_from_bytea(0, '\\x00')",
      "COPY t FROM '/etc/passwd'",
      "SELECT pg_notify('other', 'x')",
    ])
      expect(await outcome(db.query(sql)), sql).not.toBe('ok');
  });

  it('keeps DDL working: new tables are the client’s, writable and captured', async () => {
    await db.query('CREATE TABLE u (id int PRIMARY KEY, n int)');
    await db.query('ALTER TABLE u ADD COLUMN label text');
    await db.query('CREATE INDEX u_n ON u (n)');
    await db.query('CREATE VIEW uv AS SELECT id, n FROM u');
    await db.query("INSERT INTO u VALUES (1, 2, 'x')");
    expect(units.at(-1)).toEqual([{ table: 'u', op: 'insert', key: { id: 1 }, row: { id: 1, n: 2, label: 'x' } }]);
    await db.transaction(async (tx) => {
      await tx.query('CREATE TABLE w (id int PRIMARY KEY)');
      await tx.query('INSERT INTO w VALUES (7)');
    });
    expect(units.at(-1)).toEqual([{ ddl: 'CREATE TABLE w (id int PRIMARY KEY)' }, { table: 'w', op: 'insert', key: { id: 7 }, row: { id: 7 } }]);
    await db.query('DROP VIEW uv');
    await db.query('DROP TABLE w');
    expect((await db.tables()).map((x) => x.name)).toEqual(['t', 'u']);
  });

  it('captures rows too large for a notification, and prepares', async () => {
    const big = 'x'.repeat(9000);
    await db.query('INSERT INTO t VALUES ($1, $2)', [++next, big]);
    expect(units.at(-1)).toEqual([{ table: 't', op: 'insert', key: { id: next }, row: { id: next, v: big } }]);
    const changes = await db.prepare(async (tx) => {
      await tx.query("UPDATE t SET v = 'p' WHERE id = 1");
    });
    expect(changes).toEqual([{ table: 't', op: 'update', key: { id: 1 }, row: { id: 1, v: 'p' } }]);
    expect((await db.query('SELECT v FROM t WHERE id = 1')).rows).toEqual([{ v: 'before' }]);
    await writeStillCaptured();
  });

  it('ends a runaway query that spills with LIMIT_EXCEEDED naming the limit, and goes on', async () => {
    const err = await db.query('WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r').then(
      () => undefined,
      (e: unknown) => asVitessError(e),
    );
    expect(err?.code).toBe('LIMIT_EXCEEDED');
    expect(err?.details.limit).toBe('temporary file size');
    await writeStillCaptured();
  }, 60_000);

  it('dumps its data directory', async () => {
    expect((await db.dumpDataDir()).size).toBeGreaterThan(0);
    await writeStillCaptured();
  });
});
