// Change-capture integrity through the shard primary (VTTablet) in workerd. On PGlite, client
// statements run as an unprivileged role: each attempt to switch capture off, forge or read its
// records, or reach files, large objects or notifications is refused, the next write is still
// logged, and a restart replays only what capture wrote. On DO SQLite, the engine's tables are
// out of reach whatever the letter case, for reads too.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { EngineKind, StorageEngine } from '../../engines/engine.js';
import { STATEMENT_TIMEOUT_MS } from '../../engines/pglite.js';
import type { Change } from '../../rpc/changes.js';
import type { Stub, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';
import { asVitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';

type TabletCalls = Pick<TabletApi, 'query' | 'pull' | 'snapshotDataDir'>;
type Tablet = Stub<TabletCalls>;

const tablet = (kind: EngineKind) => {
  const stub = env.TABLET.get(env.TABLET.idFromName(`integrity-${kind}-${Math.random()}`));
  return { t: stubOf<TabletCalls>(stub), stub };
};
const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e) => asVitessError(e).code,
  );
const changes = async (t: Tablet): Promise<Change[]> => (await t.pull(1)).records.flatMap((r) => r.changes);
/** Changes of the rows the attempts below try to forge (ids 998 and 999). */
const forged = (all: Change[]): Change[] => all.filter((c) => 'key' in c && [998, 999].includes(Number(c.key.id)));

/**
 * Restarts the PGlite primary's engine: workerd will not evict a DO running PGlite, so the engine
 * is closed and dropped, and the next call starts another from the snapshot and the log.
 */
async function restartEngine(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, async (instance) => {
    const held = instance as unknown as { engine?: Promise<{ engine: StorageEngine }> };
    await (await held.engine)?.engine.close();
    held.engine = undefined;
  });
}

describe('VTTablet on pglite: capture integrity', () => {
  it('refuses every way around capture, logs the next write, and replays only what capture wrote', async () => {
    const { t, stub } = tablet('pglite');
    const q = (sql: string, params?: SqlValue[]) => t.query('pglite', sql, params);
    await q('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)');
    const relid = String((await q("SELECT 't'::regclass::oid::text AS o")).rows[0]!.o);
    let id = 0;
    const attempts = [
      "SELECT set_config('session_replication_role', 'replica', false)",
      'SET session_replication_role = replica',
      'ALTER TABLE t DISABLE TRIGGER ALL',
      'DROP TRIGGER _vt_cap ON t',
      `SELECT pg_notify('_vt_capture', '999 i${relid}(999,forged)')`,
      `NOTIFY _vt_capture, '1 998 i${relid}(998,forged)'`,
      "SELECT set_config('role', 'none', false)",
      'RESET ROLE',
      'SET SESSION AUTHORIZATION postgres',
      'SELECT * FROM _vt_log',
      'SELECT * FROM _vt_changes',
      "SELECT pg_read_file('/etc/passwd')",
      "SELECT lo_import('/etc/passwd')",
      'SELECT lo_creat(-1)',
    ];
    for (const sql of attempts) {
      expect(await outcome(q(sql)), sql).not.toBe('ok');
      // A bypass could follow in the same session: the write after each attempt must be logged.
      await q("SELECT set_config('session_replication_role', 'replica', false)").catch(() => undefined);
      await q('INSERT INTO t VALUES ($1, $2)', [++id, sql]);
      const { records } = await t.pull(1);
      expect(records.at(-1)!.changes, sql).toEqual([{ table: 't', op: 'insert', key: { id }, row: { id, v: sql } }]);
    }
    expect(forged(await changes(t))).toEqual([]);
    const before = (await q('SELECT * FROM t ORDER BY id')).rows;
    expect(before).toHaveLength(attempts.length);

    // A restart from the log alone, then from a snapshot and the log after it: the same rows.
    await restartEngine(stub);
    expect((await q('SELECT * FROM t ORDER BY id')).rows).toEqual(before);
    await t.snapshotDataDir();
    await q('INSERT INTO t VALUES ($1, $2)', [++id, 'after the snapshot']);
    await restartEngine(stub);
    const after = (await q('SELECT * FROM t ORDER BY id')).rows;
    expect(after).toEqual([...before, { id, v: 'after the snapshot' }]);
    expect((await q('SELECT current_user AS u')).rows).toEqual([{ u: 'vt_user' }]);
    expect(forged(await changes(t))).toEqual([]);
  }, 120_000);

  it('ends a runaway statement with TIMEOUT naming the limit, and keeps working', async () => {
    const { t } = tablet('pglite');
    await t.query('pglite', 'CREATE TABLE t (id INT PRIMARY KEY)');
    const runaway = t.query(
      'pglite',
      `WITH a AS MATERIALIZED (SELECT g, md5(g::text) AS h FROM generate_series(1, 200000) g)
      SELECT count(*) FROM a x, a y WHERE x.h < y.h`,
    );
    const err = await runaway.then(
      () => undefined,
      (e: unknown) => asVitessError(e),
    );
    expect(err?.code).toBe('TIMEOUT');
    expect(err?.message).toMatch(/statement timeout/);
    expect(err?.message).toContain(`${STATEMENT_TIMEOUT_MS} ms`);
    expect(err?.details.limit).toBe('statement timeout');
    await t.query('pglite', 'INSERT INTO t VALUES (1)');
    expect((await t.pull(1)).records.at(-1)!.changes).toEqual([{ table: 't', op: 'insert', key: { id: 1 }, row: { id: 1 } }]);
  }, 60_000);
});

describe('VTTablet on do-sqlite: the engine’s tables are out of reach', () => {
  it('refuses reads and writes of them in any letter case', async () => {
    const { t } = tablet('do-sqlite');
    const q = (sql: string) => t.query('do-sqlite', sql);
    await q('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)');
    await q("INSERT INTO t VALUES (1, 'a')");
    for (const sql of [
      'SELECT * FROM _VT_LOG',
      'select * from _Vt_Log',
      'SELECT * FROM "_VT_LOG"',
      'SELECT * FROM _vt_log',
      'SELECT id FROM t WHERE id IN (SELECT lsn FROM _Vt_LoG)',
      'SELECT * FROM t JOIN "_vt_LOG" l ON l.lsn = t.id',
      'SELECT * FROM SQLITE_MASTER',
      'INSERT INTO _VT_LOG (lsn) VALUES (99)',
      'DELETE FROM "_Vt_Log"',
      'UPDATE _vt_LOG SET lsn = 0',
      'DROP TABLE _VT_LOG',
      'CREATE TABLE _VT_MINE (id INT PRIMARY KEY)',
      'ALTER TABLE t RENAME TO _Vt_Renamed',
    ])
      expect(await outcome(q(sql)), sql).toBe('INVALID');
    expect((await q('SELECT * FROM t')).rows).toEqual([{ id: 1, v: 'a' }]);
    expect((await t.pull(1)).records).toHaveLength(2);
  });
});
