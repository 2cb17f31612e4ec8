// Global sequences end to end: the real Worker under `wrangler dev` with persistent state, the
// real client over capnweb. 10,000 rows inserted by 10 concurrent clients into a BIGSERIAL table
// sharded by its id get 10,000 distinct ids spread over every shard; after the Worker process is
// killed (SIGKILL: no flush) and restarted on the same state, new rows repeat no id. Also: the
// DDL the shards (and their change logs) got, lastInsertId, CREATE SEQUENCE, and bad input.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type VitessClient } from '../../client/index.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders, jsonPost } from '../support/auth.js';
import { failure } from '../support/errors.js';

const CLIENTS = 10;
/** wrangler dev bundles and starts workerd: on a busy machine that takes minutes. */
const STARTUP_MS = 240_000;
const ROWS = 100; // per statement

let w: WranglerDev;
let persistTo: string;
const open: VitessClient[] = [];

beforeAll(async () => {
  persistTo = await mkdtemp(join(tmpdir(), 'vitess-sequence-'));
  w = await startWrangler({ persistTo, timeoutMs: STARTUP_MS });
}, STARTUP_MS + 10_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect().catch(() => undefined)));
  await w?.stop();
  await rm(persistTo, { recursive: true, force: true });
});

function client(keyspace: string): VitessClient {
  // A loaded machine slows the shards down; a write that outlives the client's wait is lost to the count.
  const c = createClient({ endpoint: w.url, keyspace, timeoutMs: 120_000 });
  open.push(c);
  return c;
}

/**
 * `INSERT … (writer, n) VALUES ($1, 0), ($1, 1), …`: the id column is left out. The writer is a
 * parameter so that every client sends the same texts, planned once.
 */
const insertRows = (table: string, from: number, rows: number) =>
  `INSERT INTO ${table} (writer, n) VALUES ${Array.from({ length: rows }, (_, i) => `($1, ${from + i})`).join(', ')}`;

/** Every id in the table, read through VTGate (all shards). */
async function ids(c: VitessClient, table: string): Promise<number[]> {
  return (await c.query<{ id: number }>(`SELECT id FROM ${table}`, [], { consistency: 'strong' })).rows.map((r) => Number(r.id));
}

/** The shards whose change log holds inserts into `table`, and the DDL the log recorded for it. */
async function fromLogs(keyspace: string, shards: readonly string[], table: string): Promise<{ shards: string[]; ddl: string[] }> {
  const out = { shards: [] as string[], ddl: [] as string[] };
  for (const shard of shards) {
    const res = (await (await fetch(`${w.url}/log?keyspace=${keyspace}&shard=${shard}&from=1&max=100000`, { headers: authHeaders() })).json()) as {
      records: { changes: { ddl?: string; table?: string; op?: string }[] }[];
    };
    const changes = res.records.flatMap((r) => r.changes);
    if (changes.some((c) => c.table === table && c.op === 'insert')) out.shards.push(shard);
    out.ddl.push(...changes.flatMap((c) => (c.ddl?.includes(table) ? [c.ddl] : [])));
  }
  return out;
}

