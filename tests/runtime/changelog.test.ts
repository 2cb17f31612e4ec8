// The change log's storage in a DO's SQLite: a log written before capture in place (one text per
// record) is migrated when it is opened, and in-place records follow it with nothing lost.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import { ChangeLog } from '../../changelog/log.js';
import { DoSqliteEngine } from '../../engines/do-sqlite.js';

it('migrates a log of inline records and continues it in place', async () => {
  const stub = env.TABLET.get(env.TABLET.idFromName(`changelog-${Math.random()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql;
    // The layout before capture in place, with two records in it.
    sql.exec('DROP TABLE IF EXISTS _vt_log');
    sql.exec('CREATE TABLE _vt_log (lsn INTEGER PRIMARY KEY, ts INTEGER NOT NULL, txid TEXT NOT NULL, changes TEXT NOT NULL)');
    sql.exec(`INSERT INTO _vt_log VALUES (1, 1, 'a', '[{"ddl":"CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"}]')`);
    sql.exec(`INSERT INTO _vt_log VALUES (2, 2, 'b', '[{"table":"t","op":"insert","key":{"id":1},"row":{"id":1,"v":"old"}}]')`);
    const log = new ChangeLog(sql);
    expect(log.lastLsn).toBe(2);
    const db = new DoSqliteEngine(state.storage);
    await db.query('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)');
    await db.enableCapture((unit) => { log.record(unit, 'c'); });
    await db.query("INSERT INTO t VALUES (2, 'new'), (3, 'newer')");
    const { records } = log.pull(1);
    expect(records.map((r) => [r.lsn, r.txid, r.changes.length])).toEqual([[1, 'a', 1], [2, 'b', 1], [3, 'c', 2]]);
    expect(records[2]!.changes[1]).toEqual({ table: 't', op: 'insert', key: { id: 3 }, row: { id: 3, v: 'newer' } });
  });
});
