// The /demo page's first load for `npm run bench` (docs/browser.md, "First load"): VTGate under
// `wrangler dev` (the repository's wrangler.jsonc, as tests/browser/demo.test.ts runs it),
// ROWS rows in `demo_notes` written through the client, then Chromium opens /demo RUNS times,
// each in a fresh browser context (empty HTTP cache and IndexedDB): ms from navigation start to
// the first rows on the page, and to the sync line saying `live`. Then a second load in the same
// context (warm HTTP cache, the IndexedDB copy). Where the time went comes from the page's own
// clock: resource timing of PGlite's files and of the calls to VTGate, and the page's marks
// (engines/pglite-idb.ts: PGlite's files in, PGlite started; router/ops/demo-app.ts: replica open).
// Needs `npm run build` (dist/ and dist/public/browser/). Run alone with
// `node_modules/.bin/node bench/browser.mjs`; BROWSER_RUNS sets the runs (default 3).
import { loadavg } from 'node:os';
import { chromium } from 'playwright-core';
import { createClient } from '../dist/client/index.js';
import { startWrangler } from '../scripts/wrangler-dev.mjs';
import { authHeaders } from './auth.mjs';
import { fmt, table } from './measure.mjs';

const ROWS = 200;
const RUNS = Number(process.env.BROWSER_RUNS ?? 3);
const TARGET_MS = 2_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OPEN_MS = 60_000;

/** What the page fetches, in order of need. */
const FILES = ['demo.js', 'vitess.js', 'pglite.wasm', 'pglite.data.gz', 'pgdata.tar.gz', 'initdb.wasm'];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Runs in the page before its scripts: `window.firstRows` is the page's clock (ms since navigation
 * start) when `#rows` first holds a row; `window.idbBusy` counts IndexedDB transactions in flight
 * (so the warm load starts from a settled copy, as tests/browser/demo.test.ts does).
 */
