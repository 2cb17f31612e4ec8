// Drizzle and Kysely through the adapters (`@dotdo/vitess/drizzle`, `@dotdo/vitess/kysely`)
// against VTGate under `wrangler dev` — `main` (DO SQLite, 4 shards) and `pg` (PGlite, 2 shards) —
// and the same ORM on a direct PGlite in Node: the same sequence of queries must give equal
// results, step by step (inserts that omit columns, upserts, RETURNING, joins on the sharding
// column, subqueries, aggregates with DISTINCT, json, timestamps, numeric, transactions).
import { PGlite, types } from '@electric-sql/pglite';
import { and, asc, count, countDistinct, desc, eq, gt, inArray, max, sql, sum, sumDistinct } from 'drizzle-orm';
import { bigint, integer, jsonb, numeric, type PgDatabase, type PgQueryResultHKT, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { type Generated, Kysely, PostgresDialect, sql as ksql } from 'kysely';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, type VitessClient } from '../../client/index.js';
import { drizzle } from '../../client/orm/drizzle.js';
import { VitessDialect } from '../../client/orm/kysely.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';

const DDL = (p: string) => [
  `CREATE TABLE ${p}users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, plan TEXT NOT NULL DEFAULT 'free', seats INTEGER DEFAULT 1, balance NUMERIC(10,2) DEFAULT 0, meta JSONB, avatar BYTEA, created TIMESTAMPTZ DEFAULT '2024-01-01 00:00:00+00')`,
  `CREATE TABLE ${p}orders (user_id BIGINT NOT NULL, id BIGINT NOT NULL, total NUMERIC(10,2) NOT NULL, placed TIMESTAMP, note TEXT, PRIMARY KEY (user_id, id))`,
];

// ---- Drizzle -----------------------------------------------------------------------------------

function drizzleTables(p: string) {
  const users = pgTable(`${p}users`, {
    id: bigint('id', { mode: 'number' }).primaryKey(),
    email: text('email').notNull(),
    plan: text('plan').notNull().default('free'),
    seats: integer('seats').default(1),
    balance: numeric('balance', { precision: 10, scale: 2 }).default('0'),
    meta: jsonb('meta').$type<Record<string, unknown>>(),
    created: timestamp('created', { withTimezone: true }).default(sql`'2024-01-01 00:00:00+00'`),
  });
  const orders = pgTable(
    `${p}orders`,
    {
      userId: bigint('user_id', { mode: 'number' }).notNull(),
      id: bigint('id', { mode: 'number' }).notNull(),
      total: numeric('total', { precision: 10, scale: 2 }).notNull(),
      placed: timestamp('placed', { mode: 'string' }),
      note: text('note'),
    },
    (t) => [primaryKey({ columns: [t.userId, t.id] })],
  );
  return { users, orders };
}

type AnyDrizzle = PgDatabase<PgQueryResultHKT, Record<string, never>>;
type Step<Db> = [name: string, run: (db: Db) => Promise<unknown>];

