/**
 * Fault injection under a running subscription: msw (`setupServer` in this test process) fails
 * page requests between the real client and the real Worker — 503s, connection resets before
 * the gateway saw the request, resets after it answered (the page is lost), answers slower than
 * the client's deadline — and cuts the WebSocket before or after the gateway handled a page.
 * The stream retries from the last page's position: the events are still exactly the shards'
 * logs, each once, in per-shard order.
 */
import { http, HttpResponse, ws } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ChangeEvent, type ClientOptions, type VitessClient } from '../../client/index.js';
import { completeLsn, decodePosition } from '../../rpc/position.js';
import { rowToWire, type SqlValue } from '../../rpc/values.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders } from '../support/auth.js';
import { streamFaults, type StreamFault } from '../support/stream-faults.js';

const SHARDS = ['-40', '40-80', '80-c0', 'c0-'];
const VSCHEMA = { keyspaces: [{ name: 'main', engine: 'sqlite', shards: SHARDS }] };

let w: WranglerDev;
const mock = setupServer();
const open: VitessClient[] = [];

beforeAll(async () => {
  // Listen first: a keep-alive connection opened before msw listens is never intercepted.
  mock.listen({ onUnhandledFrame: 'bypass' });
  // Let the upgrade request of the real socket behind `server.connect()` through untouched.
  ws.onUpgrade = () => undefined;
  w = await startWrangler({ config: 'tests/e2e/subscribe.wrangler.jsonc', vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
  const setup = client();
  await setup.execute('CREATE TABLE items (id BIGINT PRIMARY KEY, v INT NOT NULL)');
  await writes(setup, 0, 120);
}, 180_000);

afterEach(() => mock.resetHandlers());

afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()));
  mock.close();
  await w?.stop();
});

function client(opts: Partial<ClientOptions> = {}): VitessClient {
  const c = createClient({ endpoint: w.url, keyspace: 'main', retry: { attempts: 4, baseMs: 10, maxMs: 100 }, ...opts });
  open.push(c);
  return c;
}

/** Inserts, updates and scatter updates (records with many changes). */
async function writes(c: VitessClient, base: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (i % 10 === 9) await c.execute('UPDATE items SET v = v + 1 WHERE v < $1', [i]);
    else if (i % 3 === 2) await c.execute('UPDATE items SET v = v + 100 WHERE id = $1', [base + i - 1]);
    else await c.execute('INSERT INTO items (id, v) VALUES ($1, $2)', [base + i, i]);
  }
}

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** Each shard's row changes of `items` from `GET /log`, as comparable strings. */
async function expected(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const shard of SHARDS) {
    out[shard] = [];
    for (let from = 1; ; ) {
      const page = (await (
        await fetch(`${w.url}/log?keyspace=main&shard=${encodeURIComponent(shard)}&from=${from}&max=1000`, { headers: authHeaders() })
      ).json()) as {
        records: { lsn: number; changes: { table?: string; op?: string; key?: unknown; row?: unknown }[] }[];
      };
      if (!page.records.length) break;
      for (const r of page.records) {
        for (const c of r.changes) if (c.table === 'items') out[shard].push(`${r.lsn}|${c.op}|${JSON.stringify(c.row ?? c.key)}`);
      }
      from = page.records.at(-1)!.lsn + 1;
    }
  }
  return out;
}

function byShard(events: ChangeEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(SHARDS.map((s) => [s, []]));
  for (const ev of events) out[ev.shard]!.push(`${ev.lsn}|${ev.op}|${JSON.stringify(rowToWire(ev.row as Record<string, SqlValue>))}`);
  return out;
}

async function heads(c: VitessClient): Promise<Record<string, number>> {
  const ks = (await c.status()).keyspaces.find((k) => k.name === 'main')!;
  return Object.fromEntries(ks.shards.map((s) => [s.shard, s.lsn]));
}

const covers = (position: string, head: Record<string, number>): boolean => {
  if (!position) return false;
  const p = decodePosition(position).shards;
  return Object.entries(head).every(([s, lsn]) => p[s] !== undefined && completeLsn(p[s]) >= lsn);
};

describe('HTTP batch faults', () => {
  it('a stream survives 503s, resets, lost answers and slow answers, and resumes exactly', async () => {
    const faults: StreamFault[] = ['503', 'reset', 'lost', 'slow', '503', 'lost', 'reset', 'slow', 'lost', '503', 'slow', 'reset'];
    const { applied } = streamFaults(mock, w.url, faults, { slowMs: 2_000 });
    const c = client({ timeoutMs: 1_500 });
    const got: ChangeEvent[] = [];
    const sub = await c.subscribe({ from: 'beginning', tables: ['items'], pageSize: 15, waitMs: 100 }, (ev) => {
      got.push(ev);
    });
    await writes(client(), 1_000, 60); // more while streaming
    await until('every fault', () => faults.length === 0);
    const head = await heads(client());
    await until('the stream to reach the heads', () => covers(sub.position, head));
    await sub.close();
    expect(applied).toHaveLength(12);
    expect(sub.stats.retries).toBeGreaterThanOrEqual(12); // more only if a loaded machine missed a deadline
    expect(byShard(got)).toEqual(await expected());
  });

  it('subscribe() itself fails typed when the gateway stays unavailable', async () => {
    mock.use(http.post(`${w.url}/rpc`, () => new HttpResponse('down', { status: 503 })));
    await expect(client({ retry: { attempts: 2, baseMs: 5, maxMs: 10 } }).subscribe({}, () => undefined)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/503.*2 attempts/),
    });
  });
});

describe('WebSocket faults', () => {
  it('a stream survives its socket cut before and after the gateway handled a page', async () => {
    const stats = { connections: 0, before: 0, after: 0 };
    let clientPages = 0;
    let serverPages = 0;
    const link = ws.link(`${w.url.replace('http', 'ws')}/rpc`);
    mock.use(
      link.addEventListener('connection', ({ client: c, server }) => {
        stats.connections++;
        server.connect();
        c.addEventListener('message', (ev) => {
          // Every 4th page request never reaches the gateway.
          if (String(ev.data).includes('"changes"') && ++clientPages % 4 === 0 && stats.before < 6) {
            stats.before++;
            ev.preventDefault();
            c.close(1011, 'dropped before');
          }
        });
        server.addEventListener('message', (ev) => {
          // Every 3rd page the gateway answers is lost with the socket.
          if (String(ev.data).includes('"events"') && ++serverPages % 3 === 0 && stats.after < 6) {
            stats.after++;
            ev.preventDefault();
            c.close(1011, 'dropped after');
          }
        });
      }),
    );
    const c = client();
    await c.connect();
    const got: ChangeEvent[] = [];
    const sub = await c.subscribe({ from: 'beginning', tables: ['items'], pageSize: 10 }, (ev) => {
      got.push(ev);
    });
    await writes(client(), 2_000, 60);
    await until('every cut', () => stats.before + stats.after >= 12);
    const head = await heads(client());
    await until('the stream to reach the heads', () => covers(sub.position, head));
    await sub.close();
    expect(stats.connections).toBe(13);
    expect(c.reconnects).toBe(12);
    expect(byShard(got)).toEqual(await expected());
  });
});
