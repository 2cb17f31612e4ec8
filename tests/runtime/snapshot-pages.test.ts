// How a DO SQLite tablet sizes a snapshot page (`DoSqliteEngine.pageJson`): by rows up to the
// asked limit, and by the JSON text it builds, so a table of wide rows pages fewer at a time —
// also when wide rows follow narrow ones, where the first rows' size misleads the estimate.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import { DoSqliteEngine } from '../../engines/do-sqlite.js';
import { pageRows } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';

it('pages wide rows after narrow ones near the character budget, every row once and in key order', async () => {
  const stub = env.TABLET.get(env.TABLET.idFromName(`pages-${Math.random()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    const db = new DoSqliteEngine(state.storage);
    await db.query('CREATE TABLE w (id INT PRIMARY KEY, s TEXT)');
    // 100 narrow rows, then 300 of 2,000 characters: a page of 20,000 rows would be ~600k.
    const fill = (from: number, to: number, s: string) =>
      state.storage.sql.exec(`WITH RECURSIVE c(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM c WHERE i < ${to}) INSERT INTO w SELECT i, ${s} FROM c`);
    fill(1, 100, "'x'");
    fill(101, 400, "printf('%.2000c', 'y')");
    const maxChars = 50_000;
    const ids: number[] = [];
    const sizes: number[] = [];
    let after: SqlValue[] | null = null;
    for (;;) {
      const page = await db.pageJson('w', ['id'], after, 20_000, maxChars);
      const rows = pageRows(page.columns, page.json);
      expect(rows).toHaveLength(page.count);
      ids.push(...rows.map((r) => Number(r.id)));
      sizes.push(page.json.length);
      if (page.count < page.limit) break;
      after = [rows.at(-1)!.id!];
    }
    expect(ids).toEqual(Array.from({ length: 400 }, (_, k) => k + 1));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2 * maxChars);
    // Pages of wide rows are sized to the budget, not one row at a time.
    expect(sizes.length).toBeLessThan(30);
  });
});

it('a page holds at most the rows asked for, and a short page ends the table', async () => {
  const stub = env.TABLET.get(env.TABLET.idFromName(`pages-${Math.random()}`));
  await runInDurableObject(stub, async (_instance, state) => {
    const db = new DoSqliteEngine(state.storage);
    await db.query('CREATE TABLE n (id INT PRIMARY KEY)');
    state.storage.sql.exec('WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 250) INSERT INTO n SELECT i FROM c');
    const first = await db.pageJson('n', ['id'], null, 100, 1_000_000);
    expect([first.count, first.limit]).toEqual([100, 100]);
    const last = await db.pageJson('n', ['id'], [200], 100, 1_000_000);
    expect([last.count, last.limit]).toEqual([50, 100]);
    const empty = await db.pageJson('n', ['id'], [250], 100, 1_000_000);
    expect([empty.count, empty.json]).toEqual([0, '[]']);
  });
});
