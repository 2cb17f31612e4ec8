// The pure parts of the ORM adapters (client/orm/): values as node-postgres gives them, and the
// SQL Drizzle writes through `@dotdo/vitess/drizzle` (unique names in every select list). The
// adapters against a real VTGate: tests/e2e/orm-differential.test.ts.
import { count, countDistinct, eq, sql } from 'drizzle-orm';
import { bigint, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { drizzle as pgProxy } from 'drizzle-orm/pg-proxy';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../client/index.js';
import { drizzle } from '../../client/orm/drizzle.js';
import { checkDistinctNames, pgRow, pgRowArray, pgValue, sqlParam } from '../../client/orm/values.js';
import { VitessError } from '../../rpc/errors.js';
import { timestampText } from '../../rpc/values.js';

describe('values as node-postgres gives them', () => {
  it('prints timestamps as Postgres does in UTC (fractional seconds without trailing zeros)', () => {
    expect(timestampText(new Date('2024-03-01T10:00:00Z'), true)).toBe('2024-03-01 10:00:00+00');
    expect(timestampText(new Date('2024-03-01T10:00:00.250Z'), false)).toBe('2024-03-01 10:00:00.25');
    expect(timestampText(new Date('0999-12-31T23:59:59.001Z'), true)).toBe('0999-12-31 23:59:59.001+00');
  });

  it('int8 and numeric as strings, bytea as Buffer, dates per mode, the rest as they are', () => {
    expect(pgValue('int8', 5, 'date')).toBe('5');
    expect(pgValue('int8', 2n ** 60n, 'date')).toBe('1152921504606846976');
    expect(pgValue('numeric', '7.50', 'date')).toBe('7.50');
    expect(pgValue('int4', 7, 'date')).toBe(7);
    const b = pgValue('bytea', new Uint8Array([1, 2]), 'date');
    expect(Buffer.isBuffer(b)).toBe(true);
    expect([...(b as Buffer)]).toEqual([1, 2]);
    const ts = new Date('2024-01-01T00:00:00Z');
    expect(pgValue('timestamptz', ts, 'date')).toBe(ts);
    expect(pgValue('timestamptz', ts, 'text')).toBe('2024-01-01 00:00:00+00');
    expect(pgValue('timestamp', ts, 'text')).toBe('2024-01-01 00:00:00');
    expect(pgValue('date', '2024-02-29', 'date')).toEqual(new Date('2024-02-29T00:00:00Z'));
    expect(pgValue('date', '2024-02-29', 'text')).toBe('2024-02-29');
    expect(pgValue('jsonb', { a: [1] }, 'date')).toEqual({ a: [1] });
    expect(pgValue('jsonb', 'a JSON string', 'date')).toBe('a JSON string');
    expect(pgValue('text', null, 'date')).toBeNull();
  });

  it('rows as objects or as arrays in column order; two columns of one name are refused', () => {
    const fields = [
      { name: 'b', type: 'int8' as const },
      { name: 'a', type: 'text' as const },
    ];
    expect(pgRow({ a: 'x', b: 1 }, fields, 'date')).toEqual({ b: '1', a: 'x' });
    expect(pgRowArray({ a: 'x', b: 1 }, fields, 'date')).toEqual(['1', 'x']);
    expect(() => checkDistinctNames([...fields, { name: 'a', type: 'text' }])).toThrow(VitessError);
    expect(() => checkDistinctNames([...fields, { name: 'a', type: 'text' }])).toThrow(/two columns named "a"/);
  });

  it('parameters: Buffers as plain bytes, undefined as NULL', () => {
    const p = sqlParam(Buffer.from([1, 2, 3]));
    expect(p).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(p)).toBe(false);
    expect([...(p as Uint8Array)]).toEqual([1, 2, 3]);
    expect(sqlParam(undefined)).toBeNull();
  });
});

describe('Drizzle: every select-list item has its own name', () => {
  const users = pgTable('users', { id: bigint('id', { mode: 'number' }).primaryKey(), email: text('email'), seats: integer('seats') });
  const orders = pgTable('orders', { id: bigint('id', { mode: 'number' }).primaryKey(), userId: bigint('user_id', { mode: 'number' }) });
  // Building SQL calls nothing: the client is never reached.
  const db = drizzle(createClient({ endpoint: 'http://127.0.0.1:9' }));
  const stock = pgProxy(async () => ({ rows: [] }));

  it('a column whose name another item has gets an alias (a join of two `id`s)', () => {
    const q = db.select().from(users).innerJoin(orders, eq(users.id, orders.userId)).toSQL();
    expect(q.sql).toBe(
      'select "users"."id", "users"."email", "users"."seats", "orders"."id" as "id__3", "orders"."user_id" from "users" inner join "orders" on "users"."id" = "orders"."user_id"',
    );
  });

  it('raw SQL items get an alias (count() and countDistinct() are both `count`)', () => {
    const q = db
      .select({ n: count(), users: countDistinct(orders.userId), one: sql`1`.as('one') })
      .from(orders)
      .toSQL();
    expect(q.sql).toBe('select count(*) as "expr__0", count(distinct "user_id") as "expr__1", 1 as "one" from "orders"');
  });

  it('select lists with unique names are written as Drizzle writes them', () => {
    const sq = db
      .select({ id: users.id, n: sql<number>`count(*)`.as('n') })
      .from(users)
      .groupBy(users.id)
      .as('sq');
    for (const build of [
      (d: typeof db) => d.select().from(users).where(eq(users.id, 1)),
      (d: typeof db) => d.select().from(sq),
      (d: typeof db) => d.insert(users).values({ id: 1 }).returning(),
    ]) {
      expect(build(db).toSQL()).toEqual(build(stock as unknown as typeof db).toSQL());
    }
  });
});