function drizzleSteps(p: string): Step<AnyDrizzle>[] {
  const { users, orders } = drizzleTables(p);
  const byId = asc(users.id);
  return [
    [
      'insert one row, omitting columns (DEFAULT in VALUES)',
      (db) =>
        db
          .insert(users)
          .values({ id: 1, email: 'ada@example.com', meta: { tier: 'gold', tags: ['a'] } })
          .returning(),
    ],
    [
      'insert rows across shards, RETURNING in VALUES order',
      (db) =>
        db
          .insert(users)
          .values([
            { id: 7, email: 'gus@example.com', plan: 'pro', seats: 3, balance: '7.50' },
            { id: 2, email: 'bob@example.com', seats: 5, balance: '12.25' },
            { id: 5, email: 'eve@example.com', plan: 'pro', balance: '3' },
            { id: 3, email: 'cy@example.com', seats: 5 },
          ])
          .returning({ id: users.id, plan: users.plan, seats: users.seats, balance: users.balance }),
    ],
    ['select everything', (db) => db.select().from(users).orderBy(byId)],
    [
      'upsert: ON CONFLICT DO UPDATE … RETURNING',
      (db) =>
        db
          .insert(users)
          .values({ id: 2, email: 'bob@example.com', plan: 'team' })
          .onConflictDoUpdate({ target: users.id, set: { plan: sql`excluded.plan`, seats: sql`${users.seats} + 1` } })
          .returning({ id: users.id, plan: users.plan, seats: users.seats }),
    ],
    [
      'upsert: ON CONFLICT DO NOTHING',
      (db) => db.insert(users).values({ id: 3, email: 'other@example.com' }).onConflictDoNothing().returning({ id: users.id }),
    ],
    [
      'insert orders (numeric, timestamp strings)',
      (db) =>
        db
          .insert(orders)
          .values([
            { userId: 1, id: 1, total: '7.50', placed: '2024-03-01 10:00:00' },
            { userId: 1, id: 2, total: '12.25', placed: '2024-03-02 11:30:00.25' },
            { userId: 2, id: 3, total: '3.00' },
            { userId: 7, id: 4, total: '7.50', placed: '2024-03-03 00:00:00', note: 'gift' },
            { userId: 5, id: 5, total: '100.10', placed: '2024-02-29 23:59:59.5' },
          ])
          .returning({ total: orders.total, placed: orders.placed }),
    ],
    [
      'join on the sharding column, one user',
      (db) => db.select().from(users).innerJoin(orders, eq(users.id, orders.userId)).where(eq(users.id, 1)).orderBy(asc(orders.id)),
    ],
    [
      'join on the sharding column, every shard',
      (db) =>
        db
          .select({ id: users.id, email: users.email, orderId: orders.id, total: orders.total, placed: orders.placed })
          .from(users)
          .innerJoin(orders, eq(users.id, orders.userId))
          .orderBy(asc(orders.id)),
    ],
    ['aggregates: count, count(DISTINCT), sum', (db) => db.select({ n: count(), users: countDistinct(orders.userId), total: sum(orders.total) }).from(orders)],
    ['aggregates: sum(DISTINCT)', (db) => db.select({ distinctTotals: sumDistinct(orders.total) }).from(orders)],
    [
      'aggregates: group by, order by an aggregate',
      (db) =>
        db
          .select({ plan: users.plan, n: count(), seats: sum(users.seats).mapWith(Number) })
          .from(users)
          .groupBy(users.plan)
          .orderBy(desc(count()), asc(users.plan)),
    ],
    [
      'uncorrelated subquery: = (SELECT max(…))',
      (db) =>
        db
          .select({ id: users.id })
          .from(users)
          .where(eq(users.seats, db.select({ m: max(users.seats) }).from(users)))
          .orderBy(byId),
    ],
    [
      'uncorrelated subquery: IN (SELECT …)',
      (db) =>
        db
          .select({ id: users.id, email: users.email })
          .from(users)
          .where(inArray(users.id, db.select({ u: orders.userId }).from(orders).where(gt(orders.total, '5'))))
          .orderBy(byId),
    ],
    ['json: ->> in WHERE', (db) => db.select({ id: users.id, meta: users.meta }).from(users).where(sql`${users.meta}->>'tier' = 'gold'`)],
    [
      'json: update and read back',
      (db) =>
        db
          .update(users)
          .set({ meta: { tier: 'silver', n: 2, nested: { ok: true } } })
          .where(eq(users.id, 7))
          .returning({ meta: users.meta }),
    ],
    [
      'timestamps: compare with a Date parameter',
      (db) =>
        db
          .select({ id: users.id, created: users.created })
          .from(users)
          .where(and(gt(users.created, new Date('2023-12-31T00:00:00Z')), eq(users.plan, 'pro')))
          .orderBy(byId),
    ],
    [
      'numeric: keeps its scale in arithmetic',
      (db) =>
        db
          .update(users)
          .set({ balance: sql`${users.balance} + 2.25` })
          .where(eq(users.id, 7))
          .returning({ balance: users.balance }),
    ],
    [
      'transaction that commits',
      (db) =>
        db.transaction(async (tx) => {
          await tx.update(users).set({ seats: 10 }).where(eq(users.id, 3));
          await tx.insert(orders).values({ userId: 3, id: 6, total: '1.05' });
          return tx.select({ seats: users.seats }).from(users).where(eq(users.id, 3));
        }),
    ],
    [
      'transaction that rolls back',
      async (db) => {
        const thrown = await db
          .transaction(async (tx) => {
            await tx.update(users).set({ seats: 99 }).where(eq(users.id, 5));
            tx.rollback();
          })
          .catch((e: Error) => e.constructor.name);
        return { thrown, after: await db.select({ seats: users.seats }).from(users).where(eq(users.id, 5)) };
      },
    ],
    ['numeric(10,2) values print with two decimals', (db) => db.select({ id: users.id, balance: users.balance }).from(users).orderBy(byId)],
    ['delete … RETURNING', (db) => db.delete(orders).where(eq(orders.userId, 1)).returning({ id: orders.id, total: orders.total })],
    ['final state', async (db) => ({ users: await db.select().from(users).orderBy(byId), orders: await db.select().from(orders).orderBy(asc(orders.id)) })],
  ];
}

