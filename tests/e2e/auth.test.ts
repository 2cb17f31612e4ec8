/**
 * Security end to end (docs/security.md): the real Worker under wrangler with an audience set,
 * the real client over both /rpc transports, raw HTTP for every route. Tokens are refused for
 * each way they can be wrong; grants hold in every position a table can take; a row-filtered
 * token sees, changes, streams and embeds only its rows; the edge limits answer 413/415/403.
 */
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type VitessClient } from '../../client/index.js';
import { createReplica } from '../../replica/index.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { TEST_JWT_SECRET, token } from '../support/auth.js';
import { failure } from '../support/errors.js';

const AUD = 'vitess-auth-test';
const VSCHEMA = {
  keyspaces: [
    { name: 'main', engine: 'sqlite', shards: 2 },
    { name: 'pg', engine: 'pglite', shards: 2, regions: ['wnam'] },
  ],
};

let w: WranglerDev;
let admin: string;
beforeAll(async () => {
  w = await startWrangler({
    vars: { VSCHEMA: JSON.stringify(VSCHEMA), VITESS_JWT_AUDIENCE: AUD, VITESS_ALLOWED_ORIGINS: 'https://app.example', VITESS_DEMO: 'on' },
  });
  admin = await token({ admin: true, aud: AUD });
}, 180_000);
afterAll(async () => {
  await w?.stop();
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** Every way a token can be wrong, each must get a 401. */
async function badTokens(): Promise<Record<string, string | undefined>> {
  const secret = new TextEncoder().encode(TEST_JWT_SECRET);
  return {
    none: undefined,
    garbage: 'not-a-jwt',
    expired: await new SignJWT({ vt: { admin: true } })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(AUD)
      .setExpirationTime(now() - 60)
      .sign(secret),
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ vt: { admin: true }, aud: AUD, exp: now() + 3600 })}.`,
    'wrong key': await new SignJWT({ vt: { admin: true } }).setProtectedHeader({ alg: 'HS256' }).setAudience(AUD).setExpirationTime('1h').sign(randomBytes(32)),
    'wrong audience': await token({ admin: true, aud: 'someone-else' }),
    'no audience': await token({ admin: true }),
    'no exp': await new SignJWT({ vt: { admin: true } }).setProtectedHeader({ alg: 'HS256' }).setAudience(AUD).sign(secret),
    'HS384 with the secret': await new SignJWT({ vt: { admin: true } })
      .setProtectedHeader({ alg: 'HS384' })
      .setAudience(AUD)
      .setExpirationTime('1h')
      .sign(secret),
  };
}

const http = (path: string, t: string | undefined, init: RequestInit = {}) =>
  fetch(`${w.url}${path}`, { ...init, headers: { ...(t && { authorization: `Bearer ${t}` }), ...(init.headers as Record<string, string>) } });
const sqlBody = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The status of a WebSocket upgrade of /rpc offering the token as a subprotocol. */
function upgradeStatus(t: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${w.url}/rpc`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': t ? `vitess.rpc, vitess.bearer.${t}` : 'vitess.rpc',
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode!);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end();
  });
}

const client = (t: string, keyspace = 'main'): VitessClient => createClient({ endpoint: w.url, keyspace, token: t, retry: { attempts: 1 } });

