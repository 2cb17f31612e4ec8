// The real client over capnweb against the real Worker under `wrangler dev` (one Worker for the
// whole file, fresh state): both keyspaces (`main` on DO SQLite, 4 shards; `pg` on PGlite, 2
// shards), both transports (HTTP batch without connect(), WebSocket after it), typed errors,
// exact values, transactions, bookmarks, and reconnecting a dropped WebSocket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type VitessError, type ClientOptions, type VitessClient } from '../../client/index.js';
import { decodeBookmark } from '../../rpc/bookmark.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { failure } from '../support/errors.js';

let w: WranglerDev;
const open: VitessClient[] = [];

beforeAll(async () => {
  w = await startWrangler(); // fresh state, removed on stop
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect()));
  await w?.stop();
});

function client(keyspace: string, opts: Partial<ClientOptions> = {}): VitessClient {
  const c = createClient({ endpoint: w.url, keyspace, retry: { attempts: 3, baseMs: 20, maxMs: 200 }, ...opts });
  open.push(c);
  return c;
}

const KEYSPACES = [
  { keyspace: 'main', shards: ['-40', '40-80', '80-c0', 'c0-'] },
  { keyspace: 'pg', shards: ['-80', '80-'] },
] as const;

describe.each(KEYSPACES)('keyspace $keyspace', ({ keyspace, shards }) => {
  describe.each(['http', 'websocket'] as const)('over %s', (mode) => {
    const t = (name: string) => `${name}_${mode === 'http' ? 'h' : 'w'}`;
    let c: VitessClient;

    beforeAll(async () => {
      c = client(keyspace);
      if (mode === 'websocket') await c.connect();
      expect(c.connected).toBe(mode === 'websocket');
    });

    it('creates a table, writes across shards and reads it back', async () => {
      const ddl = await c.execute(`CREATE TABLE ${t('users')} (id BIGINT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, score INT)`);
      expect(ddl.affected).toBe(0);
      const ids = Array.from({ length: 24 }, (_, i) => i + 1);
      const multi = await c.execute(
        `INSERT INTO ${t('users')} (id, tenant, name, score) VALUES ${ids
          .slice(0, 12)
          .map((_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3}, ${i})`)
          .join(', ')}`,
        ids.slice(0, 12).flatMap((id) => [id, `t${id % 3}`, `user ${id}`]),
      );
      expect(multi.affected).toBe(12);
      for (const id of ids.slice(12)) {
        const r = await c.execute(`INSERT INTO ${t('users')} (id, tenant, name, score) VALUES ($1, $2, $3, $4)`, [id, `t${id % 3}`, `user ${id}`, id]);
        expect(r.affected).toBe(1);
      }
      const all = await c.query<{ id: number; name: string }>(`SELECT id, name FROM ${t('users')} ORDER BY id`, [], { consistency: 'strong' });
      expect(all.rows.map((r) => r.id)).toEqual(ids);
      expect(all.rowCount).toBe(24);
      expect(all.fields.map((f) => f.name)).toEqual(['id', 'name']);
      expect(all.plan).toBe('scatter');
      expect(all.servedBy.role).toBe('primary');
      expect(all.servedBy.shard.split(',')).toEqual(shards);

      const one = await c.query<{ name: string }>(`SELECT name FROM ${t('users')} WHERE id = $1`, [7]);
      expect(one.rows).toEqual([{ name: 'user 7' }]);
      expect(one.plan).toBe('single-shard');
      expect(shards).toContain(one.servedBy.shard);

      const some = await c.query<{ id: number }>(`SELECT id FROM ${t('users')} WHERE id IN ($1, $2, $3)`, [3, 14, 22]);
      expect(some.rows.map((r) => r.id).sort((a, b) => a - b)).toEqual([3, 14, 22]);
      expect(some.plan).toBe('multi-shard');
      const explained = await c.query(`EXPLAIN SELECT name FROM ${t('users')} WHERE id = $1`, [7]);
      expect(explained.rowCount).toBeGreaterThan(0);

      const agg = await c.query<{ tenant: string; n: number }>(`SELECT tenant, COUNT(*) AS n FROM ${t('users')} GROUP BY tenant ORDER BY tenant`);
      expect(agg.rows).toEqual([
        { tenant: 't0', n: 8 },
        { tenant: 't1', n: 8 },
        { tenant: 't2', n: 8 },
      ]);
      expect(agg.plan).toBe('scatter-aggregate');

      // Rows landed on every shard: each primary's LSN moved past the DDL.
      const st = await c.status();
      const ks = st.keyspaces.find((k) => k.name === keyspace)!;
      expect(ks.shards.map((s) => s.shard)).toEqual(shards);
      for (const s of ks.shards) expect(s.lsn).toBeGreaterThan(1);
    });

    it('orders a BIGINT column numerically across shards', async () => {
      const r = await c.query<{ id: number }>(`SELECT id FROM ${t('users')} WHERE id <= 12 ORDER BY id`);
      expect(r.rows.map((x) => x.id)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    });

    it('executes UPDATE/DELETE with affected counts and RETURNING rows', async () => {
      const up = await c.execute(`UPDATE ${t('users')} SET score = score + 100 WHERE tenant = $1`, ['t1']);
      expect(up.affected).toBe(8);
      expect(up.bookmark).toMatch(/^b1\./);
      const ret = await c.execute<{ id: number; name: string }>(
        `INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'tx', 'returned') RETURNING id, name`,
        [100],
      );
      expect(ret).toMatchObject({ affected: 1, rows: [{ id: 100, name: 'returned' }] });
      const del = await c.execute(`DELETE FROM ${t('users')} WHERE id = $1`, [100]);
      expect(del.affected).toBe(1);
      expect(del.rows).toBeUndefined();
    });

    it('runs a batch in order, and an atomic batch all-or-nothing', async () => {
      const rs = await c.batch([
        { sql: `INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'b', 'batch 1')`, params: [201] },
        { sql: `INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'b', 'batch 2')`, params: [202] },
        { sql: `SELECT COUNT(*) AS n FROM ${t('users')} WHERE tenant = 'b'` },
      ]);
      expect(rs.map((r) => r.affected)).toEqual([1, 1, 0]);
      expect(rs[2]!.rows).toEqual([{ n: 2 }]);

      const atomic = await c.batch(
        [
          { sql: `INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'a', 'atomic')`, params: [301] },
          { sql: `UPDATE ${t('users')} SET score = 5 WHERE id = $1`, params: [301] },
        ],
        { atomic: true },
      );
      expect(atomic.map((r) => r.affected)).toEqual([1, 1]);
      // The second statement fails (duplicate key): the first, on the same shard, is undone.
      const err = await failure(
        c.batch(
          [
            { sql: `UPDATE ${t('users')} SET score = 6 WHERE id = $1`, params: [301] },
            { sql: `INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'a', 'dup')`, params: [301] },
          ],
          { atomic: true },
        ),
      );
      expect(err.code).toBe('CONSTRAINT');
      expect((await c.query(`SELECT score FROM ${t('users')} WHERE id = $1`, [301])).rows).toEqual([{ score: 5 }]);
    });

    it('commits a transaction, rolls back on rollback-by-throw, and rethrows', async () => {
      const out = await c.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'tx', 'committed')`, [401]);
        const r = await tx.query<{ name: string }>(`SELECT name FROM ${t('users')} WHERE id = $1`, [401]);
        return r.rows[0]!.name;
      });
      expect(out).toBe('committed');
      expect((await c.query(`SELECT name FROM ${t('users')} WHERE id = $1`, [401])).rows).toEqual([{ name: 'committed' }]);

      const boom = new Error('changed my mind');
      await expect(
        c.transaction(async (tx) => {
          await tx.execute(`INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'tx', 'rolled back')`, [402]);
          await tx.execute(`UPDATE ${t('users')} SET name = 'never' WHERE id = $1`, [402]);
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect((await c.query(`SELECT name FROM ${t('users')} WHERE id = $1`, [402])).rows).toEqual([]);

      // A failing statement inside: the error is typed, and nothing of the transaction remains.
      const err = await c
        .transaction(async (tx) => {
          await tx.execute(`INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'tx', 'half')`, [403]);
          await tx.execute(`INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'tx', 'dup')`, [403]);
        })
        .catch((e: unknown) => e as VitessError);
      expect(err).toMatchObject({ code: 'CONSTRAINT' });
      expect((await c.query(`SELECT name FROM ${t('users')} WHERE id = $1`, [403])).rows).toEqual([]);
    });

    it('commits a transaction that reaches a second shard on both (two-phase commit)', async () => {
      // Find two ids on different shards.
      const a = (await c.query(`SELECT id FROM ${t('users')} WHERE id = $1`, [1])).servedBy.shard;
      let other = 2;
      while ((await c.query(`SELECT id FROM ${t('users')} WHERE id = $1`, [other])).servedBy.shard === a) other++;
      await c.transaction(async (tx) => {
        await tx.execute(`UPDATE ${t('users')} SET name = 'x1' WHERE id = $1`, [1]);
        await tx.execute(`UPDATE ${t('users')} SET name = 'x2' WHERE id = $1`, [other]);
      });
      expect((await c.query(`SELECT name FROM ${t('users')} WHERE id IN ($1, $2) ORDER BY id`, [1, other])).rows).toEqual([{ name: 'x1' }, { name: 'x2' }]);
      await c.execute(`UPDATE ${t('users')} SET name = $2 WHERE id = $1`, [1, 'user 1']);
      await c.execute(`UPDATE ${t('users')} SET name = $2 WHERE id = $1`, [other, `user ${other}`]);
    });

    it('round-trips bigint, Date, bytes, JSON and friends exactly', async () => {
      await c.execute(
        `CREATE TABLE ${t('vals')} (id BIGINT PRIMARY KEY, big BIGINT, ts TIMESTAMPTZ, data BYTEA, doc JSONB, flag BOOLEAN, f DOUBLE PRECISION, txt TEXT)`,
      );
      const row = {
        id: 9007199254740993n,
        big: -(2n ** 63n),
        ts: new Date('2024-02-29T23:59:58.123Z'),
        data: new Uint8Array([0, 1, 2, 254, 255]),
        doc: { a: [1, 2.5, 'x', null, true], nested: { toString: 'shadow', constructor: 1 } },
        flag: true,
        f: 1.25,
        txt: "it's ünïcødé ✓",
      };
      await c.execute(`INSERT INTO ${t('vals')} (id, big, ts, data, doc, flag, f, txt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, Object.values(row));
      const back = await c.query(`SELECT * FROM ${t('vals')} WHERE id = $1`, [row.id]);
      expect(back.rows).toEqual([row]);
      expect(back.rows[0]!.data).toBeInstanceOf(Uint8Array);
      expect(back.rows[0]!.ts).toBeInstanceOf(Date);
      expect(Object.fromEntries(back.fields.map((f) => [f.name, f.type]))).toMatchObject({
        id: 'int8',
        big: 'int8',
        ts: 'timestamptz',
        data: 'bytea',
        doc: 'jsonb',
        flag: 'bool',
        f: 'float8',
        txt: 'text',
      });
      // Small int8 values come back as numbers (exact either way).
      await c.execute(`INSERT INTO ${t('vals')} (id, big) VALUES ($1, $2)`, [5, 42n]);
      expect((await c.query(`SELECT big FROM ${t('vals')} WHERE id = $1`, [5])).rows).toEqual([{ big: 42 }]);
    });

    it('raises typed errors a user can act on, and writes nothing', async () => {
      const syntax = await failure(c.query('SELEC * FROM nowhere'));
      expect(syntax.code).toBe('SYNTAX');
      const table = await failure(c.query('SELECT * FROM no_such_table'));
      expect(table).toMatchObject({ code: 'NOT_FOUND' });
      expect(table.message).toMatch(/no_such_table/);
      const column = await failure(c.query(`SELECT nope FROM ${t('users')}`));
      expect(column).toMatchObject({ code: 'NOT_FOUND' });
      const dup = await failure(c.execute(`INSERT INTO ${t('users')} (id, tenant, name) VALUES (1, 'x', 'dup')`));
      expect(dup).toMatchObject({ code: 'CONSTRAINT' });
      expect((await c.query(`SELECT name FROM ${t('users')} WHERE id = 1`)).rows).toEqual([{ name: 'user 1' }]);

      const ghost = client('no_such_keyspace');
      if (mode === 'websocket') await ghost.connect();
      await expect(ghost.query('SELECT 1')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/no_such_keyspace/) });
    });

    it('carries the bookmark, and hands it to another client', async () => {
      const before = c.bookmark;
      const wr = await c.execute(`INSERT INTO ${t('users')} (id, tenant, name) VALUES ($1, 'bm', 'bookmarked')`, [501]);
      expect(c.bookmark).toBe(wr.bookmark);
      const positions = decodeBookmark(c.bookmark);
      expect(Object.keys(positions).length).toBeGreaterThan(0);
      for (const k of Object.keys(decodeBookmark(before || undefined))) expect(positions[k]).toBeGreaterThanOrEqual(decodeBookmark(before)[k]!);

      const other = client(keyspace, { bookmark: c.bookmark });
      const r = await other.query(`SELECT name FROM ${t('users')} WHERE id = $1`, [501]);
      expect(r.rows).toEqual([{ name: 'bookmarked' }]);
      const seen = decodeBookmark(r.bookmark);
      for (const [k, v] of Object.entries(positions)) expect(seen[k]).toBeGreaterThanOrEqual(v);
      // A bookmark that VTGate never issued is refused, typed.
      await expect(other.query('SELECT 1', [], { bookmark: 'garbage' })).rejects.toMatchObject({ code: 'INVALID' });
    });
  });
});

describe('WebSocket reconnect (keyspace main)', () => {
  /** The global WebSocket, with every instance kept so a test can cut one. */
  const sockets: WebSocket[] = [];
  class TrackedWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }

  it('reopens a dropped WebSocket on the next call, and retries a read caught by the drop', async () => {
    const c = client('main', { WebSocket: TrackedWebSocket });
    await c.connect();
    await c.execute('CREATE TABLE reconnect (id BIGINT PRIMARY KEY, v TEXT)');
    await c.execute("INSERT INTO reconnect (id, v) VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    expect(sockets).toHaveLength(1);

    sockets[0]!.close(); // the connection goes away under the client
    await new Promise((r) => setTimeout(r, 100));
    expect((await c.query('SELECT v FROM reconnect WHERE id = $1', [1])).rows).toEqual([{ v: 'one' }]);
    expect(sockets).toHaveLength(2);
    expect(c.reconnects).toBe(1);

    // Dropped while a read is in flight: the read is retried on a new socket.
    const read = c.query('SELECT COUNT(*) AS n FROM reconnect');
    sockets[1]!.close();
    expect((await read).rows).toEqual([{ n: 3 }]);
    expect(sockets).toHaveLength(3);

    // Dropped while a write is in flight: not retried (it may have run), reported as UNAVAILABLE.
    const write = c.execute("INSERT INTO reconnect (id, v) VALUES (4, 'four')");
    sockets[2]!.close();
    const outcome = await write.then(
      () => 'ok',
      (e: unknown) => e as VitessError,
    );
    if (outcome !== 'ok') expect(outcome).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/may have executed/) });
    const n = (await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM reconnect WHERE id = 4')).rows[0]!.n;
    expect(n).toBeLessThanOrEqual(1);
    expect(c.connected).toBe(true);
  });

  it('rolls back a transaction whose WebSocket drops, on the gateway side', async () => {
    const c = client('main', { WebSocket: TrackedWebSocket });
    await c.connect();
    const before = sockets.length;
    const err = await c
      .transaction(async (tx) => {
        await tx.execute("INSERT INTO reconnect (id, v) VALUES (10, 'in tx')");
        sockets[before - 1]!.close();
        await new Promise((r) => setTimeout(r, 50));
        await tx.execute("INSERT INTO reconnect (id, v) VALUES (11, 'in tx')");
      })
      .catch((e: unknown) => e as VitessError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    // The shard is usable again (the transaction did not hold it) and holds nothing of it.
    await expect.poll(async () => (await c.query<{ n: number }>('SELECT COUNT(*) AS n FROM reconnect WHERE id >= 10')).rows[0]!.n, { timeout: 15_000 }).toBe(0);
    await c.execute("INSERT INTO reconnect (id, v) VALUES (12, 'after')");
  });

  it('disconnects, then works over HTTP batch again', async () => {
    const c = client('main');
    await c.connect();
    await c.disconnect();
    expect(c.connected).toBe(false);
    expect((await c.query('SELECT v FROM reconnect WHERE id = 2')).rows).toEqual([{ v: 'two' }]);
  });
});
