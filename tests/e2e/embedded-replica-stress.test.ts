// TEMPORARY stress harness for the execute-then-query stall (not to be kept).
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient } from '../../client/index.js';
import { createReplica, type EmbeddedReplica } from '../../replica/index.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';

const VSCHEMA = { keyspaces: [{ name: 'main', engine: 'sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'] }] };
const N = Number(process.env.STRESS_N ?? 300);
const MSW = process.env.STRESS_MSW === '1';
let w: WranglerDev;
const mock = setupServer();

beforeAll(async () => {
  if (MSW) mock.listen({ onUnhandledFrame: 'bypass' } as never);
  w = await startWrangler({ config: 'tests/e2e/embedded-replica.wrangler.jsonc', vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
}, 180_000);
afterAll(async () => { if (MSW) mock.close(); await w?.stop(); });

function tracingFetch(tag: string, log: string[]): typeof fetch {
  let n = 0;
  return (async (input: string, init: RequestInit) => {
    const id = `${tag}#${n++}`;
    const body = typeof init?.body === 'string' ? init.body : '';
    const kind = /\["(changes|query|snapshot|schema)"\]/.exec(body)?.[1] ?? '?';
    const t0 = Date.now();
    try {
      const res = await fetch(input, init);
      const text = await res.text();
      const ms = Date.now() - t0;
      if (ms > 3000) log.push(`${new Date(t0).toISOString()} SLOW ${id} ${kind} ${ms}ms status=${res.status} req=${body.slice(0, 400)} res=${text.slice(0, 300)}`);
      return new Response(text, { status: res.status, headers: res.headers });
    } catch (e) {
      log.push(`${new Date(t0).toISOString()} FAIL ${id} ${kind} after ${Date.now() - t0}ms: ${String(e)} ${String((e as Error).cause ?? '')}`);
      throw e;
    }
  }) as typeof fetch;
}

it('stress execute then query', async () => {
  const c = createClient({ endpoint: w.url, keyspace: 'main', timeoutMs: 120_000 });
  await c.execute('CREATE TABLE kv (id BIGINT PRIMARY KEY, v INT)');
  const log: string[] = [];
  const mk = (engine: 'pglite' | 'libsql') => createReplica({ endpoint: w.url, keyspace: 'main', engine, waitMs: 2_000, writeTimeoutMs: 40_000, client: { fetch: tracingFetch(engine, log) } });
  const reps: EmbeddedReplica[] = await Promise.all([mk('pglite'), mk('libsql')]);
  const slow: string[] = [];
  const t = Date.now();
  await Promise.all(reps.map(async (local, e) => {
    for (let i = 0; i < N; i++) {
      const id = e * 1000 + (i % 25);
      const t0 = Date.now();
      try {
        await local.execute('INSERT INTO kv (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v', [id, i]);
      } catch (err) {
        slow.push(`${e}:${i} ERR ${String(err)}`);
      }
      const ms = Date.now() - t0;
      if (ms > 3000) slow.push(`${new Date(t0).toISOString()} ${e}:${i} execute ${ms}ms status=${JSON.stringify(local.status)}`);
    }
  }));
  console.log(`total ${Date.now() - t} ms for ${N}×2`);
  console.log(slow.join('\n'));
  console.log(log.join('\n'));
  const { writeFileSync } = await import('node:fs');
  writeFileSync('/tmp/stress-wrangler.log', w.output());
  await Promise.all(reps.map((r) => r.close()));
  expect(slow).toEqual([]);
}, 900_000);
