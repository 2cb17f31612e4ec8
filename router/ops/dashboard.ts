/**
 * The dashboard VTGate serves at `GET /`: one self-contained page (inline CSS and JS, no
 * requests but VTGate's own JSON routes, nothing built at run time). It polls `/status` (shards,
 * key ranges, primary LSNs, replicas per region) and `/errors` every 2 s, derives each shard's
 * write rate from successive LSNs (one LSN per commit), and runs the SQL box through `POST /sql`
 * with its `EXPLAIN` beside it.
 */
import { htmlResponse, nonce } from '../gateway/edge.js';

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;color:#1d2433;background:#f4f6f9}
header{display:flex;gap:1rem;align-items:baseline;padding:.8rem 1.2rem;background:#1d2433;color:#fff}
header h1{font-size:1.1rem;margin:0}header small{opacity:.7}#live{margin-left:auto;font-size:.85rem}
main{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem;padding:1rem 1.2rem}
section{background:#fff;border:1px solid #dde2ea;border-radius:6px;padding:.8rem 1rem;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:1rem;margin:0 0 .6rem}h3{font-size:.95rem;margin:.8rem 0 .3rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eef1f5;vertical-align:top}
th{color:#5a6478;font-weight:600}th.n,td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre,textarea{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace}
.tag{display:inline-block;padding:0 .4rem;margin:0 .3rem .2rem 0;border-radius:3px;background:#e8f3ea;color:#1e6b34;font-size:.8rem}
.tag.warn{background:#fff4e0;color:#8a5a00}.tag.bad{background:#fde8e8;color:#a12121}
textarea{width:100%;min-height:5.5rem;padding:.5rem;border:1px solid #c9d1dc;border-radius:4px}
.bar{display:flex;gap:.6rem;align-items:center;margin:.4rem 0}button{padding:.35rem 1rem;border:0;border-radius:4px;background:#2457c5;color:#fff;cursor:pointer}
.out{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem}.scroll{overflow:auto;max-height:24rem}
pre{margin:0;padding:.5rem;background:#f7f8fa;border-radius:4px;white-space:pre-wrap}#meta{color:#5a6478}.err{color:#a12121}
@media (max-width:900px){main,.out{grid-template-columns:1fr}}
`;

// Runs in the browser. Builds the DOM with textContent only: nothing from the server is parsed as HTML.
const SCRIPT = `
const $ = (id) => document.getElementById(id);
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const k of kids.flat()) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}
function table(head, rows) {
  return h('table', {}, h('thead', {}, h('tr', {}, head.map((c) => (c instanceof Node ? c : h('th', {}, c))))), h('tbody', {}, rows));
}
const range = (s) => (s.start ? '0x' + s.start : 'min') + ' … ' + (s.end ? '0x' + s.end : 'max');
const prev = new Map();
function rate(key, lsn, now) {
  const p = prev.get(key);
  prev.set(key, { lsn, now });
  if (!p || now <= p.now) return '–';
  return ((lsn - p.lsn) / ((now - p.now) / 1000)).toFixed(1);
}
function replica(r) {
  if (r.appliedLsn === undefined) return h('span', { class: 'tag warn' }, r.region + ': ' + r.state);
  const cls = r.state === 'streaming' ? 'tag' : 'tag warn';
  return h('span', { class: cls, title: r.error || '' }, r.region + ': ' + r.state + ' @' + r.appliedLsn + ', lag ' + r.lagRecords + ' / ' + r.lagMs + ' ms');
}
async function refresh() {
  try {
    const [status, errors] = await Promise.all([fetch('/status').then((r) => r.json()), fetch('/errors').then((r) => r.json())]);
    if (status.error) throw new Error(status.error.message);
    const now = Date.now();
    $('keyspaces').replaceChildren(...status.keyspaces.map((ks) => h('div', { 'data-keyspace': ks.name },
      h('h3', {}, ks.name + ' ', h('small', {}, ks.engine + ' · ' + ks.shards.length + ' shards · replicas in ' + (ks.regions.join(', ') || 'no region'))),
      table(['shard', 'key range', 'engine', h('th', { class: 'n' }, 'primary LSN'), h('th', { class: 'n' }, 'writes/s'), 'replicas (region: state @LSN, lag records / ms)'],
        ks.shards.map((s) => h('tr', { 'data-shard': ks.name + '/' + s.shard },
          h('td', {}, h('code', {}, s.shard)), h('td', {}, range(s)), h('td', {}, s.engine),
          h('td', { class: 'n' }, s.lsn), h('td', { class: 'n' }, rate(ks.name + '/' + s.shard, s.lsn, now)),
          h('td', {}, (s.replicas || []).map(replica))))))));
    const ksSelect = $('keyspace');
    if (!ksSelect.options.length) for (const ks of status.keyspaces) ksSelect.append(h('option', { value: ks.name }, ks.name));
    $('errors').replaceChildren(!errors.errors ? h('p', {}, errors.error.message) : errors.errors.length
      ? table(['time', 'keyspace', 'code', 'message', 'sql'], errors.errors.map((e) => h('tr', {},
          h('td', {}, new Date(e.at).toLocaleTimeString()), h('td', {}, e.keyspace), h('td', {}, h('span', { class: 'tag bad' }, e.code)),
          h('td', {}, e.message), h('td', {}, h('code', {}, e.sql)))))
      : h('p', {}, 'No errors since this isolate started.'));
    $('live').textContent = 'updated ' + new Date(now).toLocaleTimeString();
  } catch (e) {
    $('live').textContent = 'cannot reach VTGate: ' + e.message;
  }
}
async function sql(body) {
  const r = await fetch('/sql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}
const cell = (v) => (v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v));
async function run() {
  const text = $('sql').value.trim().replace(/;\\s*$/, '');
  if (!text) return;
  const keyspace = $('keyspace').value || 'main';
  $('meta').textContent = 'running…';
  const started = performance.now();
  const explained = /^explain\\b/i.test(text);
  const [res, plan] = await Promise.all([sql({ keyspace, sql: text }), explained ? null : sql({ keyspace, sql: 'EXPLAIN ' + text })]);
  const ms = Math.round(performance.now() - started);
  const planRows = plan ? plan : res;
  $('plan').textContent = planRows.error ? planRows.error.code + ': ' + planRows.error.message : planRows.rows.map((r) => Object.values(r)[0]).join('\\n');
  if (res.error) {
    $('meta').replaceChildren(h('span', { class: 'err' }, res.error.code + ': ' + res.error.message));
    $('rows').replaceChildren();
  } else {
    const by = res.servedBy;
    $('meta').textContent = res.rowCount + ' row' + (res.rowCount === 1 ? '' : 's') + (res.affected ? ' · ' + res.affected + ' affected' : '') +
      ' · ' + res.plan + ' · ' + by.role + (by.role === 'replica' ? ' ' + by.region : '') + (by.shard ? ' on ' + by.shard : '') + ' · ' + ms + ' ms';
    $('rows').replaceChildren(res.fields.length ? table(res.fields.map((f) => f.name), res.rows.map((r) => h('tr', {}, res.fields.map((f) => h('td', {}, cell(r[f.name])))))) : '');
  }
  refresh();
}
$('run').addEventListener('click', run);
$('sql').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(); });
refresh();
setInterval(refresh, 2000);
`;

const dashboardHtml = (scriptNonce: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Vitess.do</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>
<header><h1>Vitess.do</h1><small>VTGate · <a style="color:inherit" href="/metrics">/metrics</a> · <a style="color:inherit" href="/status">/status</a></small><span id="live">loading…</span></header>
<main>
<section class="wide"><h2>Keyspaces and shards</h2><div id="keyspaces">loading…</div></section>
<section class="wide"><h2>SQL</h2>
<textarea id="sql" spellcheck="false" placeholder="SELECT * FROM users WHERE id = 1   (Ctrl+Enter runs)"></textarea>
<div class="bar"><label>keyspace <select id="keyspace"></select></label><button id="run">Run</button><span id="meta"></span></div>
<div class="out"><div><h3>Rows</h3><div id="rows" class="scroll"></div></div><div><h3>Plan (EXPLAIN)</h3><pre id="plan"></pre></div></div>
</section>
<section class="wide"><h2>Recent errors</h2><div id="errors"></div></section>
</main>
<script nonce="${scriptNonce}">${SCRIPT}</script>
</body></html>
`;

export function dashboardResponse(): Response {
  const n = nonce();
  return htmlResponse(dashboardHtml(n), n);
}
