/**
 * Embedded replicas (`createReplica`, docs/embedded-replicas.md) end to end: the real Worker
 * under wrangler (VTGate plus a test-only DO that embeds a replica,
 * tests/e2e/embedded-replica-worker.ts), the real client, real PGlite and libSQL in Node.
 * Keyspaces `main` and `rw`: DO SQLite × 4; `pg`: PGlite × 2; `side`: DO SQLite × 2. The four
 * groups below run side by side, one keyspace each.
 *
 * - Replicas opened while a seeded random workload runs (single and multi-row DML, scatter
 *   updates, interactive transactions, DDL: CREATE/ALTER/INDEX/DROP) converge to the primaries:
 *   same checksum of sorted rows, table by table, on PGlite and libSQL, and a filtered one
 *   (tables + key range) to its subset. Closed and reopened on the same path, they resume from
 *   their stored LSNs — not one snapshot call crosses the wire (counted in the fetch) — and
 *   converge again after more writes.
 * - `execute` then `query` on the replica sees the write, 100 times in a row per engine.
 * - A row placed by a column that is not its key, moved between shards (the insert on the new
 *   shard reaching the replica first), is its new version; a UNIQUE value on two shards is kept.
 * - The replica's stream survives 503s, resets, lost and slow answers (msw between it and VTGate),
 *   and a long poll that is never answered does not hold back `execute`.
 * - A replica inside a Durable Object (engine 'do-sqlite'): the same, and it resumes after close.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, HttpResponse, passthrough } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VitessError, type VitessClient } from '../../client/index.js';
import { createReplica, type EmbeddedReplica, type ReplicaOptions } from '../../replica/index.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { inRange } from '../../rpc/keyspace/keyrange.js';
import type { Row } from '../../rpc/results.js';
import { rowFromWire, rowToWire, type SqlValue } from '../../rpc/values.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { jsonPost } from '../support/auth.js';
import { rng } from '../support/rng.js';
import { streamFaults, type StreamFault } from '../support/stream-faults.js';

const VSCHEMA = {
  keyspaces: [
    { name: 'main', engine: 'sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'] },
    { name: 'pg', engine: 'pglite', shards: ['-80', '80-'] },
    { name: 'side', engine: 'sqlite', shards: ['-80', '80-'] },
    // mv: placed by a column that is not its primary key (rows move between shards).
    { name: 'rw', engine: 'sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'], tables: { mv: { vindex: { type: 'hash', column: 'owner' } } } },
  ],
};

let w: WranglerDev;
let dir: string;
const mock = setupServer();
const clients: VitessClient[] = [];
const replicas: EmbeddedReplica[] = [];

beforeAll(async () => {
  // Listen first: a keep-alive connection opened before msw listens is never intercepted.
  mock.listen({ onUnhandledFrame: 'bypass' });
  dir = mkdtempSync(join(tmpdir(), 'vitess-embedded-'));
  w = await startWrangler({ config: 'tests/e2e/embedded-replica.wrangler.jsonc', vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
}, 180_000);

afterAll(async () => {
  mock.close();
  await Promise.all(replicas.map((r) => r.close().catch(() => undefined)));
  await Promise.all(clients.map((c) => c.disconnect()));
  await w?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client(keyspace: string): VitessClient {
  // Generous deadlines: the machine is shared, and a write that times out is not retried.
  const c = createClient({ endpoint: w.url, keyspace, retry: { attempts: 6, baseMs: 20, maxMs: 300 }, timeoutMs: 120_000 });
  clients.push(c);
  return c;
}

/** The gateway calls a replica's client makes, counted by method name as they cross the wire. */
function countingFetch(): { fetch: typeof fetch; calls: (method: string) => number } {
  const seen: string[] = [];
  return {
    fetch: (input, init) => {
      const body = typeof init?.body === 'string' ? init.body : '';
      for (const m of body.matchAll(/\["(snapshot|schema|changes)"\]/g)) seen.push(m[1]!);
      return fetch(input, init);
    },
    calls: (method) => seen.filter((m) => m === method).length,
  };
}

