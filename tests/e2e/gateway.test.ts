/**
 * VTGate end to end: the real Worker under wrangler, the real client over capnweb. Every plan
 * kind on both engines (`main`: DO SQLite × 4, `pg`: PGlite × 2, `solo`: one shard), EXPLAIN,
 * and bad input: a typed error a user can act on, and nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type VitessClient } from '../../client/index.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { failure } from '../support/errors.js';

const TABLES = {
  users: { vindex: { type: 'hash', column: 'id' }, lookups: [{ column: 'email' }] },
  orders: { vindex: { type: 'hash', column: 'user_id' } },
  countries: { type: 'reference' },
};
const VSCHEMA = {
  keyspaces: [
    { name: 'main', engine: 'sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'], tables: TABLES },
    { name: 'pg', engine: 'pglite', shards: 2, tables: TABLES },
    { name: 'solo', engine: 'sqlite', shards: 1 },
  ],
};

let w: WranglerDev;
beforeAll(async () => {
  w = await startWrangler({ vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
}, 180_000);
afterAll(async () => {
  await w?.stop();
});

const USERS = Array.from({ length: 24 }, (_, i) => ({ id: i + 1, email: `u${i + 1}@example.com`, tenant: i % 3, country: ['fr', 'jp', 'br'][i % 3]! }));

describe.each([
  ['main', 4],
  ['pg', 2],
] as const)('keyspace %s (%i shards)', (keyspace, shardCount) => {
  let c: VitessClient;
  beforeAll(async () => {
    c = createClient({ endpoint: w.url, keyspace });
    await c.connect();
  });
  afterAll(async () => {
    await c?.disconnect();
  });

  /** Total of the shards' LSNs: moves exactly when something was written. */
  const lsnTotal = async () => (await c.status()).keyspaces.find((k) => k.name === keyspace)!.shards.reduce((n, s) => n + s.lsn, 0);

  it('creates tables on every shard (ddl)', async () => {
    const r = await c.execute('CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, tenant INT NOT NULL, country TEXT)');
    expect(r.affected).toBe(0);
    await c.execute('CREATE TABLE orders (user_id BIGINT NOT NULL, id BIGINT NOT NULL, amount NUMERIC NOT NULL, PRIMARY KEY (user_id, id))');
    await c.execute('CREATE TABLE countries (code TEXT PRIMARY KEY, name TEXT NOT NULL)');
    const status = (await c.status()).keyspaces.find((k) => k.name === keyspace)!;
    expect(status.shards).toHaveLength(shardCount);
    // Each shard logged the DDL (the users table's lookup table too).
    for (const s of status.shards) expect(s.lsn).toBeGreaterThanOrEqual(3);
  });

  it('splits a multi-row INSERT by row (multi-shard) and writes reference tables everywhere', async () => {
    const params = USERS.flatMap((u) => [u.id, u.email, u.tenant, u.country]);
    const values = USERS.map((_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`).join(', ');
    const r = await c.batch([{ sql: `INSERT INTO users (id, email, tenant, country) VALUES ${values}`, params }]);
    expect(r[0]!.affected).toBe(USERS.length);
    expect(r[0]!.plan).toBe('multi-shard');
    expect(r[0]!.servedBy.shard.split(',')).toHaveLength(shardCount);
    const orders = USERS.flatMap((u) => [1, 2].map((n) => `(${u.id}, ${n}, ${u.id * n}.5)`)).join(', ');
    expect((await c.execute(`INSERT INTO orders (user_id, id, amount) VALUES ${orders}`)).affected).toBe(USERS.length * 2);
    const ref = await c.batch([{ sql: "INSERT INTO countries (code, name) VALUES ('fr', 'France'), ('jp', 'Japan'), ('br', 'Brazil')" }]);
    expect(ref[0]!.plan).toBe('reference');
    expect(ref[0]!.affected).toBe(3);
  });

  it('routes an equality on the vindex to one shard (single-shard)', async () => {
    const r = await c.query<{ id: number | bigint; email: string }>('SELECT id, email FROM users WHERE id = $1', [7]);
    expect(r.plan).toBe('single-shard');
    expect(r.servedBy.shard.split(',')).toHaveLength(1);
    expect(r.servedBy.role).toBe('primary');
    expect(r.rows.map((x) => [Number(x.id), x.email])).toEqual([[7, 'u7@example.com']]);
  });

  it('routes IN on the vindex to the shards of those values (multi-shard)', async () => {
    const r = await c.query('SELECT id FROM users WHERE id IN ($1, $2, $3) ORDER BY id', [3, 11, 19]);
    expect(r.plan).toBe('multi-shard');
    expect(r.rows.map((x) => Number(x.id))).toEqual([3, 11, 19]);
  });

  it('scatters other filters and merges ORDER BY / LIMIT / OFFSET (scatter)', async () => {
    const r = await c.query('SELECT id FROM users WHERE tenant = $1 ORDER BY id DESC LIMIT 3 OFFSET 2', [1]);
    expect(r.plan).toBe('scatter');
    expect(r.servedBy.shard.split(',')).toHaveLength(shardCount);
    const expected = USERS.filter((u) => u.tenant === 1)
      .map((u) => u.id)
      .sort((a, b) => b - a)
      .slice(2, 5);
    expect(r.rows.map((x) => Number(x.id))).toEqual(expected);
    const d = await c.query('SELECT DISTINCT country FROM users ORDER BY country');
    expect(d.rows.map((x) => x.country)).toEqual(['br', 'fr', 'jp']);
  });

  it('combines aggregates across shards (scatter-aggregate)', async () => {
    const r = await c.query<{ tenant: number; n: number | bigint; total: string; mean: string; lo: number | bigint; hi: number | bigint }>(
      'SELECT u.tenant, count(*) AS n, sum(o.amount) AS total, avg(o.amount) AS mean, min(o.user_id) AS lo, max(o.user_id) AS hi FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.tenant HAVING count(*) > $1 ORDER BY u.tenant',
      [0],
    );
    expect(r.plan).toBe('scatter-aggregate');
    for (const tenant of [0, 1, 2]) {
      const mine = USERS.filter((u) => u.tenant === tenant);
      const amounts = mine.flatMap((u) => [u.id * 1 + 0.5, u.id * 2 + 0.5]);
      const row = r.rows[tenant]!;
      expect(Number(row.tenant)).toBe(tenant);
      expect(Number(row.n)).toBe(amounts.length);
      expect(Number(row.total)).toBeCloseTo(
        amounts.reduce((a, b) => a + b, 0),
        9,
      );
      expect(Number(row.mean)).toBeCloseTo(amounts.reduce((a, b) => a + b, 0) / amounts.length, 9);
      expect(Number(row.lo)).toBe(Math.min(...mine.map((u) => u.id)));
      expect(Number(row.hi)).toBe(Math.max(...mine.map((u) => u.id)));
    }
  });

  it('routes through the lookup vindex (lookup) and keeps it in step on update and delete', async () => {
    const r = await c.query('SELECT id FROM users WHERE email = $1', ['u5@example.com']);
    expect(r.plan).toBe('lookup');
    expect(r.servedBy.shard.split(',')).toHaveLength(1);
    expect(r.rows.map((x) => Number(x.id))).toEqual([5]);
    await c.execute('UPDATE users SET email = $1 WHERE id = $2', ['five@example.com', 5]);
    expect((await c.query('SELECT id FROM users WHERE email = $1', ['u5@example.com'])).rows).toEqual([]);
    expect((await c.query('SELECT id FROM users WHERE email = $1', ['five@example.com'])).rows.map((x) => Number(x.id))).toEqual([5]);
  });

  it('joins co-located tables and reference tables on the shard', async () => {
    const r = await c.query(
      'SELECT u.id, c.name, o.amount FROM users u JOIN countries c ON c.code = u.country JOIN orders o ON o.user_id = u.id WHERE u.id = $1 ORDER BY o.id',
      [2],
    );
    expect(r.plan).toBe('single-shard');
    expect(r.rows.map((x) => [Number(x.id), x.name, Number(x.amount)])).toEqual([
      [2, 'Japan', 2.5],
      [2, 'Japan', 4.5],
    ]);
    const ref = await c.query('SELECT name FROM countries ORDER BY code');
    expect(ref.plan).toBe('reference');
    expect(ref.servedBy.shard.split(',')).toHaveLength(1);
    expect(ref.rows.map((x) => x.name)).toEqual(['Brazil', 'France', 'Japan']);
  });

  it('EXPLAIN returns the plan without running it', async () => {
    const before = await lsnTotal();
    const r = await c.query('EXPLAIN DELETE FROM users WHERE tenant = 2');
    const text = r.rows.map((x) => x['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Route/);
    expect(text).toMatch(/all shards/);
    expect(await lsnTotal()).toBe(before);
    expect(Number((await c.query('SELECT count(*) AS n FROM users WHERE tenant = 2')).rows[0]!.n)).toBe(USERS.filter((u) => u.tenant === 2).length);
  });

  it('runs UPDATE and DELETE routed like SELECT', async () => {
    const u = await c.execute('UPDATE users SET country = $1 WHERE id = $2', ['jp', 24]);
    expect(u.affected).toBe(1);
    const d = await c.execute('DELETE FROM orders WHERE user_id IN ($1, $2)', [23, 24]);
    expect(d.affected).toBe(4);
    const all = await c.execute('UPDATE orders SET amount = amount + 1 WHERE id = 2');
    expect(all.affected).toBe(USERS.length - 2);
  });

  it('refuses bad input with a typed error and writes nothing', async () => {
    const before = await lsnTotal();
    const syntax = await failure(c.execute('INSERT INTO users (id, email, tenant) VALUES (100, $1, 1) oops', ['x']));
    expect(syntax.code).toBe('SYNTAX');
    expect(syntax.details.position).toBeGreaterThan(0);
    const table = await failure(c.execute('INSERT INTO nope (id) VALUES (1)'));
    expect(table.code).toBe('NOT_FOUND');
    expect(table.message).toMatch(/nope/);
    const column = await failure(c.query('SELECT nope FROM users WHERE id = 1'));
    expect(column.code).toBe('NOT_FOUND');
    expect(column.message).toMatch(/nope/);
    const vindex = await failure(c.execute('UPDATE users SET id = 1000 WHERE id = 1'));
    expect(vindex.code).toBe('UNSUPPORTED');
    expect(vindex.message).toMatch(/vindex column/);
    const join = await failure(c.query('SELECT * FROM users u JOIN orders o ON o.id = u.id'));
    expect(join.code).toBe('UNSUPPORTED');
    expect(join.message).toMatch(/shard/);
    // Uncorrelated subqueries run first (router/engine/subquery.ts); a correlated one stays refused.
    const sub = await failure(c.query('SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.amount > 5)'));
    expect(sub.code).toBe('UNSUPPORTED');
    expect(sub.message).toMatch(/correlated subquery .* refers to u\.id/);
    const ks = await failure(createClient({ endpoint: w.url, keyspace: 'nope' }).query('SELECT 1'));
    expect(ks.code).toBe('NOT_FOUND');
    expect(ks.message).toMatch(/main, pg, solo/);
    const tx = await failure(
      c.batch(
        [{ sql: 'INSERT INTO orders (user_id, id, amount) VALUES (101, 1, 1)' }, { sql: 'INSERT INTO orders (user_id, id, amount) VALUES (101, 1, 2)' }],
        { atomic: true },
      ),
    );
    expect(tx.code).toBe('CONSTRAINT');
    expect(await lsnTotal()).toBe(before);
    expect((await c.query('SELECT id FROM orders WHERE user_id = 101')).rows).toEqual([]);
  });

  it('runs a single-shard transaction; a thrown error rolls it back; a cross-shard one commits on every shard', async () => {
    await c.transaction(async (tx) => {
      await tx.execute('INSERT INTO orders (user_id, id, amount) VALUES ($1, 3, 9)', [1]);
      const r = await tx.query('SELECT sum(amount) AS s FROM orders WHERE user_id = $1', [1]);
      expect(Number(r.rows[0]!.s)).toBe(1.5 + 3.5 + 9);
    });
    await expect(
      c.transaction(async (tx) => {
        await tx.execute('INSERT INTO orders (user_id, id, amount) VALUES ($1, 4, 9)', [1]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // Two-phase commit (docs/transactions.md): all of it, on every shard it reached.
    await c.transaction(async (tx) => {
      await tx.execute('INSERT INTO orders (user_id, id, amount) VALUES ($1, 5, 9)', [1]);
      for (const u of USERS.slice(1)) await tx.execute('INSERT INTO orders (user_id, id, amount) VALUES ($1, 5, 9)', [u.id]);
    });
    const r = await c.query('SELECT id FROM orders WHERE user_id = $1 ORDER BY id', [1]);
    expect(r.rows.map((x) => Number(x.id))).toEqual([1, 2, 3, 5]);
    expect(Number((await c.query('SELECT count(*) AS n FROM orders WHERE id = 5')).rows[0]!.n)).toBe(USERS.length);
  });
});

describe('an unsharded keyspace', () => {
  it('sends statements to its one shard as written (unsharded)', async () => {
    const c = createClient({ endpoint: w.url, keyspace: 'solo' });
    await c.execute('CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)');
    await c.execute('INSERT INTO notes VALUES (1, $1), (2, $2)', ['a', 'b']);
    const r = await c.query('SELECT body FROM notes WHERE id IN (SELECT max(id) FROM notes)');
    expect(r.plan).toBe('unsharded');
    expect(r.rows).toEqual([{ body: 'b' }]);
  });
});
