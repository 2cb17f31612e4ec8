/**
 * The /demo page's script, run in the browser (router/ops/demo.ts serves the page). Bundled by
 * scripts/build-browser.mjs as /browser/demo.js, which loads the browser bundle
 * /browser/vitess.js by URL, as any page would.
 *
 * Rows always come from the local PGlite replica (kept in IndexedDB), so after a reload they are
 * on the page before VTGate answers anything; the sync line says how far the replica is.
 */
import type { Text as YText } from 'yjs';
import { createClient, createReplica } from '../../replica/embedded/browser.js';

type State = 'opening' | 'local' | 'live' | 'behind' | 'error';

const root = document.getElementById('demo')!;
const keyspace = root.dataset.keyspace!;
const table = root.dataset.table!;
const pad = root.dataset.pad!;
const el = (id: string) => document.getElementById(id)!;
/** How often the page compares the replica's LSNs with the primaries'. */
const SYNC_CHECK_MS = 1_000;

function setState(state: State, text: string): void {
  el('state').dataset.state = state;
  el('state').textContent = text;
}

function showError(e: unknown): void {
  el('error').hidden = false;
  el('error').textContent = e instanceof Error ? e.message : String(e);
}

function render(rows: Record<string, unknown>[]): void {
  const body = el('rows');
  body.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.id = String(r.id);
      for (const [cls, v] of [
        ['id', r.id],
        ['body', r.body],
      ] as const) {
        const td = document.createElement('td');
        td.className = cls;
        td.textContent = String(v);
        tr.appendChild(td);
      }
      return tr;
    }),
  );
}

/** Per shard, how many records the replica is behind the primaries (0 everywhere: in sync). */
function behind(replica: Record<string, number>, primaries: Record<string, number>): number {
  return Object.entries(primaries).reduce((n, [shard, lsn]) => n + Math.max(0, lsn - (replica[shard] ?? 0)), 0);
}

const lsnText = (lsns: Record<string, number>) =>
  Object.entries(lsns)
    .map(([s, l]) => `${s}:${l}`)
    .join('  ') || '–';

/**
 * The textarea shows the Y.Text, and each edit typed into it becomes the smallest Y.Text change
 * (the span between the common prefix and suffix): concurrent edits elsewhere then merge.
 */
function bindPad(text: YText, area: HTMLTextAreaElement): void {
  area.value = text.toString();
  text.observe((ev) => {
    if (ev.transaction.local) return;
    const { selectionStart, selectionEnd } = area;
    area.value = text.toString();
    area.setSelectionRange(selectionStart, selectionEnd);
  });
  area.addEventListener('input', () => {
    const [before, after] = [text.toString(), area.value];
    let start = 0;
    while (start < before.length && start < after.length && before[start] === after[start]) start++;
    let end = 0;
    while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
    const [removed, added] = [before.length - start - end, after.slice(start, after.length - end)];
    text.doc!.transact(() => {
      if (removed) text.delete(start, removed);
      if (added) text.insert(start, added);
    });
  });
}

async function main(): Promise<void> {
  setState('opening', 'opening the local database…');
  // The path names the tables it holds: a copy made for other tables is not reopened as this one.
  const replica = await createReplica({
    endpoint: location.origin,
    keyspace,
    engine: 'pglite',
    path: `idb://vitess-demo-${keyspace}-notes-pad`,
    tables: [table, pad],
  });
  performance.mark('demo:replica-open'); // bench/browser.mjs: the copy is done (or was there)
  setState('local', 'showing the local copy; reaching VTGate…');
  // One query for the rows and the count: one local read per applied change.
  replica.live(`SELECT id, body, count(*) OVER () AS total FROM ${table} ORDER BY id DESC LIMIT 100`, [], (rows) => {
    render(rows);
    el('count').textContent = String(rows[0]?.total ?? 0);
  });

  bindPad(replica.doc(pad, { id: 1 }, 'body', showError).getText('body'), el('pad') as HTMLTextAreaElement);

  el('add').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = el('body') as HTMLInputElement;
    const id = Date.now() * 1000 + Math.floor(Math.random() * 1000); // unique enough for a demo, below 2^53
    // Resolves once the write is applied locally, so the row is on the page by then.
    replica.execute(`INSERT INTO ${table} (id, body) VALUES ($1, $2)`, [id, input.value]).then(() => {
      input.value = '';
    }, showError);
  });

  // The primaries' LSNs, compared with the replica's. Read as the heads of an empty change-stream
  // page: that touches only this keyspace's primaries (client.status() wakes every shard and
  // replica of every keyspace).
  const gateway = createClient({ endpoint: location.origin, keyspace });
  for (;;) {
    const { state, lsns, error } = replica.status;
    el('lsn').textContent = `${replica.lsn} (${lsnText(lsns)})`;
    if (state === 'failed') throw new Error(`the replica stopped following VTGate: ${error}`);
    try {
      const { heads } = await gateway.changes({ from: 'now', tables: [table], maxEvents: 1, waitMs: 0 });
      const lag = behind(replica.lsns, heads);
      if (lag === 0) setState('live', 'live: in sync with the primaries');
      else setState('behind', `catching up: ${lag} log record${lag === 1 ? '' : 's'} behind`);
    } catch (e) {
      if (el('state').dataset.state !== 'local') setState('behind', `VTGate unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    await new Promise((r) => setTimeout(r, SYNC_CHECK_MS));
  }
}

main().catch((e: unknown) => {
  setState('error', 'failed');
  showError(e);
});