async function replica(keyspace: string, opts: Partial<ReplicaOptions> & Pick<ReplicaOptions, 'engine'>): Promise<EmbeddedReplica> {
  const r = await createReplica({ endpoint: w.url, keyspace, waitMs: 2_000, ...opts });
  replicas.push(r);
  return r;
}

// ---- checksums ------------------------------------------------------------------------------

/** Rows as text independent of the engine's integer representation, sorted. */
function canonical(rows: Row[]): string[] {
  return rows
    .map((row) =>
      JSON.stringify(
        Object.keys(row)
          .sort()
          .map((k) => {
            const v = row[k];
            return typeof v === 'bigint' || typeof v === 'number' ? String(v) : v instanceof Uint8Array ? [...v] : v;
          }),
      ),
    )
    .sort();
}

const checksum = (rows: Row[]): string => createHash('sha256').update(canonical(rows).join('\n')).digest('hex');

async function primaryTables(c: VitessClient): Promise<string[]> {
  // The user tables every shard has, from the catalog VTGate plans with: ask each by name.
  const out: string[] = [];
  for (const t of ['acct', 'note', 'extra', 'kv']) {
    const ok = await c.query(`SELECT 1 FROM ${t} LIMIT 1`, [], { consistency: 'strong' }).then(
      () => true,
      () => false,
    );
    if (ok) out.push(t);
  }
  return out;
}

async function expectConverged(
  c: VitessClient,
  read: (sql: string) => Promise<Row[]>,
  filter: (table: string, row: Row) => boolean = () => true,
  only?: string[],
): Promise<void> {
  for (const t of only ?? (await primaryTables(c))) {
    const primary = (await c.query(`SELECT * FROM ${t}`, [], { consistency: 'strong' })).rows.filter((r) => filter(t, r));
    const local = await read(`SELECT * FROM ${t}`);
    expect({ table: t, rows: local.length, sum: checksum(local) }).toEqual({ table: t, rows: primary.length, sum: checksum(primary) });
  }
}

// ---- the workload ---------------------------------------------------------------------------

interface Ids {
  next: number;
  live: number[];
}

/**
 * `steps` random writes: single and multi-row inserts, updates by key and scatter updates,
 * deletes, interactive transactions on one row; DDL at fixed steps (`ddlAt`).
 */
async function workload(c: VitessClient, seed: number, steps: number, ids: Ids, ddlAt: Record<number, string> = {}): Promise<void> {
  const r = rng(seed);
  let extra = false;
  for (let i = 0; i < steps; i++) {
    const ddl = ddlAt[i];
    if (ddl) {
      await c.execute(ddl);
      if (/CREATE TABLE extra/.test(ddl)) extra = true;
      if (/DROP TABLE extra/.test(ddl)) extra = false;
      continue;
    }
    const x = r.next();
    const owner = `o${r.int(4)}`;
    if (x < 0.3 || ids.live.length < 10) {
      const id = ids.next++;
      ids.live.push(id);
      await c.execute('INSERT INTO acct (id, owner, n) VALUES ($1, $2, $3)', [id, owner, r.int(100)]);
    } else if (x < 0.4) {
      const rows = [ids.next++, ids.next++, ids.next++];
      ids.live.push(...rows);
      await c.execute('INSERT INTO acct (id, owner, n) VALUES ($1, $2, 0), ($3, $2, 1), ($4, $2, 2)', [rows[0]!, owner, rows[1]!, rows[2]!]);
    } else if (x < 0.55) {
      await c.execute('UPDATE acct SET n = n + 1 WHERE id = $1', [r.pick(ids.live)]);
    } else if (x < 0.62) {
      await c.execute('UPDATE acct SET n = n * 2 WHERE owner = $1', [owner]);
    } else if (x < 0.72) {
      const id = r.pick(ids.live);
      ids.live.splice(ids.live.indexOf(id), 1);
      await c.execute('DELETE FROM acct WHERE id = $1', [id]);
    } else if (x < 0.8) {
      const id = ids.next++;
      ids.live.push(id);
      await c.transaction(
        async (tx) => {
          await tx.execute('INSERT INTO acct (id, owner, n) VALUES ($1, $2, 1)', [id, owner]);
          await tx.execute('UPDATE acct SET n = n + 10 WHERE id = $1', [id]);
        },
        { timeoutMs: 60_000 },
      ); // a generous deadline on a shared machine
    } else if (x < 0.9 || !extra) {
      await c.execute('INSERT INTO note (id, body) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET body = excluded.body', [r.int(40), `note ${i}`]);
    } else {
      await c.execute('INSERT INTO extra (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v', [r.int(30), `v${i}`]);
    }
  }
}