// The acceptance figure (10,000) on DO SQLite; 1,000 on PGlite, whose shards are slower to start and write.
describe.each([
  { keyspace: 'main', shards: ['-40', '40-80', '80-c0', 'c0-'], statements: 10 },
  { keyspace: 'pg', shards: ['-80', '80-'], statements: 1 },
] as const)('keyspace $keyspace', ({ keyspace, shards, statements }) => {
  const table = `seq_items_${keyspace}`;
  let c: VitessClient;

  it(`${CLIENTS} concurrent clients insert ${CLIENTS * statements * ROWS} rows: every id distinct, every shard used`, async () => {
    c = client(keyspace);
    await c.execute(`CREATE TABLE ${table} (id BIGSERIAL PRIMARY KEY, writer int NOT NULL, n int NOT NULL)`);
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, writer) => {
        // One statement in flight per client: a request waits behind at most the other clients'.
        const wc = client(keyspace);
        for (let s = 0; s < statements; s++) expect((await wc.execute(insertRows(table, s * ROWS, ROWS), [writer])).affected).toBe(ROWS);
      }),
    );
    const all = await ids(c, table);
    expect(all.length).toBe(CLIENTS * statements * ROWS);
    expect(new Set(all).size).toBe(all.length);
    const logs = await fromLogs(keyspace, shards, table);
    expect(logs.shards).toEqual([...shards]);
    // The shards (and so their logs and replicas) have a plain bigint column: no per-shard sequence.
    expect(logs.ddl.length).toBe(shards.length);
    for (const ddl of logs.ddl) expect(ddl).toMatch(/\bid bigint PRIMARY KEY\b/);
    for (const ddl of logs.ddl) expect(ddl).not.toMatch(/serial|nextval/i);
  });

  it('a one-row INSERT returns its id as lastInsertId, and the row is on the shard that id routes to', async () => {
    const r = await c.execute(`INSERT INTO ${table} (writer, n) VALUES ($1, $2)`, [99, 1]);
    expect(typeof r.lastInsertId).toBe('number');
    const row = await c.query(`SELECT writer, n FROM ${table} WHERE id = $1`, [r.lastInsertId!], { consistency: 'strong' });
    expect(row.rows.map((x) => [Number(x.writer), Number(x.n)])).toEqual([[99, 1]]);
    expect(row.plan).toBe('single-shard');
    // An explicit id is kept (and reports no generated id); DEFAULT draws one.
    const explicit = await c.execute(`INSERT INTO ${table} (id, writer, n) VALUES ($1, 98, 0)`, [9_000_000_000]);
    expect(explicit.lastInsertId).toBeUndefined();
    const byDefault = await c.execute(`INSERT INTO ${table} (id, writer, n) VALUES (DEFAULT, 97, 0)`);
    expect(byDefault.lastInsertId).toBeGreaterThan(r.lastInsertId!);
    expect((await c.query(`SELECT id FROM ${table} WHERE writer = 98`)).rows.map((x) => Number(x.id))).toEqual([9_000_000_000]);
    // The same through a batch, and through POST /sql.
    const [batched] = await c.batch([{ sql: `INSERT INTO ${table} (writer, n) VALUES (96, 0)` }]);
    const http = (await (await fetch(`${w.url}/sql`, jsonPost({ keyspace, sql: `INSERT INTO ${table} (writer, n) VALUES (95, 0)` }))).json()) as {
      lastInsertId?: unknown;
    };
    const drawn = [r.lastInsertId, byDefault.lastInsertId, batched!.lastInsertId, http.lastInsertId];
    for (const id of drawn) expect(typeof id).toBe('number');
    expect(new Set(drawn).size).toBe(4);
  });

  it("CREATE SEQUENCE and DEFAULT nextval('…'); bad input fails with an error naming it and creates nothing", async () => {
    await c.execute(`CREATE SEQUENCE ${table}_order_ids START WITH 1000`);
    await c.execute(`CREATE TABLE ${table}_orders (id bigint DEFAULT nextval('${table}_order_ids') PRIMARY KEY, note text)`);
    const first = await c.execute(`INSERT INTO ${table}_orders (note) VALUES ('a')`);
    expect(first.lastInsertId).toBe(1000);

    const unknown = await failure(c.execute(`CREATE TABLE ${table}_bad (id bigint DEFAULT nextval('no_such_seq') PRIMARY KEY)`));
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toMatch(/sequence "no_such_seq" does not exist/);
    expect((await failure(c.query(`SELECT * FROM ${table}_bad`))).code).toBe('NOT_FOUND');

    const type = await failure(c.execute(`CREATE TABLE ${table}_bad (id int PRIMARY KEY, code text DEFAULT nextval('${table}_order_ids'))`));
    expect(type.code).toBe('INVALID');
    expect(type.message).toMatch(/column "code" of table "seq_items_\w+_bad" takes its DEFAULT from a sequence but is declared text/);

    const inInsert = await failure(c.execute(`INSERT INTO ${table}_orders (id, note) VALUES (nextval('no_such_seq'), 'x')`));
    expect(inInsert.code).toBe('NOT_FOUND');
    expect(inInsert.message).toMatch(/sequence "no_such_seq" does not exist/);
    expect(Number((await c.query(`SELECT count(*) AS n FROM ${table}_orders`)).rows[0]!.n)).toBe(1);

    // A table dropped and created again continues its sequence: no id of the old table comes back.
    const again = `${table}_again`;
    await c.execute(`CREATE TABLE ${again} (id SERIAL PRIMARY KEY, note text)`);
    const old = await c.execute(`INSERT INTO ${again} (note) VALUES ('old')`);
    await c.execute(`DROP TABLE ${again}`);
    await c.execute(`CREATE TABLE ${again} (id SERIAL PRIMARY KEY, note text)`);
    const recreated = await c.execute(`INSERT INTO ${again} (note) VALUES ('new')`);
    expect(recreated.lastInsertId).toBeGreaterThan(old.lastInsertId!);
  });
});

describe('after the Worker process is killed and restarted on the same state', () => {
  it('no id repeats, in either keyspace, and the sequence columns are known again', async () => {
    const main = client('main');
    const pg = client('pg');
    const before = { main: await ids(main, 'seq_items_main'), pg: await ids(pg, 'seq_items_pg') };
    await w.kill();
    await Promise.all(open.map((c) => c.disconnect().catch(() => undefined)));
    open.length = 0;
    w = await startWrangler({ persistTo, timeoutMs: STARTUP_MS });
    for (const keyspace of ['main', 'pg'] as const) {
      const c = client(keyspace);
      const table = `seq_items_${keyspace}`;
      for (let s = 0; s < 2; s++) await c.execute(insertRows(table, s * ROWS, ROWS), [100 + s]);
      const one = await c.execute(`INSERT INTO ${table} (writer, n) VALUES (200, 0)`);
      expect(before[keyspace]).not.toContain(one.lastInsertId);
      const after = await ids(c, table);
      expect(after.length).toBe(before[keyspace].length + 2 * ROWS + 1);
      expect(new Set(after).size).toBe(after.length);
    }
  });
});
