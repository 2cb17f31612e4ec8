// Fault injection between the real client and the real Worker: msw (`setupServer` in this test
// process) fails the first requests to /rpc — 503s, connection resets, slow answers, a reset
// after the gateway already ran the request — and then lets them through to `wrangler dev`.
// Reads are retried and succeed; a write is never duplicated; spent retries surface as a typed
// UNAVAILABLE. The WebSocket transport is faulted the same way through msw's `ws` link.
import { bypass, delay, http, HttpResponse, passthrough, ws } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type VitessClient } from '../../client/index.js';
import { freePort, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { failure } from '../support/errors.js';

let w: WranglerDev;
const mock = setupServer();
const open: VitessClient[] = [];

beforeAll(async () => {
  // Listen first: a keep-alive connection opened before msw listens is never intercepted.
  mock.listen({ onUnhandledFrame: 'bypass' });
  // msw would also answer the HTTP upgrade request of the real socket that `server.connect()`
  // opens (with yet another mocked socket, and so on, stalling for many seconds): let upgrade
  // requests through untouched; the client's WebSocket is intercepted at its class anyway.
  ws.onUpgrade = () => undefined;
  w = await startWrangler(); // fresh state, removed on stop
  const setup = client();
  await setup.execute('CREATE TABLE items (id BIGINT PRIMARY KEY, label TEXT NOT NULL)');
  await setup.execute("INSERT INTO items (id, label) VALUES (1, 'one'), (2, 'two'), (3, 'three')");
});

afterEach(() => mock.resetHandlers());

afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()));
  mock.close();
  await w?.stop();
});

function client(opts: Partial<ClientOptions> = {}): VitessClient {
  const c = createClient({ endpoint: w.url, keyspace: 'main', retry: { attempts: 4, baseMs: 20, maxMs: 100 }, ...opts });
  open.push(c);
  return c;
}

/** Answers the first `n` POSTs to /rpc with `fault`, then lets requests through; counts them all. */
function failFirst(n: number, fault: (request: Request) => Response | Promise<Response>): { requests: number } {
  const seen = { requests: 0 };
  let left = n;
  mock.use(
    http.post(`${w.url}/rpc`, async ({ request }) => {
      seen.requests++;
      if (left-- > 0) return fault(request as unknown as Request);
      return passthrough();
    }),
  );
  return seen;
}

const count = async (id: number): Promise<number> => (await client().query<{ n: number }>('SELECT COUNT(*) AS n FROM items WHERE id = $1', [id])).rows[0]!.n;

describe('HTTP batch faults', () => {
  it('retries a read through 503s', async () => {
    const seen = failFirst(2, () => new HttpResponse('overloaded', { status: 503 }));
    const r = await client().query('SELECT label FROM items WHERE id = $1', [1]);
    expect(r.rows).toEqual([{ label: 'one' }]);
    expect(seen.requests).toBe(3);
  });

  it('retries a read through connection resets', async () => {
    const seen = failFirst(2, () => HttpResponse.error());
    const r = await client().query('SELECT label FROM items ORDER BY label');
    expect(r.rows.map((x) => x.label)).toEqual(['one', 'three', 'two']);
    expect(seen.requests).toBe(3);
  });

  it('retries a read whose answer is too slow', async () => {
    const seen = failFirst(2, async () => {
      await delay(1_500);
      return passthrough();
    });
    const r = await client({ timeoutMs: 400 }).query('SELECT label FROM items WHERE id = $1', [2]);
    expect(r.rows).toEqual([{ label: 'two' }]);
    expect(seen.requests).toBe(3);
  });

  it('retries status() like a read', async () => {
    const seen = failFirst(1, () => HttpResponse.error());
    expect((await client().status()).keyspaces.map((k) => k.name)).toContain('main');
    expect(seen.requests).toBe(2);
  });

  it('retries a write refused with 503 (it never ran), and runs it once', async () => {
    const seen = failFirst(2, () => new HttpResponse(null, { status: 503 }));
    const r = await client().execute("INSERT INTO items (id, label) VALUES (10, 'ten')");
    expect(r.affected).toBe(1);
    expect(seen.requests).toBe(3);
    expect(await count(10)).toBe(1);
  });

  it('does not retry a write whose connection reset (it may have run), and does not duplicate it', async () => {
    // The gateway runs the write, then the answer is lost.
    const seen = failFirst(1, async (request) => {
      await fetch(bypass(request));
      return HttpResponse.error();
    });
    const err = await failure(client().execute("INSERT INTO items (id, label) VALUES (11, 'eleven')"));
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/may have executed/);
    expect(seen.requests).toBe(1);
    expect(await count(11)).toBe(1);

    // Reset before the gateway saw it: the client cannot tell, so it still does not retry.
    const again = failFirst(1, () => HttpResponse.error());
    expect((await failure(client().execute("INSERT INTO items (id, label) VALUES (12, 'twelve')"))).code).toBe('UNAVAILABLE');
    expect(again.requests).toBe(1);
    expect(await count(12)).toBe(0);
  });

  it('does not retry a write whose answer is too slow, and does not duplicate it', async () => {
    const seen = failFirst(1, async (request) => {
      const res = await fetch(bypass(request)); // it runs at once; the answer comes late
      await delay(1_000);
      return res;
    });
    const err = await failure(client({ timeoutMs: 300 }).execute("INSERT INTO items (id, label) VALUES (13, 'thirteen')"));
    expect(err.code).toBe('UNAVAILABLE');
    expect(seen.requests).toBe(1);
    await delay(1_000);
    expect(await count(13)).toBe(1);
  });

  it('gives up with a typed UNAVAILABLE after the attempts', async () => {
    const seen = failFirst(100, () => new HttpResponse('down', { status: 503 }));
    const err = await failure(client({ retry: { attempts: 3, baseMs: 10, maxMs: 50 } }).query('SELECT 1 AS one'));
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/503.*3 attempts/);
    expect(seen.requests).toBe(3);
  });

  it('retries even a write when the gateway cannot be reached at all, then gives up typed', async () => {
    const port = await freePort(); // nothing listens there
    const c = createClient({ endpoint: `http://127.0.0.1:${port}`, keyspace: 'main', retry: { attempts: 3, baseMs: 10, maxMs: 20 } });
    const err = await failure(c.execute("INSERT INTO items (id, label) VALUES (14, 'x')"));
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/cannot reach the gateway.*3 attempts/);
  });

  it('does not retry errors the gateway answered (a syntax error)', async () => {
    const seen = failFirst(0, () => HttpResponse.error());
    expect((await failure(client().query('SELEC 1'))).code).toBe('SYNTAX');
    expect(seen.requests).toBe(1);
  });
});

