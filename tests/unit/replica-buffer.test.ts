// The replica's pure parts: the buffer between applied and primary LSN (order, gaps, delay,
// lag), and the copy statements that load snapshot pages (under the parameter limit).
import { describe, expect, it } from 'vitest';
import { LibsqlEngine } from '../../engines/libsql.js';
import { LIMITS } from '../../engines/limits.js';
import { LogBuffer } from '../../replica/buffer.js';
import { copyStatements } from '../../replica/copy.js';
import type { LogRecord } from '../../rpc/changes.js';

const rec = (lsn: number, ts = 1000 + lsn): LogRecord => ({ lsn, ts, txid: `t${lsn}`, changes: [] });

describe('LogBuffer', () => {
  it('hands out contiguous records from applied + 1, ignoring duplicates and applied ones', () => {
    const b = new LogBuffer();
    b.offer([rec(3), rec(1), rec(2), rec(2), rec(5)]);
    expect(b.due(10_000, 0, 10).records.map((r) => r.lsn)).toEqual([1, 2, 3]);
    b.advance(3, 1003);
    b.offer([rec(2), rec(3)]);
    expect(b.size).toBe(1); // only 5 is held
    expect(b.due(10_000, 0, 10).records).toEqual([]);
    expect(b.needsPull()).toBe(true); // 4 is missing, 5 proves it exists
    b.offer([rec(4)]);
    expect(b.needsPull()).toBe(false);
    expect(b.due(10_000, 0, 1).records.map((r) => r.lsn)).toEqual([4]); // limit
  });

  it('holds records back until they are delayMs old, and says how long to wait', () => {
    const b = new LogBuffer();
    b.offer([rec(1, 1000), rec(2, 1500)]);
    expect(b.due(1200, 500, 10)).toEqual({ records: [], waitMs: 300 });
    expect(b.due(1600, 500, 10).records.map((r) => r.lsn)).toEqual([1]);
    expect(b.due(2000, 500, 10).records.map((r) => r.lsn)).toEqual([1, 2]);
  });

  it('reports lag from the primary LSN and the oldest unapplied commit', () => {
    const b = new LogBuffer();
    expect(b.lag(5000)).toEqual({ lagRecords: 0, lagMs: 0 });
    b.offer([rec(1, 1000), rec(2, 2000)]);
    expect(b.lag(5000)).toEqual({ lagRecords: 2, lagMs: 4000 });
    b.advance(1, 1000);
    expect(b.lag(5000)).toEqual({ lagRecords: 1, lagMs: 3000 });
    b.advance(2, 2000);
    expect(b.lag(5000)).toEqual({ lagRecords: 0, lagMs: 0 });
    b.heard(4); // a bookmark or a pull says the primary is further
    expect(b.lag(5000)).toEqual({ lagRecords: 2, lagMs: 3000 });
    expect(b.needsPull()).toBe(true);
    b.primaryIs(2); // the primary's own word replaces a guess
    expect(b.needsPull()).toBe(false);
  });

  it('is infinitely stale until the primary confirms an LSN it has applied, then ages from that time', () => {
    const b = new LogBuffer();
    b.reset(10); // a restart: nothing heard from the primary yet
    expect(b.staleness(5000)).toBe(Infinity);
    b.heard(12); // a bookmark: the primary is further, at an unknown time
    expect(b.staleness(5000)).toBe(Infinity);
    b.confirm(12, 1000); // a pull asked at 1000: the primary was at 12
    b.confirm(13, 2000);
    b.confirm(13, 1500); // older and needing as much: tells nothing more
    expect(b.staleness(5000)).toBe(Infinity); // 11 and 12 not applied
    b.offer([rec(11, 900), rec(12, 950), rec(13, 1800)]);
    b.advance(12, 950);
    expect(b.freshAt).toBe(1000);
    expect(b.staleness(5000)).toBe(4000);
    b.advance(13, 1800);
    expect(b.staleness(5000)).toBe(3000);
    b.confirm(13, 4000); // caught up when asked: fresh as of then
    expect(b.staleness(5000)).toBe(1000);
    b.clear(); // a copy starts: nothing is known again
    expect(b.staleness(5000)).toBe(Infinity);
  });

  it('reports the lag after a restart from the confirmed time, not as 0', () => {
    const b = new LogBuffer();
    b.reset(5);
    b.confirm(5, 1000);
    b.heard(7);
    expect(b.lag(4000)).toEqual({ lagRecords: 2, lagMs: 3000 });
  });

  it('keeps the oldest records when full (the rest is pulled later)', () => {
    const b = new LogBuffer(3);
    b.offer([rec(5), rec(6), rec(7), rec(8)]);
    b.offer([rec(1)]);
    expect(b.size).toBe(3);
    b.offer([rec(2), rec(3), rec(4)]);
    expect(b.due(10_000, 0, 10).records.map((r) => r.lsn)).toEqual([1, 2, 3]);
    expect(b.primaryLsn).toBe(8);
  });
});

describe('copyStatements', () => {
  it('upserts pages in statements under the parameter limit, overwriting rows already there', async () => {
    const db = await LibsqlEngine.open(':memory:');
    await db.query('CREATE TABLE t (a INT, b TEXT, c JSONB, d BIGINT, e BYTEA, f TEXT, g TEXT, PRIMARY KEY (a, b))');
    await db.query(`INSERT INTO t VALUES (0, 'x', '{"old":true}', 1, NULL, NULL, NULL)`);
    const rows = Array.from({ length: 250 }, (_, i) => ({
      a: i % 7,
      b: i === 0 ? 'x' : `k${i}`,
      c: { i },
      d: 2n ** 60n + BigInt(i),
      e: new Uint8Array([i % 256]),
      f: null,
      g: 'g',
    }));
    const statements = copyStatements('t', ['a', 'b'], rows);
    expect(statements.every((s) => (s.params?.length ?? 0) <= LIMITS.paramsPerStatement)).toBe(true);
    expect(statements.length).toBe(Math.ceil(250 / Math.floor(LIMITS.paramsPerStatement / 7)));
    await db.batch(statements, { atomic: true });
    expect((await db.query('SELECT count(*) AS n FROM t')).rows).toEqual([{ n: 250 }]);
    expect((await db.query(`SELECT c, d FROM t WHERE a = 0 AND b = 'x'`)).rows).toEqual([{ c: { i: 0 }, d: 2n ** 60n }]);
    // A table whose every column is in the key.
    await db.query('CREATE TABLE k (a INT, b INT, PRIMARY KEY (a, b))');
    await db.batch(
      copyStatements(
        'k',
        ['a', 'b'],
        [
          { a: 1, b: 2 },
          { a: 1, b: 3 },
        ],
      ),
      { atomic: true },
    );
    await db.batch(copyStatements('k', ['a', 'b'], [{ a: 1, b: 2 }]), { atomic: true });
    expect((await db.query('SELECT count(*) AS n FROM k')).rows).toEqual([{ n: 2 }]);
    expect(copyStatements('k', ['a'], [])).toEqual([]);
    await db.close();
  });
});
