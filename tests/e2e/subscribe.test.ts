/**
 * `client.subscribe` end to end: the real Worker under wrangler (VTGate plus a test-only trim
 * route, tests/e2e/subscribe-worker.ts), the real client. Keyspaces: `main` DO SQLite × 4, `pg`
 * PGlite × 2, `cut` DO SQLite × 2 (trimmed by the trim test).
 *
 * The ground truth is each shard's change log (`GET /log`): a subscription must deliver exactly
 * its changes, each once, in per-shard LSN order —
 * - from `beginning` after a seeded random workload (single-row DML, multi-row inserts, scatter
 *   updates and deletes whose records carry many changes), over WebSocket and HTTP batch, on
 *   both engines; replaying the events rebuilds the tables' final state;
 * - while the workload runs, with the connection killed 20 times at random points (the socket
 *   cut under the client, or the client thrown away and a new one resumed from the saved
 *   position);
 * - filtered by table, shard and key range; as an async iterator; from `now`;
 * - and a subscriber behind the trim point gets NOT_FOUND with a restart position that works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VitessError, type ChangeEvent, type ClientOptions, type SubscriptionEvent, type VitessClient } from '../../client/index.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { inRange } from '../../rpc/keyspace/keyrange.js';
import { completeLsn, decodePosition } from '../../rpc/position.js';
import { rowToWire, type SqlValue } from '../../rpc/values.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders, jsonPost } from '../support/auth.js';

const MAIN = ['-40', '40-80', '80-c0', 'c0-'];
const PG = ['-80', '80-'];
const VSCHEMA = {
  keyspaces: [
    { name: 'main', engine: 'sqlite', shards: MAIN },
    { name: 'pg', engine: 'pglite', shards: PG },
    { name: 'cut', engine: 'sqlite', shards: ['-80', '80-'] },
  ],
};
const SHARDS: Record<string, string[]> = { main: MAIN, pg: PG, cut: ['-80', '80-'] };

let w: WranglerDev;
const open: VitessClient[] = [];

beforeAll(async () => {
  w = await startWrangler({ config: 'tests/e2e/subscribe.wrangler.jsonc', vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
}, 180_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()));
  await w?.stop();
});

function client(keyspace: string, opts: Partial<ClientOptions> = {}): VitessClient {
  const c = createClient({ endpoint: w.url, keyspace, retry: { attempts: 4, baseMs: 20, maxMs: 200 }, ...opts });
  open.push(c);
  return c;
}

/** A small seeded PRNG (mulberry32): the same workload every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

// ---- the workload -------------------------------------------------------------------------

async function createTables(c: VitessClient): Promise<void> {
  await c.execute('CREATE TABLE acct (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, n INT NOT NULL)');
  await c.execute('CREATE TABLE note (id BIGINT PRIMARY KEY, body TEXT)');
}

/**
 * `steps` random statements: inserts (single and multi-row), updates, deletes, and scatter
 * updates/deletes by owner (one record per shard carrying several changes).
 */
async function workload(c: VitessClient, seed: number, steps: number, ids: { next: number; live: Set<number> }): Promise<void> {
  const r = rng(seed);
  const pick = (): number | undefined => {
    if (!ids.live.size) return undefined;
    const all = [...ids.live];
    return all[Math.floor(r() * all.length)];
  };
  for (let i = 0; i < steps; i++) {
    const x = r();
    const owner = `o${Math.floor(r() * 4)}`;
    if (x < 0.35 || ids.live.size < 8) {
      const id = ids.next++;
      ids.live.add(id);
      await c.execute('INSERT INTO acct (id, owner, n) VALUES ($1, $2, $3)', [id, owner, Math.floor(r() * 100)]);
    } else if (x < 0.45) {
      const rows = [ids.next++, ids.next++, ids.next++];
      for (const id of rows) ids.live.add(id);
      await c.execute('INSERT INTO acct (id, owner, n) VALUES ($1, $2, 0), ($3, $2, 1), ($4, $2, 2)', [rows[0]!, owner, rows[1]!, rows[2]!]);
    } else if (x < 0.65) {
      await c.execute('UPDATE acct SET n = n + 1 WHERE id = $1', [pick()!]);
    } else if (x < 0.72) {
      await c.execute('UPDATE acct SET n = n * 2 WHERE owner = $1', [owner]); // scatter: many changes per record
    } else if (x < 0.82) {
      const id = pick()!;
      ids.live.delete(id);
      await c.execute('DELETE FROM acct WHERE id = $1', [id]);
    } else if (x < 0.85) {
      const gone = await c.execute<{ id: number }>('DELETE FROM acct WHERE owner = $1 AND n > 150 RETURNING id', [owner]);
      for (const row of gone.rows ?? []) ids.live.delete(Number(row.id));
    } else {
      const id = ids.next++;
      await c.execute('INSERT INTO note (id, body) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET body = excluded.body', [id % 50, `note ${id}`]);
    }
  }
}