// ---- Kysely ------------------------------------------------------------------------------------

interface KDb {
  k_users: {
    id: number | string;
    email: string;
    plan: Generated<string>;
    seats: Generated<number | null>;
    balance: Generated<string | null>;
    meta: unknown;
    avatar: Uint8Array | null;
    created: Generated<Date | null>;
  };
  k_orders: { user_id: number | string; id: number | string; total: string; placed: Date | null; note: string | null };
}

const kyselySteps: Step<Kysely<KDb>>[] = [
  [
    'insert one row, omitting columns',
    (db) =>
      db
        .insertInto('k_users')
        .values({ id: 1, email: 'ada@example.com', meta: JSON.stringify({ tier: 'gold' }) })
        .returningAll()
        .execute(),
  ],
  [
    'insert rows across shards, RETURNING in VALUES order',
    (db) =>
      db
        .insertInto('k_users')
        .values([
          { id: 7, email: 'gus@example.com', plan: 'pro', seats: 3, balance: '7.50', avatar: new Uint8Array([0, 1, 254, 255]) },
          { id: 2, email: 'bob@example.com', seats: 5, balance: '12.25' },
          { id: 5, email: 'eve@example.com', plan: 'pro', balance: '3' },
        ])
        .returning(['id', 'plan', 'balance'])
        .execute(),
  ],
  [
    'insert rows, affected count',
    async (db) =>
      (
        await db
          .insertInto('k_users')
          .values([
            { id: 3, email: 'cy@example.com' },
            { id: 4, email: 'dee@example.com' },
          ])
          .executeTakeFirst()
      ).numInsertedOrUpdatedRows,
  ],
  [
    'upsert: ON CONFLICT DO UPDATE',
    (db) =>
      db
        .insertInto('k_users')
        .values({ id: 2, email: 'bob@example.com', plan: 'team' })
        .onConflict((oc) => oc.column('id').doUpdateSet({ plan: (eb) => eb.ref('excluded.plan') }))
        .returning(['id', 'plan', 'seats'])
        .execute(),
  ],
  [
    'insert orders (numeric, timestamps)',
    (db) =>
      db
        .insertInto('k_orders')
        .values([
          { user_id: 1, id: 1, total: '7.50', placed: new Date('2024-03-01T10:00:00Z'), note: null },
          { user_id: 1, id: 2, total: '12.25', placed: new Date('2024-03-02T11:30:00.250Z'), note: null },
          { user_id: 7, id: 3, total: '3.00', placed: null, note: 'gift' },
        ])
        .execute()
        .then((rs) => rs.map((r) => r.numInsertedOrUpdatedRows)),
  ],
  ['select everything (int8 as text, bytea as Buffer, json parsed, timestamps as Dates)', (db) => db.selectFrom('k_users').selectAll().orderBy('id').execute()],
  [
    'join on the sharding column',
    (db) =>
      db
        .selectFrom('k_users as u')
        .innerJoin('k_orders as o', 'o.user_id', 'u.id')
        .select(['u.id', 'u.email', 'o.id as order_id', 'o.total', 'o.placed'])
        .orderBy('o.id')
        .execute(),
  ],
  [
    'aggregates with DISTINCT',
    (db) =>
      db
        .selectFrom('k_orders')
        .select((eb) => [
          eb.fn.countAll().as('n'),
          eb.fn.count('user_id').distinct().as('users'),
          eb.fn.sum('total').as('total'),
          eb.fn.sum('total').distinct().as('distinct_total'),
        ])
        .execute(),
  ],
  [
    'uncorrelated subquery: IN (SELECT …)',
    (db) => db.selectFrom('k_users').select(['id']).where('id', 'in', db.selectFrom('k_orders').select('user_id')).orderBy('id').execute(),
  ],
  ['json: ->> in WHERE', (db) => db.selectFrom('k_users').select(['id', 'meta']).where(ksql<string>`meta->>'tier'`, '=', 'gold').execute()],
  ['numeric: update RETURNING', (db) => db.updateTable('k_users').set({ balance: ksql`balance + 2.25` }).where('id', '=', 7).returning(['balance']).execute()],
  ['update: affected count', async (db) => (await db.updateTable('k_users').set({ seats: 2 }).where('plan', '=', 'free').executeTakeFirst()).numUpdatedRows],
  [
    'transaction that commits',
    (db) =>
      db.transaction().execute(async (tx) => {
        await tx.updateTable('k_users').set({ seats: 10 }).where('id', '=', 3).execute();
        await tx.insertInto('k_orders').values({ user_id: 3, id: 4, total: '1.05', placed: null, note: null }).execute();
        return tx.selectFrom('k_users').select('seats').where('id', '=', 3).execute();
      }),
  ],
  [
    'transaction that rolls back',
    async (db) => {
      const thrown = await db
        .transaction()
        .execute(async (tx) => {
          await tx.updateTable('k_users').set({ seats: 99 }).where('id', '=', 5).execute();
          throw new Error('undo');
        })
        .catch((e: Error) => e.message);
      return { thrown, after: await db.selectFrom('k_users').select('seats').where('id', '=', 5).execute() };
    },
  ],
  ['numeric(10,2) values print with two decimals', (db) => db.selectFrom('k_orders').select(['id', 'total']).orderBy('id').execute()],
  [
    'final state',
    async (db) => ({
      users: await db.selectFrom('k_users').selectAll().orderBy('id').execute(),
      orders: await db.selectFrom('k_orders').selectAll().orderBy('id').execute(),
    }),
  ],
];

