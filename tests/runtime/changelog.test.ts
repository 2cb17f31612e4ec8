// The change log's storage in a DO's SQLite: a log written before capture in place (one text per
// record) is migrated when it is opened, and in-place records follow it with nothing lost.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import { ChangeLog, IN_PLACE_LOG } from '../../changelog/log.js';
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
    const db = new DoSqliteEngine(state.storage, IN_PLACE_LOG);
    await db.query('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)');
    await db.enableCapture((unit) => {
      log.record(unit, 'c');
    });
    await db.query("INSERT INTO t VALUES (2, 'new'), (3, 'newer')");
    const { records } = log.pull(1);
    expect(records.map((r) => [r.lsn, r.txid, r.changes.length])).toEqual([
      [1, 'a', 1],
      [2, 'b', 1],
      [3, 'c', 2],
    ]);
    expect(records[2]!.changes[1]).toEqual({ table: 't', op: 'insert', key: { id: 3 }, row: { id: 3, v: 'newer' } });
  });
});

it('seals in place: a header per changed row, merged per unit, and none visible before its commit', async () => {
  const stub = env.TABLET.get(env.TABLET.idFromName(`changelog-${Math.random()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    const log = new ChangeLog(state.storage.sql);
    const db = new DoSqliteEngine(state.storage, IN_PLACE_LOG);
    await db.enableCapture((unit) => {
      log.record(unit);
    });
    await db.query('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)');
    await db.query("INSERT INTO t VALUES (1, 'a')");
    await db.query("INSERT INTO t VALUES (2, 'b'), (3, 'c'), (4, 'd')");
    await db.query("UPDATE t SET v = 'x' WHERE id > 9"); // changes nothing: no record
    // In a transaction the headers its statements wrote are not records until it commits.
    await db.transaction(async (tx) => {
      await tx.query("UPDATE t SET v = 'e' WHERE id <= 2");
      await tx.query('DELETE FROM t WHERE id = 4');
      expect(log.pull(1).records.map((r) => r.lsn)).toEqual([1, 2, 3]);
      expect(log.pull(1).lastLsn).toBe(3);
    });
    const { records } = log.pull(1);
    expect(records.map((r) => [r.lsn, r.changes.length])).toEqual([
      [1, 1],
      [2, 1],
      [3, 3],
      [4, 3],
    ]);
    expect(records[3]!.changes.map((c) => 'op' in c && c.op)).toEqual(['update', 'update', 'delete']);
    // Each record its own txid (random, stored), its time from the commit.
    expect(new Set(records.map((r) => r.txid)).size).toBe(4);
    for (const r of records) expect(Math.abs(r.ts - Date.now())).toBeLessThan(60_000);
    // A rolled-back transaction leaves no header behind; the next commit takes the next LSN.
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES (5, 'f')");
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    log.reload();
    await db.query("INSERT INTO t VALUES (6, 'g')");
    expect(log.pull(5).records.map((r) => [r.lsn, r.changes.length])).toEqual([[5, 1]]);
    // Trimmed to nothing: LSNs go on from the trim point, not from 1.
    log.trim({ keepRecords: 0, keepMs: 0, maxRecords: 0 }, Date.now() + 60_000);
    expect(log.firstLsn).toBe(6);
    await db.query("INSERT INTO t VALUES (7, 'h')");
    expect(log.pull(6).records.map((r) => [r.lsn, r.changes])).toEqual([[6, [{ table: 't', op: 'insert', key: { id: 7 }, row: { id: 7, v: 'h' } }]]]);
  });
});