async function createTables(c: VitessClient, seedRows: number): Promise<Ids> {
  await c.execute('CREATE TABLE acct (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, n INT NOT NULL)');
  await c.execute('CREATE TABLE note (id BIGINT PRIMARY KEY, body TEXT)');
  const ids: Ids = { next: 1, live: [] };
  for (let i = 0; i < seedRows; i += 25) {
    const batch = Array.from({ length: 25 }, () => ids.next++);
    ids.live.push(...batch);
    await c.execute(`INSERT INTO acct (id, owner, n) VALUES ${batch.map((_, k) => `($${k + 1}, 'seed', ${k})`).join(', ')}`, batch);
  }
  return ids;
}

const DDL = {
  5: 'CREATE TABLE extra (id BIGINT PRIMARY KEY, v TEXT)',
  20: 'ALTER TABLE acct ADD COLUMN tag TEXT',
  35: 'CREATE INDEX acct_owner ON acct (owner)',
  50: 'DROP TABLE extra',
  56: 'CREATE TABLE extra (id BIGINT PRIMARY KEY, v TEXT, w INT)',
};

// ---- Node ---------------------------------------------------------------------------------

// Four groups side by side, each on a keyspace of its own (their writes never meet another
// group's checksums); the tests of a group run one after another.
describe.concurrent('embedded replicas in Node (keyspace main)', () => {
  it.sequential('converge on PGlite and libSQL (and filtered) after a random workload, and resume without a snapshot', async () => {
    const c = client('main');
    const ids = await createTables(c, 400);
    const pgPath = join(dir, 'main-pg');
    const sqlPath = join(dir, 'main.db');
    const wire = { pg: countingFetch(), sql: countingFetch() };
    // Row writes run while the replicas copy (they catch up page by page), then the DDL part
    // of the workload while they follow (a DDL during a copy would only restart it).
    const copying = workload(c, 1, 30, ids);
    copying.catch(() => undefined); // awaited below; not unhandled meanwhile
    let [pg, sql] = await Promise.all([
      replica('main', { engine: 'pglite', path: pgPath, pageRows: 50, client: { fetch: wire.pg.fetch } }),
      replica('main', { engine: 'libsql', path: sqlPath, pageRows: 50, client: { fetch: wire.sql.fetch } }),
    ]);
    const filtered = await replica('main', { engine: 'libsql', tables: ['acct'], keyRange: '80-' });
    await copying;
    await workload(c, 11, 70, ids, DDL);
    await Promise.all([pg, sql, filtered].map((r) => r.waitFor(c.bookmark)));
    await expectConverged(c, async (q) => (await pg.query(q)).rows);
    await expectConverged(c, async (q) => (await sql.query(q)).rows);
    await expectConverged(
      c,
      async (q) => (await filtered.query(q)).rows,
      (_t, row) => inRange(hashId(row.id!)!, '80-'),
      ['acct'],
    );
    expect(wire.pg.calls('snapshot')).toBeGreaterThan(4); // 4 shards × 2 tables at least
    expect(pg.status.bootstraps).toBe(1);
    expect(Object.keys(pg.lsns).sort()).toEqual(VSCHEMA.keyspaces[0]!.shards.slice().sort());
    expect(Object.keys(filtered.lsns).sort()).toEqual(['80-c0', 'c0-']);

    // Restart: close, reopen on the same path; positions come from the database.
    const before = {
      pg: pg.lsns,
      sql: sql.lsns,
      snapshots: wire.pg.calls('snapshot') + wire.sql.calls('snapshot'),
      schemas: wire.pg.calls('schema') + wire.sql.calls('schema'),
    };
    await Promise.all([pg.close(), sql.close()]);
    const again = workload(c, 2, 25, ids, { 10: 'ALTER TABLE note ADD COLUMN seen BOOLEAN' });
    again.catch(() => undefined); // awaited below; not unhandled meanwhile
    [pg, sql] = await Promise.all([
      replica('main', { engine: 'pglite', path: pgPath, client: { fetch: wire.pg.fetch } }),
      replica('main', { engine: 'libsql', path: sqlPath, client: { fetch: wire.sql.fetch } }),
    ]);
    expect(pg.lsns).toEqual(before.pg);
    expect(sql.lsns).toEqual(before.sql);
    await again;
    await Promise.all([pg, sql].map((r) => r.waitFor(c.bookmark)));
    await expectConverged(c, async (q) => (await pg.query(q)).rows);
    await expectConverged(c, async (q) => (await sql.query(q)).rows);
    expect(wire.pg.calls('snapshot') + wire.sql.calls('snapshot')).toBe(before.snapshots);
    expect(wire.pg.calls('schema') + wire.sql.calls('schema')).toBe(before.schemas);
    expect(pg.status.bootstraps + sql.status.bootstraps).toBe(0);
    expect(wire.pg.calls('changes')).toBeGreaterThan(0);

    // Opened for another scope, the stored copy is refused rather than mixed up.
    await pg.close();
    await expect(createReplica({ endpoint: w.url, keyspace: 'main', engine: 'pglite', path: pgPath, tables: ['note'] })).rejects.toMatchObject({
      code: 'INVALID',
    });
  });

  // ---- faults between an embedded replica and VTGate (msw) ----

  it.sequential('its stream survives 503s, resets, lost answers and slow answers, and converges', async () => {
    const c = client('main');
    await c.execute('CREATE TABLE IF NOT EXISTS kv (id BIGINT PRIMARY KEY, v INT)');
    const faults: StreamFault[] = ['503', 'reset', 'lost', 'slow', '503', 'lost', 'reset', 'slow', 'lost', '503'];
    let armed = false; // once the replica has copied: faults hit its stream loop
    mock.resetHandlers(); // the handler acts only on requests this test tags: other groups pass through
    const { applied } = streamFaults(mock, w.url, faults, { only: (r) => armed && !!r.headers.get('x-test-faults'), slowMs: 5_000 });
    const tagged = (input: string, init: RequestInit) => {
      const headers = new Headers(init?.headers);
      headers.set('x-test-faults', '1');
      return fetch(input, { ...init, headers });
    };
    const local = await replica('main', {
      engine: 'libsql',
      tables: ['kv'],
      waitMs: 100,
      client: { fetch: tagged as typeof fetch, timeoutMs: 4_000, retry: { attempts: 4, baseMs: 10, maxMs: 100 } },
    });
    armed = true;
    for (let i = 0; i < 60; i++) await c.execute('INSERT INTO kv (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v', [7000 + (i % 13), i]);
    await until(() => faults.length === 0, 60_000);
    await local.waitFor(c.bookmark);
    expect(applied).toHaveLength(10);
    expect(local.status.state).toBe('streaming');
    await expectConverged(c, async (q) => (await local.query(q)).rows, undefined, ['kv']);
  });
  it.sequential('a stream request that never answers does not hold back execute: the waiter has it asked again', async () => {
    // What a dropped connection or a gateway restarted under a long poll looks like to the replica
    // (wrangler dev's reload held such requests for 50 s): the stream's request is never answered.
    const c = client('main');
    await c.execute('CREATE TABLE IF NOT EXISTS kv (id BIGINT PRIMARY KEY, v INT)');
    let holes = 1;
    let cut = false;
    let held!: () => void;
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    mock.resetHandlers(); // the handlers act only on requests this test tags: other groups pass through
    mock.use(
      http.post(`${w.url}/rpc`, async ({ request: r }) => {
        const request = r as unknown as Request;
        if (!request.headers.get('x-test-blackhole')) return passthrough();
        // Only the stream loop's long polls (the copy's reads ask with waitMs 0).
        if (!holes || !(await request.clone().text()).includes('"waitMs":20000')) return passthrough();
        holes--;
        held();
        await new Promise((resolve) => {
          request.signal.addEventListener('abort', resolve);
          setTimeout(resolve, 60_000);
        });
        cut = request.signal.aborted;
        return HttpResponse.error();
      }),
    );
    const blackhole = (input: string, init: RequestInit) => {
      const headers = new Headers(init?.headers);
      headers.set('x-test-blackhole', '1');
      return fetch(input, { ...init, headers });
    };
    // The client's own deadline (30 s) is past writeTimeoutMs: only asking again can make it.
    const local = await replica('main', {
      engine: 'libsql',
      tables: ['kv'],
      waitMs: 20_000,
      writeTimeoutMs: 15_000,
      client: { fetch: blackhole as typeof fetch },
    });
    await holding;
    await local.execute('INSERT INTO kv (id, v) VALUES (8000, 1) ON CONFLICT (id) DO UPDATE SET v = excluded.v');
    expect((await local.query('SELECT v FROM kv WHERE id = 8000')).rows.map((x) => Number(x.v))).toEqual([1]);
    expect(cut).toBe(true);
    expect(local.status.state).toBe('streaming');
    expect(local.status.retries).toBeGreaterThanOrEqual(1);
    await local.close();
  });
});

