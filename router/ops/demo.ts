/**
 * `GET /demo`: a page embedding a PGlite replica of one table, persisted in IndexedDB, that shows
 * the table's rows live and inserts rows through VTGate (docs/browser.md). The page's script is
 * router/ops/demo-app.ts, bundled by scripts/build-browser.mjs next to the browser bundle under
 * /browser/ (static assets of the Worker).
 */
import { ADMIN } from '../access/grants.js';
import { htmlResponse, nonce } from '../gateway/edge.js';
import { Session } from '../session.js';
import type { Topology } from '../topology.js';

export const DEMO_TABLE = 'demo_notes';
/** The shared note: row 1's `body` holds a Yjs document (docs/yjs.md). */
export const DEMO_PAD = 'demo_pad';
const DEMO_DDL = [
  `CREATE TABLE IF NOT EXISTS ${DEMO_TABLE} (id BIGINT PRIMARY KEY, body TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${DEMO_PAD} (id BIGINT PRIMARY KEY, body BYTEA)`,
  `INSERT INTO ${DEMO_PAD} (id) VALUES (1) ON CONFLICT DO NOTHING`,
];

/** Per isolate and keyspace: the table is created once, not on every page load (DDL goes to every shard). */
const created = new Map<string, Promise<unknown>>();

async function ensureDemoTable(topology: Topology, keyspace: string): Promise<void> {
  let done = created.get(keyspace);
  if (!done) {
    const session = new Session(topology, keyspace, undefined, ADMIN);
    done = (async () => {
      for (const sql of DEMO_DDL) await session.run(sql, []);
    })();
    created.set(keyspace, done);
    done.catch(() => created.delete(keyspace)); // try again on the next load
  }
  await done;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function demoResponse(topology: Topology, url: URL): Promise<Response> {
  const keyspace = url.searchParams.get('keyspace') ?? 'main';
  await ensureDemoTable(topology, keyspace); // an unknown keyspace fails here, naming the known ones
  return htmlResponse(page(keyspace), nonce());
}

function page(keyspace: string): string {
  const ks = escapeHtml(keyspace);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vitess.do · embedded replica demo</title>
<link rel="icon" href="data:,">
<link rel="modulepreload" href="/browser/vitess.js">
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.35rem; margin-bottom: .2rem; }
  p.lead { color: #566; margin-top: 0; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #f3f5f8; padding: .7rem 1rem; border-radius: 6px; }
  dt { color: #566; } dd { margin: 0; font-family: ui-monospace, monospace; }
  #state[data-state="live"] { color: #0a7b32; } #state[data-state="local"] { color: #a15c00; } #state[data-state="error"] { color: #b00020; }
  form { display: flex; gap: .5rem; margin: 1rem 0; } input { flex: 1; padding: .4rem; } button { padding: .4rem .9rem; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e6ea; }
  td.id { font-family: ui-monospace, monospace; color: #566; width: 12rem; }
  h2 { font-size: 1.1rem; margin: 1.4rem 0 .2rem; } textarea { width: 100%; box-sizing: border-box; padding: .4rem; font: inherit; }
</style>
</head>
<body>
<main id="demo" data-keyspace="${ks}" data-table="${DEMO_TABLE}" data-pad="${DEMO_PAD}">
  <h1>Embedded replica in the browser</h1>
  <p class="lead">Table <code>${DEMO_TABLE}</code> of keyspace <code>${ks}</code>, replicated into PGlite in this page and kept in IndexedDB. Rows come from the local database; writes go through VTGate and show up here once the change stream has applied them.</p>
  <dl>
    <dt>sync</dt><dd id="state" data-state="opening">opening…</dd>
    <dt>LSN</dt><dd id="lsn">–</dd>
    <dt>rows</dt><dd id="count">–</dd>
  </dl>
  <form id="add">
    <input id="body" name="body" placeholder="a note" autocomplete="off" required maxlength="200">
    <button type="submit">Insert through VTGate</button>
  </form>
  <h2>Shared note</h2>
  <p class="lead">A Yjs document in row 1 of <code>${DEMO_PAD}</code>: edit it in two pages, one of them offline, and both end with every edit.</p>
  <textarea id="pad" rows="4" placeholder="write here" spellcheck="false"></textarea>
  <p id="error" role="alert" hidden></p>
  <table><thead><tr><th>id</th><th>body</th></tr></thead><tbody id="rows"></tbody></table>
</main>
<script type="module" src="/browser/demo.js"></script>
</body>
</html>
`;
}
