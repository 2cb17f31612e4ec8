/**
 * The /demo page in Chromium against the real Worker under `wrangler dev`: an embedded PGlite
 * replica of `demo_notes` in the page, persisted in IndexedDB (docs/browser.md).
 * - A write through VTGate (the real client, from Node) is on the page within 1 s.
 * - A row typed into the page's form goes through VTGate and is shown.
 * - After a reload with the page's calls to VTGate held back (playwright routing), the rows are
 *   on the page from IndexedDB while not one call has been answered; rows written meanwhile
 *   show up once the calls go through.
 * - The shared note (a Yjs document in `demo_pad`, docs/yjs.md): typed into two pages, one of
 *   them offline for a while; both pages and the primary end with the same text, every edit in it.
 * Needs the browser bundle: `npm run build` (or `npm run build:browser`).
 */
import { existsSync } from 'node:fs';
import type { Browser, Page, Route, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as Y from 'yjs';
import { createClient, type VitessClient } from '../../client/index.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { launchBrowser, screenshot, signIn } from '../support/browser.js';

const BUNDLE = new URL('../../dist/public/browser/vitess.js', import.meta.url).pathname;
/** PGlite's first start in a page (wasm compile, initdb, bootstrap) on a loaded 2-core machine. */
const OPEN_MS = 45_000;

let w: WranglerDev;
let browser: Browser;
let page: Page;
let client: VitessClient;

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`no browser bundle at ${BUNDLE}: run npm run build:browser`);
  // Not /status: it wakes every shard and replica of every keyspace (PGlite ones included).
  w = await startWrangler({ readyPath: '/demo', vars: { VITESS_DEMO: 'on' } });
  client = createClient({ endpoint: w.url, keyspace: 'main', consistency: 'strong' });
  browser = await launchBrowser();
  page = await browser.newPage();
  await signIn(page.context(), w.url);
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => {
    if (m.text().startsWith('T ')) console.log('page:', m.text());
  });
  await page.addInitScript(countIdbTransactions);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await client?.disconnect();
  await w?.stop();
});

/**
 * Runs in the page: keeps `window.idbBusy`, the IndexedDB transactions begun and not yet ended.
 * The replica saves its files to IndexedDB after each applied transaction, in a timer task queued
 * at the commit; a reload before that save ends would start from the one before (the stream would
 * send the rest again, but this test wants every row from IndexedDB). See `settled`.
 */
function countIdbTransactions(): void {
  const w = window as unknown as { idbBusy: number };
  w.idbBusy = 0;
  const begin = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof begin>) {
    const tx = begin.apply(this, args);
    w.idbBusy++;
    // Every transaction ends with exactly one of these (an error event is followed by abort).
    for (const end of ['complete', 'abort'] as const)
      tx.addEventListener(end, () => {
        w.idbBusy--;
      });
    return tx;
  } as typeof begin;
}

/**
 * Whether the page's IndexedDB writes are over: checked from a timer queued after every save the
 * replica has queued so far (timers run in order), so a save that is due but not begun is not
 * missed; a save that has begun holds an IndexedDB transaction until it is written.
 */
const settled = (p: Page) =>
  p.evaluate(
    () =>
      new Promise<boolean>((resolve) => {
        setTimeout(() => resolve((window as unknown as { idbBusy: number }).idbBusy === 0), 10);
      }),
  );

const bodies = (p: Page) => p.$$eval('#rows td.body', (tds) => tds.map((td) => td.textContent ?? ''));

/** Waits until the page's replica says it is in sync with VTGate. */
const live = (p: Page, timeout = OPEN_MS) => p.waitForSelector('#state[data-state="live"]', { timeout });

/** Resolves with the page's clock (ms) when a row with `body` is on the page (null after `timeoutMs`). */
function appearance(p: Page, body: string, timeoutMs: number): Promise<number | null> {
  return p.evaluate(
    ([body, timeoutMs]) =>
      new Promise<number | null>((resolve) => {
        const rows = document.getElementById('rows')!;
        const seen = () => [...rows.querySelectorAll('td.body')].some((td) => td.textContent === body);
        if (seen()) return resolve(Date.now());
        const timer = setTimeout(() => {
          obs.disconnect();
          resolve(null);
        }, timeoutMs);
        const obs = new MutationObserver(() => {
          if (!seen()) return;
          clearTimeout(timer);
          obs.disconnect();
          resolve(Date.now());
        });
        obs.observe(rows, { childList: true, subtree: true, characterData: true });
      }),
    [body, timeoutMs] as const,
  );
}