describe.concurrent('read-your-writes (keyspace rw)', () => {
  it.sequential('execute then query sees the write, 100 times in a row on each engine; live() follows', async () => {
    const c = client('rw');
    await c.execute('CREATE TABLE kv (id BIGINT PRIMARY KEY, v INT)');
    const [pg, sql] = await Promise.all([replica('rw', { engine: 'pglite' }), replica('rw', { engine: 'libsql' })]);
    const seen: number[] = [];
    const stop = sql.live('SELECT count(*) AS n FROM kv', [], (rows) => {
      seen.push(Number(rows[0]!.n));
    });
    const misses: string[] = [];
    await Promise.all(
      [pg, sql].map(async (local, e) => {
        for (let i = 0; i < 100; i++) {
          const id = e * 1000 + (i % 25);
          const del = i % 7 === 6;
          await local.execute(
            del ? 'DELETE FROM kv WHERE id = $1' : 'INSERT INTO kv (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v',
            del ? [id] : [id, i],
          );
          const got = (await local.query('SELECT v FROM kv WHERE id = $1', [id])).rows;
          const ok = del ? got.length === 0 : got.length === 1 && Number(got[0]!.v) === i;
          if (!ok) misses.push(`${e}:${i} ${JSON.stringify(got)}`);
        }
      }),
    );
    expect(misses).toEqual([]);
    const total = Number((await c.query('SELECT count(*) AS n FROM kv', [], { consistency: 'strong' })).rows[0]!.n);
    await sql.waitFor(c.bookmark);
    await until(() => seen.at(-1) === total);
    stop();
    await expect(pg.query('DELETE FROM kv')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(pg.query('SELEC 1')).rejects.toBeInstanceOf(VitessError);
  });

  it.sequential('JSON scalars and a JSON null (not SQL NULL) come through the copy and the stream exactly', async () => {
    const c = client('rw');
    await c.execute('CREATE TABLE js (id BIGINT PRIMARY KEY, j JSONB)');
    await writeJson(c, 100);
    const [pg, sql] = await Promise.all([replica('rw', { engine: 'pglite', tables: ['js'] }), replica('rw', { engine: 'libsql', tables: ['js'] })]);
    await writeJson(c, 200); // through the stream
    await c.execute(`UPDATE js SET j = '"changed"' WHERE id = 106`);
    await Promise.all([pg, sql].map((r) => r.waitFor(c.bookmark)));
    const want = jsonRows((await c.query(JSON_READ, [], { consistency: 'strong' })).rows);
    expect(want).toContain(JSON.stringify(['102', null, false])); // a JSON null
    expect(want).toContain(JSON.stringify(['108', null, true])); // SQL NULL
    expect(want).toContain(JSON.stringify(['200', 'hi', false]));
    expect(jsonRows((await pg.query(JSON_READ)).rows)).toEqual(want);
    expect(jsonRows((await sql.query(JSON_READ)).rows)).toEqual(want);
    expect(pg.status.state).toBe('streaming');
  });

  it.sequential('a first page asked for ahead, older than what the copy applied by its turn, is asked for again', async () => {
    // The copy asks for the next table's first page while this table's pages come and load. Here
    // a write to that next table lands after its first page was read and before the page of the
    // current table that makes the copy apply the log past it: loaded as it came, the page would
    // take the row back to its old value.
    const c = client('rw');
    await c.execute('CREATE TABLE pf_big (id BIGINT PRIMARY KEY, v INT)');
    await c.execute('CREATE TABLE pf_small (id BIGINT PRIMARY KEY, v TEXT)');
    const ids = Array.from({ length: 240 }, (_, i) => i + 1);
    for (let i = 0; i < ids.length; i += 40) {
      const part = ids.slice(i, i + 40);
      await c.execute(`INSERT INTO pf_big (id, v) VALUES ${part.map((_, k) => `($${k + 1}, 0)`).join(', ')}`, part);
    }
    await c.execute("INSERT INTO pf_small (id, v) VALUES (1, 'old')");
    const shard = VSCHEMA.keyspaces[3]!.shards.find((s) => inRange(hashId(1)!, s))!;
    let smallRead!: () => void;
    const smallHasBeenRead = new Promise<void>((resolve) => {
      smallRead = resolve;
    });
    let wrote = false;
    const asked: string[] = [];
    const interpose = async (input: string, init: RequestInit) => {
      const body = typeof init?.body === 'string' ? init.body : '';
      const m = /"shard":"([^"]*)","table":"(pf_\w+)","afterKey":(null|\[)/.exec(body);
      if (m?.[1] !== shard) return fetch(input, init);
      asked.push(`${m[2]}${m[3] === 'null' ? '' : '+'}`);
      if (m[2] === 'pf_small') {
        const res = await fetch(input, init);
        const text = await res.text();
        smallRead();
        return new Response(text, { status: res.status, headers: res.headers });
      }
      if (m[3] === '[' && !wrote) {
        wrote = true;
        await smallHasBeenRead;
        await c.execute("UPDATE pf_small SET v = 'new' WHERE id = 1");
      }
      return fetch(input, init);
    };
    const local = await replica('rw', { engine: 'libsql', tables: ['pf_big', 'pf_small'], pageRows: 20, client: { fetch: interpose as typeof fetch } });
    expect(wrote).toBe(true);
    expect((await local.query('SELECT v FROM pf_small WHERE id = 1')).rows).toEqual([{ v: 'new' }]);
    expect(Number((await local.query('SELECT count(*) AS n FROM pf_big')).rows[0]!.n)).toBe(ids.length);
    // pf_small's first page was asked for with pf_big's first, and again after pf_big's pages.
    expect(asked.filter((a) => a === 'pf_small')).toHaveLength(2);
    expect(asked.indexOf('pf_small')).toBeLessThan(asked.indexOf('pf_big+'));
  });

  it.sequential('a row moved between shards keeps its new version; a UNIQUE value repeated on two shards does not stop the stream', async () => {
    // Rows of mv are placed by `owner`, not by their key: a move is a delete on the old shard and
    // an insert on the new one, which can reach the replica in either order (here the insert first,
    // as a client that inserts before it deletes makes it). UNIQUE holds per shard on the primaries.
    const c = client('rw');
    await c.execute('CREATE TABLE mv (id BIGINT PRIMARY KEY, owner BIGINT NOT NULL, v TEXT, email TEXT UNIQUE)');
    const shards = VSCHEMA.keyspaces[3]!.shards;
    const shardOf = (owner: number) => shards.find((s) => inRange(hashId(owner)!, s));
    const a = 1;
    const b = [2, 3, 4, 5, 6, 7, 8].find((o) => shardOf(o) !== shardOf(a))!;
    await c.execute("INSERT INTO mv (id, owner, v) VALUES (1, $1, 'before')", [a]);
    const both = await Promise.all([replica('rw', { engine: 'pglite', tables: ['mv'] }), replica('rw', { engine: 'libsql', tables: ['mv'] })]);
    await c.execute("INSERT INTO mv (id, owner, v) VALUES (1, $1, 'after')", [b]);
    await Promise.all(both.map((r) => r.waitFor(c.bookmark)));
    await c.execute('DELETE FROM mv WHERE id = 1 AND owner = $1', [a]);
    const rows = (rs: Row[]) => rs.map((x) => [Number(x.id), Number(x.owner), x.v]);
    const same = async (want: unknown[][]) => {
      await Promise.all(both.map((r) => r.waitFor(c.bookmark)));
      expect(rows((await c.query('SELECT id, owner, v FROM mv ORDER BY id', [], { consistency: 'strong' })).rows)).toEqual(want);
      for (const r of both) expect(rows((await r.query('SELECT id, owner, v FROM mv ORDER BY id')).rows)).toEqual(want);
    };
    await same([[1, b, 'after']]);
    await c.execute("INSERT INTO mv (id, owner, v, email) VALUES (2, $1, 'x', 'same@example.com'), (3, $2, 'y', 'same@example.com')", [a, b]);
    await same([
      [1, b, 'after'],
      [2, a, 'x'],
      [3, b, 'y'],
    ]);
    for (const r of both) expect(r.status.state).toBe('streaming');
  });
});