describe('authentication', () => {
  it('refuses every bad token with 401 on every route and both /rpc transports', async () => {
    const routes: [string, RequestInit][] = [
      ['/status', {}],
      ['/sql', sqlBody({ sql: 'SELECT 1' })],
      ['/log', {}],
      ['/changes?from=beginning', {}],
      ['/metrics', {}],
      ['/errors', {}],
      ['/', {}],
      ['/demo', {}],
      ['/rpc', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' }],
    ];
    for (const [why, t] of Object.entries(await badTokens())) {
      for (const [path, init] of routes) {
        const res = await http(path, t, init);
        expect({ why, path, status: res.status }).toEqual({ why, path, status: 401 });
      }
      expect({ why, ws: await upgradeStatus(t) }).toEqual({ why, ws: 401 });
      if (!t) continue;
      // The client over HTTP batch, and over a WebSocket, says why.
      const c = client(t);
      expect((await failure(c.query('SELECT 1'))).code).toBe('UNAUTHENTICATED');
      expect((await failure(c.connect())).code).toBe('UNAUTHENTICATED');
      await c.disconnect();
    }
  });

  it('lets a valid token in on both transports, and never takes it from the URL', async () => {
    expect(await upgradeStatus(admin)).toBe(101);
    expect((await http(`/status?token=${admin}`, undefined)).status).toBe(401);
    const c = client(admin);
    await c.connect();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.disconnect();
  });

  it('re-checks expiry on every call of a long-lived WebSocket', async () => {
    const short = await new SignJWT({ vt: { admin: true } })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(AUD)
      .setExpirationTime(now() + 2)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const c = client(short);
    await c.connect();
    await c.query('SELECT 1');
    await new Promise((r) => setTimeout(r, 3_100));
    expect((await failure(c.query('SELECT 1'))).code).toBe('UNAUTHENTICATED');
    await c.disconnect();
  });

  it('gives pages a sign-in form with the 401, and a cookie after POST /login', async () => {
    const page = await http('/', undefined);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('<form id="login"');
    const login = await http('/login', admin, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(login.status).toBe(204);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const dash = await fetch(`${w.url}/`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(dash.status).toBe(200);
    expect(dash.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(dash.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('edge limits', () => {
  it('answers 413 to a body over 1 MB and 415 to a POST that is not JSON, running nothing', async () => {
    const big = await http('/sql', admin, sqlBody({ sql: `SELECT '${'x'.repeat(1_100_000)}'` }));
    expect(big.status).toBe(413);
    const plain = await http('/sql', admin, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ sql: 'SELECT 1' }) });
    expect(plain.status).toBe(415);
    const rpc = await http('/rpc', admin, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(1_100_000) });
    expect(rpc.status).toBe(413);
  });

  it('follows the origin allowlist for CORS and WebSocket upgrades', async () => {
    const evil = await http('/status', admin, { headers: { origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    const app = await http('/status', admin, { headers: { origin: 'https://app.example' } });
    expect(app.status).toBe(200);
    expect(app.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const pre = await fetch(`${w.url}/sql`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
  });

  it('shows statements in /errors without their literals', async () => {
    await http('/sql', admin, sqlBody({ sql: "SELECT * FROM no_such_table WHERE secret = 'hunter2-literal' AND n = 424242" }));
    const errors = JSON.stringify(await (await http('/errors', admin)).json());
    expect(errors).toContain('no_such_table');
    expect(errors).not.toContain('hunter2-literal');
    expect(errors).not.toContain('424242');
  });
});

describe.each(['main', 'pg'])('grants on keyspace %s', (keyspace) => {
  let a: VitessClient;
  beforeAll(async () => {
    a = client(admin, keyspace);
    await a.execute('CREATE TABLE orders (id BIGINT PRIMARY KEY, tenant_id BIGINT NOT NULL, item TEXT NOT NULL)');
    await a.execute('CREATE TABLE secrets (id BIGINT PRIMARY KEY, v TEXT NOT NULL)');
    const rows = Array.from({ length: 30 }, (_, i) => `(${i + 1}, ${[42, 7, 9][i % 3]}, 'item ${i + 1}')`).join(', ');
    await a.execute(`INSERT INTO orders (id, tenant_id, item) VALUES ${rows}`);
    await a.execute("INSERT INTO secrets (id, v) VALUES (1, 'top secret')");
  });

  const forbidden = async (c: VitessClient, sql: string, params: unknown[] = []) => {
    const e = await failure(c.query(sql, params as never[]));
    expect({ sql, code: e.code }).toEqual({ sql, code: 'FORBIDDEN' });
    return e;
  };

  it('a read-only token reads, and is refused DML, DDL, transactions and side-effecting functions', async () => {
    const ro = client(await token({ readOnly: true, aud: AUD }), keyspace);
    expect((await ro.query('SELECT count(*) AS n FROM orders')).rows[0]!.n).toBe(30);
    await forbidden(ro, "INSERT INTO orders (id, tenant_id, item) VALUES (100, 1, 'x')");
    await forbidden(ro, 'UPDATE orders SET item = $1', ['x']);
    await forbidden(ro, 'DELETE FROM orders');
    await forbidden(ro, 'CREATE TABLE t2 (id BIGINT PRIMARY KEY)');
    await forbidden(ro, "SELECT set_config('session_replication_role', 'replica', false)");
    await forbidden(ro, "SELECT pg_notify('_vt_capture', 'x')");
    expect(
      (
        await failure(
          ro.transaction(async (tx) => {
            await tx.query('SELECT 1');
          }),
        )
      ).code,
    ).toBe('FORBIDDEN');
    expect((await failure(ro.batch([{ sql: 'SELECT 1' }], { atomic: true }))).code).toBe('FORBIDDEN');
    expect((await a.query('SELECT count(*) AS n FROM orders')).rows[0]!.n).toBe(30);
  });

  it('a token for another keyspace is refused here', async () => {
    const other = client(await token({ keyspace: [keyspace === 'main' ? 'pg' : 'main'], aud: AUD }), keyspace);
    await forbidden(other, 'SELECT 1');
    const status = (await other.status()).keyspaces.map((k) => k.name);
    expect(status).not.toContain(keyspace);
  });

  it('a table not granted is refused in every position, in any letter case', async () => {
    const t = client(await token({ tables: 'orders', aud: AUD }), keyspace);
    expect((await t.query('SELECT count(*) AS n FROM orders')).rows[0]!.n).toBe(30);
    for (const sql of [
      'SELECT * FROM secrets',
      'SELECT * FROM SECRETS',
      'SELECT * FROM "secrets"',
      'SELECT o.id FROM orders o JOIN secrets s ON s.id = o.id',
      'SELECT id FROM orders WHERE id IN (SELECT id FROM secrets)',
      'WITH s AS (SELECT * FROM secrets) SELECT * FROM s',
      'INSERT INTO orders (id, tenant_id, item) SELECT id, 1, v FROM secrets',
      "INSERT INTO orders (id, tenant_id, item) VALUES (500, 1, 'x') RETURNING (SELECT v FROM secrets LIMIT 1)",
      'SELECT * FROM _vt_log',
      'SELECT * FROM _VT_LOG',
    ])
      await forbidden(t, sql);
    // Admins reach every table.
    expect((await a.query('SELECT v FROM secrets')).rows).toEqual([{ v: 'top secret' }]);
  });

  it('a row-filtered token sees, changes, streams and embeds only its rows', async () => {
    const tt = await token({ tables: 'orders', row: ['orders.tenant_id=42'], aud: AUD });
    const t = client(tt, keyspace);
    const mine = (await t.query<{ tenant_id: number }>('SELECT * FROM orders ORDER BY id')).rows;
    expect(mine).toHaveLength(10);
    expect(new Set(mine.map((r) => Number(r.tenant_id)))).toEqual(new Set([42]));
    expect((await t.query('SELECT count(*) AS n FROM orders WHERE tenant_id = 7 OR true')).rows[0]!.n).toBe(10);
    // Writes stay inside.
    await forbidden(t, "INSERT INTO orders (id, tenant_id, item) VALUES (200, 7, 'x')");
    await forbidden(t, "INSERT INTO orders (id, item) VALUES (201, 'x')");
    await forbidden(t, 'UPDATE orders SET tenant_id = 7');
    expect((await t.execute("INSERT INTO orders (id, tenant_id, item) VALUES ($1, $2, 'mine')", [202, 42])).affected).toBe(1);
    expect((await t.execute("UPDATE orders SET item = 'touched'")).affected).toBe(11);
    expect((await a.query("SELECT count(*) AS n FROM orders WHERE item = 'touched'")).rows[0]!.n).toBe(11);
    expect((await t.execute('DELETE FROM orders WHERE id = 2')).affected).toBe(0); // tenant 7's row
    expect((await a.query('SELECT count(*) AS n FROM orders WHERE id = 2')).rows[0]!.n).toBe(1);
    // Streams: only its rows' events, no other table's.
    const page = (await (await http(`/changes?keyspace=${keyspace}&from=beginning&max=5000`, tt)).json()) as {
      events: { table?: string; row?: Record<string, unknown> }[];
    };
    const rows = page.events.filter((e) => e.row);
    expect(rows.length).toBeGreaterThan(0);
    for (const e of rows) {
      expect(e.table).toBe('orders');
      expect(String((e.row!.tenant_id as { $int8?: string })?.$int8 ?? e.row!.tenant_id)).toBe('42');
    }
    // An embedded replica made with the token holds only its rows and only the tables it may read.
    const local = await createReplica({ endpoint: w.url, keyspace, engine: 'libsql', token: tt });
    try {
      const held = (await local.query('SELECT tenant_id FROM orders')).rows;
      expect(held).toHaveLength(11);
      expect(new Set(held.map((r) => Number(r.tenant_id)))).toEqual(new Set([42]));
      expect((await failure(local.query('SELECT * FROM secrets'))).message).toMatch(/secrets/);
    } finally {
      await local.close();
    }
  });

  it('keeps a filter value inert when it looks like SQL', async () => {
    const t = client(await token({ row: ["orders.item=' OR 1=1 --"], aud: AUD }), keyspace);
    expect((await t.query('SELECT * FROM orders')).rows).toEqual([]);
  });
});

describe('change capture on PGlite cannot be switched off or forged through VTGate', () => {
  it('refuses each bypass, and a later write still reaches the log', async () => {
    const a = client(admin, 'pg');
    await a.execute('CREATE TABLE IF NOT EXISTS capt (id BIGINT PRIMARY KEY, v TEXT)');
    const ran: string[] = [];
    for (const sql of [
      "SELECT set_config('session_replication_role', 'replica', false)",
      "SELECT set_config('role', 'none', false)",
      `SELECT pg_notify('_vt_capture', '{"table":"capt","op":"insert","row":{"id":999,"v":"forged"}}')`,
      'SET session_replication_role = replica',
      'RESET ROLE',
      'ALTER TABLE capt DISABLE TRIGGER ALL',
      'DROP TRIGGER _vt_cap ON capt',
      "SELECT pg_read_file('/etc/passwd')",
      "SELECT lo_import('/etc/passwd')",
      'SELECT * FROM _vt_log',
    ]) {
      if (
        await a.query(sql).then(
          () => true,
          () => false,
        )
      )
        ran.push(sql);
    }
    expect(ran).toEqual([]);
    await a.execute("INSERT INTO capt (id, v) VALUES (1, 'after')");
    const logs = await Promise.all(
      ['-80', '80-'].map(async (shard) => JSON.stringify(await (await http(`/log?keyspace=pg&shard=${shard}&from=1&max=1000`, admin)).json())),
    );
    expect(logs.join('')).toContain('after');
    expect(logs.join('')).not.toContain('forged');
    const changes = JSON.stringify(await (await http('/changes?keyspace=pg&from=beginning&tables=capt&max=5000', admin)).json());
    expect(changes).toContain('after');
    expect(changes).not.toContain('forged');
    // The replicas apply what the log holds: once one serves the read, it has the write and no forged row.
    const r = client(admin, 'pg');
    let seen: { role: string; rows: string[] } = { role: '', rows: [] };
    for (let i = 0; i < 300 && !(seen.role === 'replica' && seen.rows.includes('after')); i++) {
      if (i) await new Promise((done) => setTimeout(done, 100));
      const q = await r.query('SELECT v FROM capt ORDER BY id', [], { consistency: 'eventual', region: 'wnam' });
      seen = { role: q.servedBy.role, rows: q.rows.map((x) => String(x.v)) };
    }
    expect(seen).toEqual({ role: 'replica', rows: ['after'] });
  });
});
