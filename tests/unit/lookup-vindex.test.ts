// Lookup vindexes (router/engine/lookup.ts) kept in step by the executor's Insert, LookupUpdate and
// LookupDelete, on real shards (libSQL × 4). After every write each lookup table must hold exactly
// one entry per (value, keyspace id) of the indexed rows, counting them, on the shard of hash(value).
// A `range` vindex gives every row of a shard one keyspace id, so entries count several rows.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import type { ShardCursor } from '../../router/engine/executor.js';
import { Planner } from '../../router/planner/planner.js';
import { keyspaceIdFor } from '../../router/vindex/vindex.js';
import { parseVSchema, type VindexSpec } from '../../router/vschema.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { equalRanges, shardFor } from '../../rpc/keyspace/keyrange.js';
import type { SqlValue } from '../../rpc/values.js';

const SHARDS = equalRanges(4);
const DAYS: VindexSpec = {
  type: 'range',
  column: 'day',
  ranges: [
    { to: 10, shard: SHARDS[0]! },
    { from: 10, to: 20, shard: SHARDS[1]! },
    { from: 20, to: 30, shard: SHARDS[2]! },
    { from: 30, shard: SHARDS[3]! },
  ],
};
const vschema = parseVSchema({
  keyspaces: [
    {
      name: 'main',
      engine: 'sqlite',
      shards: 4,
      tables: {
        events: { vindex: DAYS, lookups: [{ column: 'tag' }] },
        users: { vindex: { type: 'hash', column: 'id' }, lookups: [{ column: 'email' }] },
      },
    },
  ],
});

interface Call {
  shard: string;
  sql: string;
  params: SqlValue[];
}
const shards = new Map<string, StorageEngine>();
const calls: Call[] = [];
const cursor: ShardCursor = {
  execute(_ks, shard, sql, params) {
    calls.push({ shard, sql, params });
    return shards.get(shard)!.query(sql, params);
  },
};
const planner = new Planner(vschema);
const run = (sql: string, params: SqlValue[] = []) => planner.run(sql, params, 'main', cursor);
/** The statements the last `f` sent to `table`. */
async function sentTo(table: string, f: () => Promise<unknown>): Promise<Call[]> {
  calls.length = 0;
  await f();
  return calls.filter((c) => new RegExp(`\\b${table}\\b`).test(c.sql));
}

/** Every shard's rows of `sql`, each with its shard. */
async function everywhere(sql: string): Promise<Record<string, SqlValue>[]> {
  return (await Promise.all(SHARDS.map(async (shard) => (await shards.get(shard)!.query(sql, [])).rows.map((r) => ({ ...r, shard }))))).flat();
}

/**
 * The lookup table of `table.column` holds, for each (value, keyspace id) of the rows, the number
 * of rows behind it, on the shard of hash(value); nothing else (no entry at zero).
 */
async function expectInStep(table: string, column: string, vindex: VindexSpec): Promise<void> {
  const expected = new Map<string, number>();
  for (const r of await everywhere(`SELECT ${vindex.column} AS k, ${column} AS v FROM ${table}`)) {
    if (r.v === null) continue;
    const key = JSON.stringify([r.v, keyspaceIdFor(vindex, r.k!)]);
    expected.set(key, (expected.get(key) ?? 0) + 1);
  }
  const entries = await everywhere(`SELECT value, keyspace_id, refs FROM ${table}_${column}_lookup`);
  for (const e of entries) expect(e.shard, `entry ${String(e.value)}`).toBe(shardFor(hashId(e.value!)!, SHARDS));
  const actual = entries.map((e) => [JSON.stringify([e.value, e.keyspace_id]), Number(e.refs)] as const);
  expect(actual.sort(([a], [b]) => a.localeCompare(b))).toEqual([...expected].sort(([a], [b]) => a.localeCompare(b)));
}

/** Rows found through the lookup vindex agree with a scan. */
async function expectFound(tag: string): Promise<void> {
  const viaLookup = (await run('SELECT day FROM events WHERE tag = $1', [tag])).rows.map((r) => Number(r.day)).sort((a, b) => a - b);
  const scanned = (await everywhere(`SELECT day FROM events WHERE tag = '${tag}'`)).map((r) => Number(r.day)).sort((a, b) => a - b);
  expect(viaLookup).toEqual(scanned);
}

beforeAll(async () => {
  for (const s of SHARDS) shards.set(s, await LibsqlEngine.open(':memory:'));
  await run('CREATE TABLE events (day int PRIMARY KEY, tag text)');
  await run('CREATE TABLE users (id int PRIMARY KEY, email text)');
});
afterAll(async () => {
  for (const e of shards.values()) await e.close();
});