describe.concurrent('embedded replicas of a PGlite keyspace (keyspace pg)', () => {
  it.sequential('JSON scalars and a JSON null from a PGlite shard come through the copy and the stream exactly', async () => {
    const c = client('pg');
    await c.execute('CREATE TABLE js (id BIGINT PRIMARY KEY, j JSONB)');
    await writeJson(c, 100);
    const sql = await replica('pg', { engine: 'libsql', tables: ['js'] });
    await writeJson(c, 200);
    await sql.waitFor(c.bookmark);
    const want = jsonRows((await c.query(JSON_READ, [], { consistency: 'strong' })).rows);
    expect(want).toContain(JSON.stringify(['102', null, false])); // a JSON null, copied
    expect(want).toContain(JSON.stringify(['202', null, false])); // and streamed
    expect(jsonRows((await sql.query(JSON_READ)).rows)).toEqual(want);
  });

  it.sequential('a libSQL replica of a PGlite keyspace converges too', async () => {
    const c = client('pg');
    const ids = await createTables(c, 100);
    const copying = workload(c, 3, 20, ids);
    copying.catch(() => undefined); // awaited below; not unhandled meanwhile
    const local = await replica('pg', { engine: 'libsql', pageRows: 40 });
    await copying;
    await workload(c, 13, 25, ids, { 3: DDL[5], 12: DDL[20] });
    await local.waitFor(c.bookmark);
    await expectConverged(c, async (q) => (await local.query(q)).rows);
  });
});