function instrument() {
  const w = window;
  w.idbBusy = 0;
  const begin = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (...args) {
    const tx = begin.apply(this, args);
    w.idbBusy++;
    for (const end of ['complete', 'abort']) tx.addEventListener(end, () => w.idbBusy--);
    return tx;
  };
  new MutationObserver((_, obs) => {
    if (document.querySelector('#rows tr')) {
      w.firstRows = performance.now();
      obs.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
}

/** The page's timings once its rows are shown and it is live (all ms since navigation start). */
const pageTimings = (page) =>
  page.evaluate((files) => {
    const res = performance.getEntriesByType('resource');
    // PGlite's files under content-hashed names (browser/assets/pglite-<hash>.wasm), or its own.
    const file = (name) => {
      const [base, ext] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.'))];
      const path = new RegExp(`/${base}(-[0-9a-f]{16})?${ext.replaceAll('.', '\\.')}$`);
      return res.find((r) => path.test(new URL(r.name).pathname));
    };
    const span = (r) => r && { start: Math.round(r.startTime), end: Math.round(r.responseEnd), bytes: r.transferSize };
    const rpc = res.filter((r) => new URL(r.name).pathname === '/rpc');
    const marks = performance.getEntriesByType('mark').map((m) => [m.name, Math.round(m.startTime)]);
    return {
      firstRows: Math.round(window.firstRows),
      html: Math.round(performance.getEntriesByType('navigation')[0].responseEnd),
      files: Object.fromEntries(files.map((f) => [f, span(file(f))])),
      firstRpc: rpc.length ? Math.round(Math.min(...rpc.map((r) => r.startTime))) : undefined,
      marks,
    };
  }, FILES);

async function load(page, url) {
  const t = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => window.firstRows !== undefined, null, { timeout: OPEN_MS, polling: 50 });
  const timings = await pageTimings(page);
  await page.waitForSelector('#state[data-state="live"]', { timeout: OPEN_MS });
  return { ...timings, live: Date.now() - t };
}

/** Until the page's IndexedDB writes are over (checked from a timer queued after every save queued so far). */
async function settle(page) {
  const deadline = Date.now() + 30_000;
  while (!(await page.evaluate(() => new Promise((r) => setTimeout(() => r(window.idbBusy === 0), 10))))) {
    if (Date.now() > deadline) throw new Error('bench/browser: the page kept writing IndexedDB for 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One line per load: where the time went, from the page's clock. */
function breakdown(t) {
  const f = (name) => {
    const r = t.files[name];
    return r ? `${name} ${r.start}→${r.end}${r.bytes === 0 ? ' (cache)' : ''}` : `${name} –`;
  };
  const marks = t.marks.map(([k, v]) => `${k} ${v}`).join(', ');
  return `html ${t.html}, ${FILES.map(f).join(', ')}, first /rpc ${t.firstRpc ?? '–'}${marks ? `, ${marks}` : ''}, rows ${t.firstRows}`;
}

export async function browserBench(log = () => undefined) {
  const loadBefore = loadavg()[0];
  log('bench: /demo first load in Chromium: starting wrangler dev …');
  const w = await startWrangler({ readyPath: '/ready', vars: { VITESS_DEMO: 'on' } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const client = createClient({ endpoint: w.url, keyspace: 'main' });
  try {
    // The first GET /demo creates the table.
    const res = await fetch(`${w.url}/demo`, { headers: authHeaders() });
    if (!res.ok) throw new Error(`GET /demo: ${res.status} ${await res.text()}`);
    for (let i = 0; i < ROWS; i += 20)
      await Promise.all(
        Array.from({ length: 20 }, (_, k) => client.execute('INSERT INTO demo_notes (id, body) VALUES ($1, $2)', [i + k + 1, `note ${i + k + 1}`])),
      );
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      log(`bench: /demo load ${i + 1}/${RUNS} (fresh profile, then warm) …`);
      const context = await browser.newContext();
      await context.addCookies([{ name: 'vitess_token', value: process.env.VITESS_TOKEN, url: w.url, httpOnly: true, sameSite: 'Strict' }]);
      await context.addInitScript(instrument);
      const page = await context.newPage();
      page.on('pageerror', (e) => log(`  page error: ${e.message}`));
      const cold = await load(page, `${w.url}/demo`);
      await settle(page);
      const warm = await load(page, `${w.url}/demo`);
      await context.close();
      log(`  cold: ${breakdown(cold)}; live ${cold.live}`);
      log(`  warm: ${breakdown(warm)}; live ${warm.live}`);
      runs.push({ cold, warm });
    }
    const coldMs = median(runs.map((r) => r.cold.firstRows));
    const loadAfter = loadavg()[0];
    return `## The /demo page's first load

\`bench/browser.mjs\`: VTGate under \`wrangler dev\` (keyspace \`main\`), ${ROWS} rows in \`demo_notes\`,
Chromium (headless) loading \`/demo\` ${RUNS} times, each in a fresh browser context (empty HTTP cache
and IndexedDB), then once more in the same context (warm: HTTP cache and the IndexedDB copy).
Ms from navigation start to the first rows on the page (the page's clock), and to the sync line
saying \`live\` (Node's clock, from \`goto\`). Load average ${fmt(loadBefore, 1)} before, ${fmt(loadAfter, 1)} after.
Where the time goes: docs/browser.md, "First load".

**First load → rows on screen: median ${fmt(coldMs)} ms (target ≤ ${fmt(TARGET_MS)} ms).**

${table(
  ['run', 'first load: rows ms', 'first load: live ms', 'warm load: rows ms', 'warm load: live ms'],
  runs.map((r, i) => [i + 1, fmt(r.cold.firstRows), fmt(r.cold.live), fmt(r.warm.firstRows), fmt(r.warm.live)]),
)}
`;
  } finally {
    await client.disconnect();
    await browser.close();
    await w.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(await browserBench((m) => process.stdout.write(`${m}\n`)));
  process.exit(0);
}