describe('WebSocket faults', () => {
  /**
   * Routes the client's WebSocket through msw to the real gateway. `drop` decides per message
   * whether to cut the connection instead: 'before' the gateway sees a client message, or
   * 'after' it ran the request (its answer is swallowed).
   */
  function relay(drop: { before?: (msg: string) => boolean; after?: (msg: string) => boolean } = {}) {
    const stats = { connections: 0 };
    const link = ws.link(`${w.url.replace('http', 'ws')}/rpc`);
    mock.use(
      link.addEventListener('connection', ({ client: c, server }) => {
        stats.connections++;
        server.connect(); // msw forwards both ways (and holds messages until the real socket opens)
        c.addEventListener('message', (ev) => {
          if (drop.before?.(String(ev.data))) {
            ev.preventDefault();
            c.close(1011, 'dropped before');
          }
        });
        server.addEventListener('message', (ev) => {
          if (drop.after?.(String(ev.data))) {
            ev.preventDefault();
            c.close(1011, 'dropped after');
          }
        });
      }),
    );
    return stats;
  }

  it('reopens the socket and retries a read cut before the gateway saw it', async () => {
    let cut = 1;
    const stats = relay({ before: (m) => m.includes('SELECT label') && cut-- > 0 });
    const c = client();
    await c.connect();
    const r = await c.query('SELECT label FROM items WHERE id = $1', [3]);
    expect(r.rows).toEqual([{ label: 'three' }]);
    expect(stats.connections).toBe(2);
    expect(c.reconnects).toBe(1);
  });

  it('retries a read whose answer was lost with the socket', async () => {
    let cut = 1;
    const stats = relay({ after: (m) => m.includes('"resolve"') && m.includes('three') && cut-- > 0 });
    const c = client();
    await c.connect();
    expect((await c.query('SELECT label FROM items WHERE id = $1', [3])).rows).toEqual([{ label: 'three' }]);
    expect(stats.connections).toBe(2);
  });

  it('does not replay a write whose socket dropped after it ran', async () => {
    let cut = 1;
    relay({ after: (m) => m.includes('"resolve"') && m.includes('affected') && cut-- > 0 });
    const c = client();
    await c.connect();
    const err = await failure(c.execute("INSERT INTO items (id, label) VALUES (20, 'twenty')"));
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/may have executed/);
    expect(await count(20)).toBe(1);
    // The session carries on over a new socket.
    expect((await c.query('SELECT label FROM items WHERE id = $1', [20])).rows).toEqual([{ label: 'twenty' }]);
  });
});