test("a write through VTGate shows up in the page within 1 s; a row from the page's form too", async () => {
  await page.goto(`${w.url}/demo`);
  await live(page);
  expect(await bodies(page)).toEqual([]);

  const latencies: number[] = [];
  for (const id of [1, 2, 3]) {
    const body = `from node ${id}`;
    const shown = appearance(page, body, 10_000);
    const issued = Date.now();
    await client.execute('INSERT INTO demo_notes (id, body) VALUES ($1, $2)', [id, body]);
    const acked = Date.now();
    console.log('acked at', acked);
    const at = await shown;
    expect(at, `${body} never showed up`).not.toBeNull();
    console.log(`write ${id}: on the page ${at! - acked} ms after VTGate acknowledged it (${at! - issued} ms after it was sent)`);
    latencies.push(at! - acked);
  }

  await page.fill('#body', 'typed in the page');
  await page.click('#add button');
  await page.waitForSelector('#rows td.body:text-is("typed in the page")', { timeout: 10_000 });
  // It went through VTGate: the primaries have it.
  const r = await client.query<{ n: number }>('SELECT count(*) AS n FROM demo_notes WHERE body = $1', ['typed in the page']);
  expect(Number(r.rows[0]!.n)).toBe(1);
  // Checked last, so that the next test has every row even when this bound is missed.
  expect(Math.max(...latencies), `ms from acknowledgement to the page: ${latencies.join(', ')}`).toBeLessThan(1000);
}, 120_000);

/** Holds the page's calls to VTGate (`/rpc`, HTTP batch or WebSocket) until `open()`. */
class Gate {
  readonly held: Route[] = [];
  readonly sockets: WebSocketRoute[] = [];
  #closed = true;

  async install(p: Page): Promise<void> {
    const rpc = (u: URL) => u.pathname === '/rpc';
    await p.route(rpc, (route) => (this.#closed ? void this.held.push(route) : route.continue()));
    await p.routeWebSocket(rpc, (ws) => {
      if (this.#closed) this.sockets.push(ws);
      else ws.connectToServer();
    });
  }

  get attempts(): number {
    return this.held.length + this.sockets.length;
  }

  async open(): Promise<void> {
    this.#closed = false;
    for (const r of this.held.splice(0)) await r.continue();
    // A socket opened while closed is cut: the client reopens it, through the open gate.
    for (const ws of this.sockets.splice(0)) await ws.close({ code: 1012, reason: 'gate opened' });
  }
}

test('after a reload the rows come from IndexedDB before any call to VTGate is answered, then the page catches up', async () => {
  const before = await bodies(page);
  expect(before).toHaveLength(4);
  await expect.poll(() => settled(page), { timeout: 10_000, interval: 50 }).toBe(true);
  const gate = new Gate();
  await gate.install(page);
  await page.reload();

  // Every row is back while the page's replica has tried to reach VTGate and got no answer.
  await page.waitForFunction((n) => document.querySelectorAll('#rows td.body').length === n, before.length, { timeout: OPEN_MS });
  await expect.poll(() => gate.attempts, { timeout: 10_000 }).toBeGreaterThan(0);
  expect((await bodies(page)).sort()).toEqual([...before].sort());
  expect(await page.getAttribute('#state', 'data-state')).not.toBe('live');

  // Written while the page cannot hear about it.
  for (const id of [4, 5]) await client.execute('INSERT INTO demo_notes (id, body) VALUES ($1, $2)', [id, `meanwhile ${id}`]);
  await client.execute('UPDATE demo_notes SET body = $1 WHERE id = $2', ['from node 1, edited meanwhile', 1]);
  expect(await bodies(page)).not.toContain('meanwhile 4');

  await gate.open();
  await live(page, 30_000);
  await page.waitForFunction(() => [...document.querySelectorAll('#rows td.body')].some((td) => td.textContent === 'meanwhile 5'), null, { timeout: 10_000 });
  const after = await bodies(page);
  expect(after.sort()).toEqual(['from node 1, edited meanwhile', 'from node 2', 'from node 3', 'meanwhile 4', 'meanwhile 5', 'typed in the page']);
  await screenshot(page, 'demo');
}, 120_000);

test('the shared note: two pages edit it, one of them offline, and both end with every edit', async () => {
  const other = await browser.newContext(); // its own IndexedDB: a second device
  await signIn(other, w.url);
  const page2 = await other.newPage();
  page2.on('pageerror', (e) => console.error('page 2 error:', e.message));
  await page2.goto(`${w.url}/demo`);
  await Promise.all([live(page), live(page2)]);
  const note = (p: Page) => p.inputValue('#pad');
  const onPrimary = async () => {
    const [row] = (await client.query('SELECT body FROM demo_pad WHERE id = 1')).rows;
    const doc = new Y.Doc();
    if (row?.body) Y.applyUpdate(doc, row.body as Uint8Array);
    return doc.getText('body').toString();
  };
  const type = async (p: Page, s: string) => {
    await p.locator('#pad').press('End');
    await p.locator('#pad').pressSequentially(s);
  };

  await type(page, 'one: hello. ');
  await expect.poll(() => note(page2), { timeout: 15_000 }).toContain('one: hello. ');

  await other.setOffline(true);
  await type(page2, 'two, offline. ');
  await type(page, 'one, meanwhile. ');
  await expect.poll(onPrimary, { timeout: 15_000 }).toContain('one, meanwhile. ');
  expect(await onPrimary()).not.toContain('two, offline.');
  expect(await note(page2)).not.toContain('one, meanwhile.');

  await other.setOffline(false);
  const all = ['one: hello. ', 'two, offline. ', 'one, meanwhile. '];
  await expect
    .poll(async () => [await note(page), await note(page2), await onPrimary()], { timeout: 30_000 })
    .toSatisfy((v: string[]) => v[0] === v[1] && v[1] === v[2] && all.every((s) => v[0]!.includes(s)));
  await screenshot(page2, 'demo-note');
  await other.close();
}, 120_000);