describe('lookup vindex maintenance', () => {
  const ks = (day: number) => keyspaceIdFor(DAYS, day)!;

  test('INSERT adds one row per entry, summed: rows of one shard share an entry', async () => {
    const sent = await sentTo('events_tag_lookup', () =>
      run('INSERT INTO events (day, tag) VALUES ($1, $2), (2, $2), (3, $3), (15, $2), (25, NULL), (35, $3)', [1, 'a', 'b']),
    );
    // One statement per lookup shard, every entry's count summed before it is written.
    const added = sent.flatMap((c) => Array.from({ length: c.params.length / 3 }, (_, i) => c.params.slice(3 * i, 3 * i + 3)));
    expect(added.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual(
      [
        ['a', ks(1), 2],
        ['a', ks(15), 1],
        ['b', ks(3), 1],
        ['b', ks(35), 1],
      ].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
    );
    expect(sent.every((c) => c.sql.startsWith('INSERT INTO events_tag_lookup (value, keyspace_id, refs) VALUES'))).toBe(true);
    await expectInStep('events', 'tag', DAYS);
    await expectFound('a');
  });

  test('UPDATE moves one row: the new entry gains it first, the old one loses it and stays for the others', async () => {
    const sent = await sentTo('events_tag_lookup', () => run("UPDATE events SET tag = 'b' WHERE day = 1"));
    expect(sent).toEqual([
      {
        shard: shardFor(hashId('b')!, SHARDS),
        sql: 'INSERT INTO events_tag_lookup (value, keyspace_id, refs) VALUES ($1, $2, $3) ON CONFLICT (value, keyspace_id) DO UPDATE SET refs = events_tag_lookup.refs + EXCLUDED.refs',
        params: ['b', ks(1), 1],
      },
      {
        shard: shardFor(hashId('a')!, SHARDS),
        sql: 'UPDATE events_tag_lookup SET refs = refs - CASE WHEN (value = $1 AND keyspace_id = $2) THEN $3 ELSE 0 END WHERE (value = $1 AND keyspace_id = $2)',
        params: ['a', ks(1), 1],
      },
      {
        shard: shardFor(hashId('a')!, SHARDS),
        sql: 'DELETE FROM events_tag_lookup WHERE refs <= 0 AND ((value = $1 AND keyspace_id = $2))',
        params: ['a', ks(1)],
      },
    ]);
    await expectInStep('events', 'tag', DAYS);
    await expectFound('a');
    await expectFound('b');
  });

  test('UPDATE whose changes cancel out per entry writes no lookup row; one that only changes counts moves them by the net', async () => {
    // Days 1 and 2 share a keyspace id: swapping their tags leaves every entry's count as it is.
    const swapped = await sentTo('events_tag_lookup', () => run("UPDATE events SET tag = CASE WHEN tag = 'a' THEN 'b' ELSE 'a' END WHERE day IN (1, 2)"));
    expect(swapped).toEqual([]);
    expect((await everywhere('SELECT day, tag FROM events WHERE day IN (1, 2) ORDER BY day')).map((r) => r.tag)).toEqual(['a', 'b']);
    const same = await sentTo('events_tag_lookup', () => run('UPDATE events SET tag = tag WHERE day < 40'));
    expect(same).toEqual([]);
    // Three rows of shard -40 to 'c' (two from 'b', one from 'a'), one of 40-80 to NULL.
    const moved = await sentTo('events_tag_lookup', () => run("UPDATE events SET tag = CASE WHEN day < 10 THEN 'c' ELSE NULL END WHERE day IN (1, 2, 3, 15)"));
    const byValue = (v: string) => moved.filter((c) => c.params[0] === v).map((c) => c.params);
    expect(byValue('c')).toEqual([['c', ks(1), 3]]);
    expect(byValue('b')).toEqual([
      ['b', ks(1), 2],
      ['b', ks(1)],
    ]);
    expect(byValue('a')).toEqual([
      ['a', ks(1), 1, 'a', ks(15), 1],
      ['a', ks(1), 'a', ks(15)],
    ]);
    await expectInStep('events', 'tag', DAYS);
    for (const t of ['a', 'b', 'c']) await expectFound(t);
  });

  test('DELETE takes its rows off their entries, found through the lookup itself; RETURNING hides the helper columns', async () => {
    await run("INSERT INTO events (day, tag) VALUES (4, 'c'), (5, 'd')");
    await run('DELETE FROM events WHERE day = 4');
    await expectInStep('events', 'tag', DAYS);
    const gone = await run("DELETE FROM events WHERE tag = 'c' RETURNING day");
    expect(gone.rows.map((r) => r.day).sort()).toEqual([1, 2, 3]);
    expect(gone.fields.map((f) => f.name)).toEqual(['day']);
    await expectInStep('events', 'tag', DAYS);
    expect(await everywhere("SELECT * FROM events_tag_lookup WHERE value = 'c'")).toEqual([]);
    await run('DELETE FROM events WHERE day > 0');
    expect(await everywhere('SELECT * FROM events_tag_lookup')).toEqual([]);
  });

  test('a hash vindex: one entry per row, moved and removed with it', async () => {
    const users: VindexSpec = { type: 'hash', column: 'id' };
    await run('INSERT INTO users (id, email) VALUES (1, $1), (2, $2), (3, $1), (4, NULL)', ['a@x', 'b@x']);
    await expectInStep('users', 'email', users);
    await run("UPDATE users SET email = 'c@x' WHERE email = $1", ['a@x']);
    await expectInStep('users', 'email', users);
    expect((await run('SELECT id FROM users WHERE email = $1', ['c@x'])).rows.map((r) => r.id).sort()).toEqual([1, 3]);
    await run('DELETE FROM users WHERE id IN (1, 2)');
    await expectInStep('users', 'email', users);
    expect((await everywhere('SELECT value FROM users_email_lookup')).map((r) => r.value)).toEqual(['c@x']);
  });
});