async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- JSON of every kind ---------------------------------------------------------------------

/** JSON scalars (a string, booleans, a number, a JSON null) next to an object, an array and SQL NULL, as JSON text. */
const JSON_VALUES: (string | null)[] = ['"hi"', '"null"', 'null', 'true', 'false', '7', '{"a":[1,"x"]}', '[]', null];
const JSON_READ = 'SELECT id, j, (j IS NULL) AS sql_null FROM js ORDER BY id';

/** Writes every kind of JSON value into `js` from id `base` on: half before a replica copies, half after. */
async function writeJson(c: VitessClient, base: number): Promise<void> {
  for (const [i, v] of JSON_VALUES.entries()) {
    await c.execute('INSERT INTO js (id, j) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET j = excluded.j', [base + i, v]);
  }
}

/** `js` on the primaries, canonical: a JSON null and SQL NULL both read as null, `sql_null` tells them apart. */
const jsonRows = (rows: Row[]) => rows.map((r) => JSON.stringify([String(r.id), r.j, r.sql_null]));

// ---- inside a Worker ----------------------------------------------------------------------

async function host(name: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${w.url}/test/embedded/${name}`, jsonPost(body));
  const j = (await res.json()) as Record<string, unknown>;
  if (j.error) throw Object.assign(new Error(JSON.stringify(j.error)), j.error as object);
  return j;
}

const wireParams = (params: SqlValue[]) => rowToWire(Object.fromEntries(params.map((p, i) => [String(i), p])));

describe.concurrent('an embedded replica inside a Durable Object (keyspace side)', () => {
  it.sequential('converges, sees its writes, and resumes from DO storage after close', async () => {
    const c = client('side');
    const ids = await createTables(c, 200);
    await c.execute('CREATE TABLE kv (id BIGINT PRIMARY KEY, v INT)');
    // A Worker has no environment to take VITESS_TOKEN from: the DO's replica is given the token.
    const opened = await host('a', {
      op: 'open',
      endpoint: w.url,
      options: { keyspace: 'side', waitMs: 2_000, pageRows: 60, token: process.env.VITESS_TOKEN },
    });
    expect(opened).toMatchObject({ bootstraps: 1, state: 'streaming' });
    const read = async (sql: string, params: SqlValue[] = []) =>
      ((await host('a', { op: 'query', sql, params: wireParams(params) })).rows as Record<string, unknown>[]).map(rowFromWire);
    await workload(c, 4, 25, ids, { 15: 'ALTER TABLE note ADD COLUMN extra2 TEXT' });
    const misses: string[] = [];
    for (let i = 0; i < 30; i++) {
      await host('a', {
        op: 'execute',
        sql: 'INSERT INTO kv (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v',
        params: wireParams([5000 + (i % 9), i]),
      });
      const got = await read('SELECT v FROM kv WHERE id = $1', [5000 + (i % 9)]);
      if (got.length !== 1 || Number(got[0]!.v) !== i) misses.push(`${i}: ${JSON.stringify(got)}`);
    }
    expect(misses).toEqual([]);
    const waitAll = () => host('a', { op: 'wait', bookmark: c.bookmark });
    await waitAll();
    await expectConverged(c, (q) => read(q), undefined, ['acct', 'note', 'kv']);

    await host('a', { op: 'close' });
    await workload(c, 5, 10, ids);
    const reopened = await host('a', { op: 'open', endpoint: w.url, options: { keyspace: 'side', waitMs: 2_000, token: process.env.VITESS_TOKEN } });
    expect(reopened).toMatchObject({ bootstraps: 0, snapshotPages: 0 });
    await waitAll();
    await expectConverged(c, (q) => read(q), undefined, ['acct', 'note', 'kv']);
  });

  it.sequential('copies and follows JSON scalars and a JSON null exactly (DO SQLite, through the dialect)', async () => {
    const c = client('side');
    await c.execute('CREATE TABLE js (id BIGINT PRIMARY KEY, j JSONB)');
    await writeJson(c, 100);
    await host('j', { op: 'open', endpoint: w.url, options: { keyspace: 'side', tables: ['js'], waitMs: 2_000, token: process.env.VITESS_TOKEN } });
    await writeJson(c, 200);
    await host('j', { op: 'wait', bookmark: c.bookmark });
    const got = ((await host('j', { op: 'query', sql: JSON_READ, params: {} })).rows as Record<string, unknown>[]).map(rowFromWire);
    expect(jsonRows(got)).toEqual(jsonRows((await c.query(JSON_READ, [], { consistency: 'strong' })).rows));
    await host('j', { op: 'close' });
  });
});
