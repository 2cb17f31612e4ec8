/**
 * engines/pglite-idb.ts in Chromium: PGlite in IndexedDB, saved by background snapshots after
 * each write. A page reloaded at an arbitrary moment (saves cut off mid-write) reopens a state
 * after some committed transaction: rows and the position stored with them agree, none doubled
 * or lost against that position. Closing saves everything. The bundle is served by playwright
 * routing (no server); needs `npm run build:browser`.
 */
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchBrowser } from '../support/browser.js';

const DIST = new URL('../../dist/public/browser/', import.meta.url).pathname;
const ORIGIN = 'http://vitess.test';
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
/** PGlite's first start in a page (wasm compile, initdb) on a loaded 2-core machine. */
const OPEN_MS = 60_000;

let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(join(DIST, 'vitess.js'))) throw new Error(`no browser bundle in ${DIST}: run npm run build:browser`);
  browser = await launchBrowser();
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.route(`${ORIGIN}/**`, (route) => {
    const name = new URL(route.request().url()).pathname.slice(1);
    if (!name) return route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>pglite-idb</title>' });
    return route.fulfill({ path: join(DIST, name), contentType: TYPES[extname(name)] ?? 'application/octet-stream' });
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

interface Stored {
  /** Rows in `t`, and the highest id. */
  rows: number;
  top: number | null;
  /** The position stored in the same transactions as the rows. */
  n: number | null;
}

/** Opens the database in the page (`window.db`) and reads what it holds. */
async function open(p: Page): Promise<Stored> {
  // A module script: an import() in an evaluated function would be rewritten by vitest.
  await p.addScriptTag({ type: 'module', content: `import { openIdbPglite } from '${ORIGIN}/vitess.js'; window.openIdbPglite = openIdbPglite;` });
  await p.waitForFunction(() => 'openIdbPglite' in window, null, { timeout: OPEN_MS });
  return p.evaluate(async () => {
    type Db = { query(sql: string): Promise<{ rows: Stored[] }> };
    const db = await (window as unknown as { openIdbPglite(name: string): Promise<Db> }).openIdbPglite('torn-test');
    (window as unknown as { db: unknown }).db = db;
    await db.query('CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY)');
    await db.query('CREATE TABLE IF NOT EXISTS pos (k INT PRIMARY KEY, n INT NOT NULL)');
    return (await db.query('SELECT (SELECT count(*) FROM t) AS rows, (SELECT max(id) FROM t) AS top, (SELECT n FROM pos) AS n')).rows[0]!;
  });
}

/**
 * Starts, without waiting, transactions `from + 1` … `to`, each adding a row and storing its id as
 * the position (as the replica stores rows and LSNs), with a task between them as between stream
 * pages. Every fifth also creates and drops a table and checkpoints, which deletes and renames
 * files (with PGlite's `relaxedDurability`, files gone under a running sync broke it: docs/browser.md).
 * `window.n` is the last committed.
 */
function write(p: Page, from: number, to: number): Promise<void> {
  return p.evaluate(
    ([from, to]) => {
      type Tx = { query(sql: string, params?: unknown[]): Promise<unknown> };
      const w = window as unknown as { db: Tx & { transaction(fn: (tx: Tx) => Promise<void>): Promise<void> }; n: number; done: Promise<void> };
      w.n = from;
      w.done = (async () => {
        for (let i = from + 1; i <= to; i++) {
          await w.db.transaction(async (tx) => {
            await tx.query('INSERT INTO t (id) VALUES ($1)', [i]);
            await tx.query('INSERT INTO pos (k, n) VALUES (1, $1) ON CONFLICT (k) DO UPDATE SET n = EXCLUDED.n', [i]);
          });
          w.n = i;
          if (i % 5 === 0) for (const sql of ['CREATE TABLE scratch AS SELECT id FROM t', 'DROP TABLE scratch', 'CHECKPOINT']) await w.db.query(sql);
          await new Promise((r) => setTimeout(r, 0));
        }
      })();
    },
    [from, to] as const,
  );
}

const committed = (p: Page) => p.evaluate(() => (window as unknown as { n: number }).n);

test('a reload at any moment reopens rows and position from one transaction; close saves all', async () => {
  await page.goto(ORIGIN);
  let s = await open(page);
  expect(s).toEqual({ rows: 0, top: null, n: null });
  await write(page, 0, 30);
  await expect.poll(() => committed(page), { timeout: 30_000, interval: 10 }).toBeGreaterThanOrEqual(12);
  await page.reload(); // whatever save is under way is cut off
  s = await open(page);
  const n = s.n ?? 0;
  expect(s, 'reopened after a reload in the middle of the writes').toEqual({ rows: n, top: n === 0 ? null : n, n: s.n });
  expect(n).toBeLessThanOrEqual(30);
  console.log(`reloaded after ≥ 12 of 30 transactions: reopened at ${n}`);

  // Go on from what was kept (as a replica resumes from its stored position), then close: all is saved.
  const to = n + 20;
  await write(page, n, to);
  await page.evaluate(async () => {
    const w = window as unknown as { db: { close(): Promise<void> }; done: Promise<void> };
    await w.done;
    await w.db.close();
  });
  await page.reload();
  expect(await open(page)).toEqual({ rows: to, top: to, n: to });
}, 150_000);