// ---- references: the same ORMs on a direct PGlite --------------------------------------------

/** A PGlite whose parsers give what node-postgres gives (int8 as text, bytea as Buffer, timestamps as UTC Dates). */
async function pgliteLikeNodePostgres(): Promise<PGlite> {
  return PGlite.create({
    parsers: {
      [types.INT8]: (x: string) => x,
      [types.NUMERIC]: (x: string) => x,
      [types.BYTEA]: (x: string) => Buffer.from(x.slice(2), 'hex'),
      [types.DATE]: (x: string) => new Date(`${x}T00:00:00Z`),
      [types.TIMESTAMP]: (x: string) => new Date(`${x.replace(' ', 'T')}Z`),
      [types.TIMESTAMPTZ]: (x: string) => new Date(x),
    },
  });
}

/** Kysely's own Postgres dialect on PGlite, through the small part of `pg.Pool` it uses. */
function kyselyOnPglite(pg: PGlite): Kysely<KDb> {
  const client = {
    async query(text: string, params: unknown[]) {
      const r = await pg.query<Record<string, unknown>>(text, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length, command: /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() };
    },
    release() {},
  };
  return new Kysely<KDb>({ dialect: new PostgresDialect({ pool: { connect: async () => client, end: async () => {} } as never }) });
}

async function outcomes<Db>(db: Db, steps: Step<Db>[]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const [name, run] of steps) out.set(name, await run(db).catch((e: Error) => ({ error: e.message })));
  return out;
}

let w: WranglerDev;
const clients: VitessClient[] = [];
let drizzleReference: Map<string, unknown>;
let kyselyReference: Map<string, unknown>;

beforeAll(async () => {
  w = await startWrangler();
  const pg = await pgliteLikeNodePostgres();
  for (const s of [...DDL('d_'), ...DDL('k_')]) await pg.exec(s);
  drizzleReference = await outcomes(drizzlePglite(pg) as unknown as AnyDrizzle, drizzleSteps('d_'));
  kyselyReference = await outcomes(kyselyOnPglite(pg), kyselySteps);
  await pg.close();
  for (const ref of [drizzleReference, kyselyReference]) for (const [name, r] of ref) expect(r, `reference step "${name}"`).not.toHaveProperty('error');
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.disconnect()));
  await w?.stop();
});

