/**
 * The dashboard (`GET /`) in Chromium against the real Worker under `wrangler dev`: it shows the
 * default keyspaces and their shards with key ranges and primary LSNs, runs a query from its SQL
 * box and shows the rows next to the plan, lists a failed query under recent errors, and loads
 * nothing but itself and VTGate's JSON routes. Screenshot: tests/output/dashboard.png.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { jsonPost } from '../support/auth.js';
import { launchBrowser, screenshot, signIn } from '../support/browser.js';

let w: WranglerDev;
let browser: Browser;
let page: Page;
const requests: string[] = [];

async function sql(statement: string): Promise<void> {
  const res = await fetch(`${w.url}/sql`, jsonPost({ keyspace: 'main', sql: statement }));
  expect(res.status, await res.clone().text()).toBe(200);
}

beforeAll(async () => {
  w = await startWrangler({ readyPath: '/status' });
  await sql('CREATE TABLE dash (id BIGINT PRIMARY KEY, name TEXT NOT NULL)');
  await sql("INSERT INTO dash (id, name) VALUES (1, 'ada'), (2, 'bob'), (3, 'cy'), (4, 'dee')");
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page.context(), w.url);
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('request', (r) => requests.push(r.url()));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await w?.stop();
});

// biome-ignore lint/performance/useDomNodeTextContent: innerText is the text as rendered (line breaks between rows, no hidden text)
const text = (selector: string) => page.locator(selector).innerText();

test('shows the keyspaces, their shards with key ranges, primary LSNs and replicas', async () => {
  const res = await page.goto(w.url);
  expect(res!.headers()['content-type']).toBe('text/html; charset=utf-8');
  expect((await res!.body()).length).toBeLessThan(20_000); // one small page, nothing to build
  await page.locator('tr[data-shard="pg/80-"]').waitFor();
  expect(await page.locator('[data-keyspace]').evaluateAll((els) => els.map((e) => e.getAttribute('data-keyspace')))).toEqual(['main', 'pg']);
  expect(await page.locator('tr[data-shard]').evaluateAll((els) => els.map((e) => e.getAttribute('data-shard')))).toEqual([
    'main/-40',
    'main/40-80',
    'main/80-c0',
    'main/c0-',
    'pg/-80',
    'pg/80-',
  ]);
  const row = (await text('tr[data-shard="main/40-80"]')).split('\t');
  expect(row.slice(0, 3)).toEqual(['40-80', '0x40 … 0x80', 'do-sqlite']);
  expect(Number(row[3])).toBeGreaterThan(0); // the CREATE TABLE committed on every shard
  expect(row[5]).toMatch(/wnam: .*weur: /s);
  expect(await text('[data-keyspace="pg"] h3')).toContain('pglite · 2 shards · replicas in wnam, weur');
});

test('runs a query from the SQL box and shows its rows next to the plan', async () => {
  await page.locator('#keyspace').selectOption('main');
  await page.locator('#sql').fill('SELECT id, name FROM dash WHERE id IN (1, 2, 3, 4) ORDER BY id DESC');
  await page.locator('#run').click();
  await page.locator('#rows tbody tr').nth(3).waitFor();
  expect(await page.locator('#rows tbody tr').allInnerTexts()).toEqual(['4\tdee', '3\tcy', '2\tbob', '1\tada']);
  expect(await page.locator('#rows th').allInnerTexts()).toEqual(['id', 'name']);
  const plan = await text('#plan');
  expect(plan).toContain('multi-shard select on keyspace main');
  expect(plan).toContain('MergeSort');
  expect(await text('#meta')).toMatch(/^4 rows · multi-shard · primary on [-0-9a-f,]+ · \d+ ms$/);
  await screenshot(page, 'dashboard');
});

test('shows a failed query and lists it under recent errors', async () => {
  await page.locator('#sql').fill('SELECT nope FROM dash');
  await page.locator('#run').click();
  await page.locator('#meta .err').waitFor();
  expect(await text('#meta')).toMatch(/^NOT_FOUND: .*nope/);
  await page.locator('#errors tbody tr').first().waitFor();
  // biome-ignore lint/performance/useDomNodeTextContent: innerText separates the cells with tabs
  expect((await page.locator('#errors tbody tr').first().innerText()).split('\t').slice(1, 3)).toEqual(['main', 'NOT_FOUND']);
  // Everything the page loaded came from VTGate itself.
  expect(requests.every((u) => u.startsWith(w.url))).toBe(true);
  expect(new Set(requests.map((u) => new URL(u).pathname))).toEqual(new Set(['/', '/status', '/errors', '/sql']));
});