// ---- the ground truth: each shard's log -----------------------------------------------------

interface LogChange {
  table?: string;
  op?: string;
  key?: Record<string, unknown>;
  row?: Record<string, unknown>;
  ddl?: string;
}

async function logOf(keyspace: string, shard: string, first = 1): Promise<{ lsn: number; changes: LogChange[] }[]> {
  const out: { lsn: number; changes: LogChange[] }[] = [];
  for (let from = first; ; ) {
    const res = await fetch(`${w.url}/log?keyspace=${keyspace}&shard=${encodeURIComponent(shard)}&from=${from}&max=1000`, { headers: authHeaders() });
    if (!res.ok) throw new Error(`GET /log of ${keyspace}/${shard} from ${from}: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { records: { lsn: number; changes: LogChange[] }[] };
    if (!page.records.length) return out;
    out.push(...page.records);
    from = page.records.at(-1)!.lsn + 1;
  }
}

/** The events a subscription with `filter` must deliver, per shard in order, as comparable strings. */
async function expected(
  keyspace: string,
  filter: { tables?: string[]; shards?: string[]; ddl?: boolean; keep?: (c: LogChange) => boolean; from?: Record<string, number> } = {},
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const shard of SHARDS[keyspace]!) {
    if (filter.shards && !filter.shards.includes(shard)) continue;
    out[shard] = [];
    for (const r of await logOf(keyspace, shard, filter.from?.[shard] ?? 1)) {
      for (const c of r.changes) {
        if (c.ddl !== undefined) {
          if (filter.ddl) out[shard].push(`${r.lsn}|ddl|${c.ddl}`);
          continue;
        }
        if (filter.tables && !filter.tables.includes(c.table!)) continue;
        if (filter.keep && !filter.keep(c)) continue;
        out[shard].push(`${r.lsn}|${c.table}|${c.op}|${JSON.stringify(c.row ?? c.key)}`);
      }
    }
  }
  return out;
}

const asString = (ev: SubscriptionEvent): string =>
  ev.op === 'ddl' ? `${ev.lsn}|ddl|${ev.ddl}` : `${ev.lsn}|${ev.table}|${ev.op}|${JSON.stringify(rowToWire(ev.row as Record<string, SqlValue>))}`;

/** Received events per shard, in the order received. */
function byShard(events: SubscriptionEvent[], shards: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(shards.map((s) => [s, []]));
  for (const ev of events) (out[ev.shard] ??= []).push(asString(ev));
  return out;
}

/** Each shard's newest LSN. */
async function heads(c: VitessClient): Promise<Record<string, number>> {
  const ks = (await c.status()).keyspaces.find((k) => k.name === c.keyspace)!;
  return Object.fromEntries(ks.shards.map((s) => [s.shard, s.lsn]));
}

/** Whether `position` has delivered every shard up to `head`. */
const covers = (position: string, head: Record<string, number>): boolean => {
  if (!position) return false;
  const p = decodePosition(position).shards;
  return Object.entries(head).every(([s, lsn]) => p[s] !== undefined && completeLsn(p[s]) >= lsn);
};

/** Replays row events into tables keyed by primary key. */
function replay(events: ChangeEvent[]): Map<string, Map<string, string>> {
  const tables = new Map<string, Map<string, string>>();
  for (const ev of events) {
    const t = tables.get(ev.table) ?? tables.set(ev.table, new Map()).get(ev.table)!;
    const key = String(ev.op === 'insert' ? ev.row.id : ev.oldKey!.id);
    if (ev.op === 'delete') t.delete(key);
    else {
      t.delete(key);
      t.set(String(ev.row.id), JSON.stringify(rowToWire(ev.row)));
    }
  }
  return tables;
}

async function state(c: VitessClient, table: string): Promise<Map<string, string>> {
  const rows = (await c.query(`SELECT * FROM ${table}`, [], { consistency: 'strong' })).rows;
  return new Map(rows.map((r) => [String(r.id), JSON.stringify(rowToWire(r))]));
}

const sorted = (m: Map<string, string> | undefined) => [...(m ?? new Map<string, string>()).entries()].sort();

// ---- tests ----------------------------------------------------------------------------------

describe.each([
  { keyspace: 'main', mode: 'websocket' as const, seed: 1 },
  { keyspace: 'pg', mode: 'http' as const, seed: 2 },
])('keyspace $keyspace over $mode', ({ keyspace, mode, seed }) => {
  const ids = { next: 1, live: new Set<number>() };
  let writer: VitessClient;

  beforeAll(async () => {
    writer = client(keyspace);
    await createTables(writer);
    await workload(writer, seed, keyspace === 'main' ? 260 : 120, ids);
  }, 120_000);

  it('from beginning: every change of the workload exactly once, in per-shard order, DDL included', async () => {
    const c = client(keyspace);
    if (mode === 'websocket') await c.connect();
    const want = await expected(keyspace, { ddl: true });
    const total = Object.values(want).reduce((n, xs) => n + xs.length, 0);
    expect(total).toBeGreaterThan(keyspace === 'main' ? 300 : 120);
    const got: SubscriptionEvent[] = [];
    const sub = await c.subscribe({ from: 'beginning', ddl: true, pageSize: 64 }, (ev) => {
      got.push(ev);
    });
    const head = await heads(writer);
    await until('the stream to reach the heads', () => covers(sub.position, head));
    await sub.close();
    expect(byShard(got, SHARDS[keyspace]!)).toEqual(want);
    expect(got.filter((e) => e.op === 'ddl')).toHaveLength(2 * SHARDS[keyspace]!.length); // each shard's CREATE TABLEs
    // Replaying the row events rebuilds the tables.
    const tables = replay(got.filter((e): e is ChangeEvent => e.op !== 'ddl'));
    expect(sorted(tables.get('acct'))).toEqual(sorted(await state(writer, 'acct')));
    expect(sorted(tables.get('note'))).toEqual(sorted(await state(writer, 'note')));
    // Events carry what the API promises.
    const upd = got.find((e) => e.op === 'update') as ChangeEvent;
    expect(upd.oldKey).toEqual({ id: upd.row.id });
    expect(typeof upd.ts).toBe('number');
    expect(sub.lag).toEqual(Object.fromEntries(SHARDS[keyspace]!.map((s) => [s, 0])));
  });

  it('filters by table, shard and key range', async () => {
    const c = client(keyspace);
    if (mode === 'websocket') await c.connect();
    const shards = SHARDS[keyspace]!;
    const run = async (opts: Parameters<VitessClient['subscribe']>[0], scope = opts!.shards ?? shards) => {
      const got: SubscriptionEvent[] = [];
      const sub = await c.subscribe({ ...opts, from: 'beginning', pageSize: 100 }, (ev) => {
        got.push(ev);
      });
      const head = Object.fromEntries(Object.entries(await heads(writer)).filter(([s]) => scope.includes(s)));
      expect(Object.keys(decodePosition(sub.position).shards).sort()).toEqual([...scope].sort());
      await until('the stream to reach the heads', () => covers(sub.position, head));
      await sub.close();
      return got;
    };
    // By table.
    expect(byShard(await run({ tables: ['note'] }), shards)).toEqual(await expected(keyspace, { tables: ['note'] }));
    // By shard.
    const one = [shards[1]!];
    const byOne = await run({ shards: one, tables: ['acct'] });
    expect(byShard(byOne, one)).toEqual(await expected(keyspace, { shards: one, tables: ['acct'] }));
    // By a key range inside one shard: rows are checked by their keyspace id (hash of id).
    const range = keyspace === 'main' ? '40-60' : '80-c0';
    const inside = (c: LogChange) => inRange(hashId(Number((c.row ?? c.key)!.id))!, range);
    const holder = keyspace === 'main' ? '40-80' : '80-';
    const ranged = await run({ tables: ['acct'], keyRange: range }, [holder]);
    const want = await expected(keyspace, { tables: ['acct'], shards: [holder], keep: inside });
    expect(byShard(ranged, Object.keys(want))).toEqual(want);
    expect(ranged.length).toBeGreaterThan(5);
    expect(ranged.every((e) => e.op !== 'ddl' && inRange(hashId(e.row.id as number)!, range))).toBe(true);
    // A key range covering whole shards is those shards.
    const high = shards.filter((s) => s >= '80');
    const upper = await run({ keyRange: '80-' }, high);
    expect(byShard(upper, high)).toEqual(await expected(keyspace, { shards: high }));
  });
});

describe('resuming (keyspace main)', () => {
  it('survives 20 kills at random points while the workload runs: the union is exactly the log', async () => {
    const writer = client('main');
    await writer.execute('CREATE TABLE kill (id BIGINT PRIMARY KEY, v INT NOT NULL)');
    const r = rng(42);
    const write = async (n: number, base: number) => {
      for (let i = 0; i < n; i++) {
        const id = base + Math.floor(r() * 120);
        const x = r();
        if (x < 0.6) await writer.execute('INSERT INTO kill (id, v) VALUES ($1, 0) ON CONFLICT (id) DO UPDATE SET v = kill.v + 1', [id]);
        else if (x < 0.8)
          await writer.execute('UPDATE kill SET v = v + 10 WHERE v < $1', [Math.floor(r() * 4)]); // scatter
        else await writer.execute('DELETE FROM kill WHERE id = $1', [id]);
      }
    };
    await write(150, 0); // a backlog, then more while streaming

    const k = rng(99); // kill points, kinds and page sizes: their own sequence, independent of the writer's
    const sockets: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    const got: ChangeEvent[] = [];
    let saved = '';
    let kills = 0;
    let restarts = 0;
    let killAt = 5 + Math.floor(k() * 20);
    let current: { c: VitessClient; sub: Awaited<ReturnType<VitessClient['subscribe']>> } | undefined;
    let restarting: Promise<void> | undefined;

    const start = async (from: string) => {
      const c = client('main', { WebSocket: TrackedWebSocket, retry: { attempts: 6, baseMs: 10, maxMs: 100 } });
      await c.connect();
      const sub = await c.subscribe({ tables: ['kill'], from, pageSize: 1 + Math.floor(k() * 20) }, onEvent);
      current = { c, sub };
    };
    let failed: unknown;
    /** Runs a (re)start; no kill happens until it is done and `current` is the new subscription. */
    const restart = (fn: () => Promise<void>) => {
      restarting = fn()
        .catch((e: unknown) => {
          failed = e;
        })
        .finally(() => {
          restarting = undefined;
        });
    };
    const kill = () => {
      kills++;
      if (k() < 0.5) {
        // The connection goes away under the client, a few ms from now (mid-request or between pages).
        setTimeout(() => sockets.at(-1)?.close(), Math.floor(k() * 15));
      } else {
        // The consumer process "restarts": a new client resumes from the saved position.
        restarts++;
        const old = current!;
        restart(async () => {
          await old.sub.close();
          await old.c.disconnect();
          await start(saved);
        });
      }
    };
    function onEvent(ev: ChangeEvent): void {
      got.push(ev);
      saved = ev.position; // what a consumer persists with each event it handled
      if (got.length >= killAt && kills < 20 && !restarting) {
        killAt = got.length + 3 + Math.floor(k() * 15);
        kill();
      }
    }

    restart(() => start('beginning'));
    await write(200, 60);
    await until('20 kills', () => failed !== undefined || (kills >= 20 && !restarting), 60_000);
    expect(failed).toBeUndefined();
    const head = await heads(writer);
    await until('the stream to reach the heads', () => !restarting && !!current && covers(current.sub.position, head), 60_000);
    await current!.sub.close();

    expect(kills).toBe(20);
    expect(sockets.length).toBeGreaterThan(restarts + 3); // cut sockets were reopened under the running subscription
    expect(restarts).toBeGreaterThan(3);
    expect(restarts).toBeLessThan(17);
    expect(byShard(got, MAIN)).toEqual(await expected('main', { tables: ['kill'] }));
    expect(sorted(replay(got).get('kill'))).toEqual(sorted(await state(writer, 'kill')));
  });

  it('a client restarted from any event position gets exactly the rest', async () => {
    const c = client('main');
    const all: ChangeEvent[] = [];
    const sub = await c.subscribe({ tables: ['kill'], from: 'beginning', pageSize: 500 }, (ev) => {
      all.push(ev);
    });
    const head = await heads(c);
    await until('the stream to reach the heads', () => covers(sub.position, head));
    await sub.close();
    const r = rng(7);
    for (let i = 0; i < 5; i++) {
      const k = Math.floor(r() * all.length);
      const rest: ChangeEvent[] = [];
      const again = await client('main').subscribe({ tables: ['kill'], from: all[k]!.position, pageSize: 50 }, (ev) => {
        rest.push(ev);
      });
      await until('the rest', () => covers(again.position, head));
      await again.close();
      expect(byShard(rest, MAIN)).toEqual(byShard(all.slice(k + 1), MAIN));
    }
  });

  it('works as an async iterator, from now', async () => {
    const c = client('main');
    await c.connect();
    const sub = c.subscribe({ tables: ['kill'] }); // from: 'now'
    await sub.ready;
    await c.execute('INSERT INTO kill (id, v) VALUES (100001, 1), (100002, 2), (100003, 3)');
    await c.execute('DELETE FROM kill WHERE id = 100002');
    const seen: string[] = [];
    for await (const ev of sub) {
      seen.push(`${ev.op} ${String(ev.row.id)}`);
      if (seen.length === 4) break;
    }
    expect(seen.slice(0, 3).sort()).toEqual(['insert 100001', 'insert 100002', 'insert 100003']);
    expect(seen[3]).toBe('delete 100002');
    expect(sub.closed).toBe(true); // break closes it
    await expect(sub.done).resolves.toBeUndefined();
  });

  it('refuses bad options and positions with typed errors', async () => {
    const c = client('main');
    const err = async (p: Promise<unknown> | (() => unknown)) => {
      try {
        await (typeof p === 'function' ? p() : p);
      } catch (e) {
        expect(e).toBeInstanceOf(VitessError);
        return (e as VitessError).code;
      }
      throw new Error('expected a failure');
    };
    expect(await err(c.subscribe({ shards: ['zz'] }, () => undefined))).toBe('NOT_FOUND');
    expect(await err(c.subscribe({ keyRange: 'nope' }, () => undefined))).toBe('INVALID');
    expect(await err(() => c.subscribe({ from: 'b1.garbage' }))).toBe('INVALID');
    const other = client('pg').subscribe({});
    await other.ready;
    expect(await err(() => c.subscribe({ from: other.position }))).toBe('INVALID');
    await other.close();
  });
});

describe('GET /changes (for curl and other languages)', () => {
  it("pages through the stream as JSON, values in the wire encoding, resuming from each page's position", async () => {
    const got: string[] = [];
    let from = 'beginning';
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`${w.url}/changes?keyspace=main&tables=note&max=7&from=${from}`, { headers: authHeaders() });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { events: { shard: string; lsn: number; table: string; op: string; row: unknown }[]; position: string };
      for (const e of page.events) got.push(`${e.shard}|${e.lsn}|${e.table}|${e.op}|${JSON.stringify(e.row)}`);
      if (!page.events.length && page.position === from) break;
      from = page.position;
    }
    const want = await expected('main', { tables: ['note'] });
    const mine = Object.fromEntries(MAIN.map((s) => [s, got.filter((g) => g.startsWith(`${s}|`)).map((g) => g.slice(s.length + 1))]));
    expect(mine).toEqual(want);
    const bad = await fetch(`${w.url}/changes?keyspace=main&from=nope`, { headers: authHeaders() });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID');
  });
});

describe('falling behind the trim point (keyspace cut)', () => {
  it('fails with NOT_FOUND and a restart position that resumes the stream', async () => {
    const c = client('cut');
    await c.execute('CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)');
    for (let i = 0; i < 30; i++) await c.execute('INSERT INTO t (id, v) VALUES ($1, $2)', [i, `v${i}`]);
    const got: ChangeEvent[] = [];
    const early = await c.subscribe({ from: 'beginning', tables: ['t'], pageSize: 3 }, (ev) => {
      got.push(ev);
    });
    await until('a few events', () => got.length >= 5);
    await early.close();
    const saved = got[4]!.position;

    const trim = async (policy: { keepRecords: number; keepMs: number }) =>
      (await (await fetch(`${w.url}/test/trim`, jsonPost({ keyspace: 'cut', shard: '-80', trim: policy }))).json()) as { firstLsn: number };
    const trimmed = await trim({ keepRecords: 0, keepMs: 0 });
    expect(trimmed.firstLsn).toBeGreaterThan(10);
    // The tablet keeps a policy for its later trims (its alarm): back to keeping records, so the
    // writes below stay in the log this test reads to know what the stream must deliver.
    expect((await trim({ keepRecords: 1000, keepMs: 600_000 })).firstLsn).toBe(trimmed.firstLsn);

    // Resuming from the saved position: a clear error, and where to restart.
    let err: VitessError | undefined;
    try {
      await c.subscribe({ from: saved, tables: ['t'] }, () => undefined);
    } catch (e) {
      err = e as VitessError;
    }
    expect(err).toBeInstanceOf(VitessError);
    expect(err!.code).toBe('NOT_FOUND');
    expect(err!.message).toMatch(/fell behind the change log of shard -80.*trimmed.*Re-read the current state/);
    expect(err!.details.shards).toEqual(['-80']);
    const restart = decodePosition(err!.details.restartFrom!);
    expect(restart.shards['-80']).toBe(trimmed.firstLsn - 1); // the shard's head: re-read, then stream on
    expect(restart.shards['80-']).toEqual(decodePosition(saved).shards['80-']); // the other shard keeps its place

    // An iterator meets the same error from next(); the subscription reports it in done.
    const it = c.subscribe({ from: 'beginning' });
    await expect(it[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(it.done).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // Restarting from there: the new changes, and on the untrimmed shard the rest after the saved position.
    const after: ChangeEvent[] = [];
    const sub = await c.subscribe({ from: err!.details.restartFrom!, tables: ['t'] }, (ev) => {
      after.push(ev);
    });
    for (let i = 100; i < 110; i++) await c.execute('INSERT INTO t (id, v) VALUES ($1, $2)', [i, `v${i}`]);
    const head = await heads(c);
    await until('the stream to reach the heads', () => covers(sub.position, head));
    await sub.close();
    // -80: everything after the trim point; 80-: everything after the saved position.
    const want = await expected('cut', { tables: ['t'], from: { '-80': trimmed.firstLsn } });
    want['80-'] = want['80-']!.slice(got.slice(0, 5).filter((e) => e.shard === '80-').length);
    expect(byShard(after, ['-80', '80-'])).toEqual(want);
    expect(after.filter((e) => e.shard === '-80').every((e) => Number(e.row.id) >= 100)).toBe(true);
  });
});