describe.each(['main', 'pg'])('keyspace %s', (keyspace) => {
  let drizzleResults: Map<string, unknown>;
  let kyselyResults: Map<string, unknown>;

  let client: VitessClient;

  beforeAll(async () => {
    client = createClient({ endpoint: w.url, keyspace, retry: { attempts: 3, baseMs: 20, maxMs: 200 } });
    clients.push(client);
    for (const s of [...DDL('d_'), ...DDL('k_')]) await client.execute(s);
    drizzleResults = await outcomes(drizzle(client) as unknown as AnyDrizzle, drizzleSteps('d_'));
    kyselyResults = await outcomes(new Kysely<KDb>({ dialect: new VitessDialect({ client }) }), kyselySteps);
  });

  describe('Drizzle', () => {
    for (const [name] of drizzleSteps('d_')) {
      it(name, () => expect(drizzleResults.get(name)).toEqual(drizzleReference.get(name)));
    }
  });

  describe('Kysely', () => {
    for (const [name] of kyselySteps) {
      it(name, () => expect(kyselyResults.get(name)).toEqual(kyselyReference.get(name)));
    }
  });

  describe('adapter behaviour', () => {
    const { users } = drizzleTables('d_');

    it("statements carry the client's bookmark: each write moves it, and a read after it sees the write", async () => {
      const db = drizzle(client);
      const before = client.bookmark;
      await db.insert(users).values({ id: 100, email: 'bm@example.com' });
      expect(client.bookmark).not.toBe(before);
      const afterInsert = client.bookmark;
      await db.transaction(async (tx) => {
        await tx.update(users).set({ plan: 'pro' }).where(eq(users.id, 100));
      });
      expect(client.bookmark).not.toBe(afterInsert);
      expect(await db.select({ plan: users.plan }).from(users).where(eq(users.id, 100))).toEqual([{ plan: 'pro' }]);
    });

    it('errors come through as the client raises them (a duplicate key: CONSTRAINT)', async () => {
      const db = drizzle(client);
      const err = await db
        .insert(users)
        .values({ id: 100, email: 'dup@example.com' })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      // Drizzle wraps a driver's error in its own ("Failed query: …"), the driver's as the cause.
      expect((err as Error).cause).toMatchObject({ code: 'CONSTRAINT' });
      const k = new Kysely<KDb>({ dialect: new VitessDialect({ client }) });
      const kerr = await k
        .insertInto('k_users')
        .values({ id: 1, email: 'dup@example.com' })
        .execute()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(kerr).toMatchObject({ code: 'CONSTRAINT' });
      // A statement that fails inside a transaction rolls it back, with the error it raised.
      const terr = await k
        .transaction()
        .execute(async (tx) => {
          await tx.updateTable('k_users').set({ seats: 77 }).where('id', '=', 2).execute();
          await tx.insertInto('k_users').values({ id: 1, email: 'dup@example.com' }).execute();
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(terr).toMatchObject({ code: 'CONSTRAINT' });
      expect(await k.selectFrom('k_users').select('seats').where('id', '=', 2).execute()).not.toEqual([{ seats: 77 }]);
    });

    it('transaction options and nested transactions are refused by name', async () => {
      const db = drizzle(client);
      await expect(db.transaction(async () => {}, { isolationLevel: 'read committed' })).rejects.toThrow(/isolationLevel/);
      await expect(db.transaction(async (tx) => tx.transaction(async () => {}))).rejects.toThrow(/nested transactions/);
      const k = new Kysely<KDb>({ dialect: new VitessDialect({ client }) });
      await expect(
        k
          .transaction()
          .setIsolationLevel('serializable')
          .execute(async () => {}),
      ).rejects.toThrow(/isolation level/);
    });
  });
});

// ---- README: the "ORMs and drivers" examples, run as written --------------------------------

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The ```ts block under `### heading` of the README's "ORMs and drivers" section, and its `// →` lines. */
function readmeExample(heading: string): { code: string; expected: string[] } {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const start = readme.indexOf('\n## ORMs and drivers\n');
  expect(start, 'README has a "## ORMs and drivers" section').toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const at = section.indexOf(`\n### ${heading}\n`);
  expect(at, `README's "ORMs and drivers" has a "### ${heading}" sub-section`).toBeGreaterThan(0);
  const next = section.indexOf('\n### ', at + 1);
  const code = /```ts\n([\s\S]*?)```/.exec(section.slice(at, next < 0 ? undefined : next))?.[1];
  expect(code, `a ts block under "### ${heading}"`).toBeTruthy();
  return { code: code!, expected: [...code!.matchAll(/^\/\/ → (.*)$/gm)].map((m) => m[1]!) };
}

describe('README: ORMs and drivers', () => {
  const entries: Record<string, string> = {
    "'@dotdo/vitess'": `'${ROOT}client/index.js'`,
    "'@dotdo/vitess/drizzle'": `'${ROOT}client/orm/drizzle.js'`,
    "'@dotdo/vitess/kysely'": `'${ROOT}client/orm/kysely.js'`,
  };
  for (const heading of ['Drizzle', 'Kysely']) {
    it(`the ${heading} example runs as written`, async () => {
      const { code, expected } = readmeExample(heading);
      expect(expected.length).toBeGreaterThan(0);
      let runnable = code.replaceAll("'http://localhost:8787'", `'${w.url}'`);
      for (const [from, to] of Object.entries(entries)) runnable = runnable.replaceAll(from, to);
      // Inside the repository, so that its imports resolve from node_modules; in tests/output
      // (ignored by git and Biome) under a dot name (which tsc's globs skip).
      const file = `${ROOT}tests/output/.readme-${heading.toLowerCase()}.ts`;
      writeFileSync(file, runnable);
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        await import(pathToFileURL(file).href);
        expect(log.mock.calls.map((args) => args.join(' '))).toEqual(expected);
      } finally {
        log.mockRestore();
        rmSync(file, { force: true });
      }
    });
  }
});
