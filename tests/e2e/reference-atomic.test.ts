// Writes outside a transaction that reach several shards, end to end: the real Worker under
// `wrangler dev` with a vschema of three keyspaces, one per `transactionMode`. A reference-table
// write that one shard refuses (a foreign key only that shard's rows hold) leaves every copy as
// it was; a scattered UPDATE that one shard refuses (a CHECK) changes nothing anywhere under
// `twopc`, and `single` refuses it before it runs. Each result says how it committed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type VitessClient } from '../../client/index.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { jsonPost } from '../support/auth.js';
import { failure } from '../support/errors.js';

const STARTUP_MS = 240_000;
const people = { vindex: { type: 'hash', column: 'id' } };
const VSCHEMA = {
  keyspaces: [
    { name: 'main', engine: 'sqlite', shards: 4, tables: { countries: { type: 'reference' }, people } },
    { name: 'tp', engine: 'sqlite', shards: 4, transactionMode: 'twopc', tables: { people } },
    { name: 'one', engine: 'sqlite', shards: 2, transactionMode: 'single', tables: { people } },
  ],
};

let w: WranglerDev;
const open: VitessClient[] = [];

beforeAll(async () => {
  w = await startWrangler({ timeoutMs: STARTUP_MS, vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
}, STARTUP_MS + 10_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.disconnect().catch(() => undefined)));
  await w?.stop();
});

function client(keyspace: string): VitessClient {
  const c = createClient({ endpoint: w.url, keyspace, timeoutMs: 60_000 });
  open.push(c);
  return c;
}

/** `/sql` as JSON: the raw result, `atomicity` included. */
async function sql(keyspace: string, text: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${w.url}/sql`, jsonPost({ keyspace, sql: text }));
  return (await res.json()) as Record<string, unknown>;
}

/** Every shard's copy of `table`, in key order. */
async function copies(c: VitessClient, shards: string[], table: string): Promise<unknown[][]> {
  return Promise.all(shards.map(async (shard) => (await c.snapshot({ shard, table })).rows));
}

const SHARDS4 = ['-40', '40-80', '80-c0', 'c0-'];

describe('reference tables never diverge', () => {
  it('a write one shard refuses changes no copy', async () => {
    const c = client('main');
    await c.execute('CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL)');
    await c.execute('CREATE TABLE people (id int PRIMARY KEY, country text REFERENCES countries (code))');
    const ok = await sql('main', "INSERT INTO countries (code, name) VALUES ('fr', 'France'), ('de', 'Germany')");
    expect(ok).toMatchObject({ affected: 2, plan: 'reference', atomicity: 'two-phase' });
    // One person: only the shard holding them has a row that references 'fr'.
    await c.execute("INSERT INTO people (id, country) VALUES (1, 'fr')");
    const before = await copies(c, SHARDS4, 'countries');
    expect(before[0]).toHaveLength(2);

    const refused = await failure(c.execute("UPDATE countries SET code = 'fx' WHERE code = 'fr'"));
    expect(refused.message).toMatch(/FOREIGN KEY|constraint/i);
    const after = await copies(c, SHARDS4, 'countries');
    for (const copy of after) expect(copy).toEqual(before[0]);
    expect(after).toEqual(before);
  });
});

describe('scattered writes follow the keyspace transactionMode', () => {
  const setup = async (c: VitessClient) => {
    await c.execute('CREATE TABLE people (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0))');
    // Eight rows over the shards; one of them cannot lose 5.
    await c.execute('INSERT INTO people (id, balance) VALUES (1, 10), (2, 10), (3, 10), (4, 10), (5, 10), (6, 10), (7, 10), (8, 0)');
  };
  const balances = async (c: VitessClient) => (await c.query('SELECT id, balance FROM people ORDER BY id')).rows;

  it('twopc: an UPDATE one shard refuses changes nothing anywhere; one that succeeds says two-phase', async () => {
    const c = client('tp');
    await setup(c);
    const before = await balances(c);
    await failure(c.execute('UPDATE people SET balance = balance - 5'));
    expect(await balances(c)).toEqual(before);
    expect(await sql('tp', 'UPDATE people SET balance = balance + 1')).toMatchObject({ affected: 8, plan: 'scatter', atomicity: 'two-phase' });
    expect(await sql('tp', 'UPDATE people SET balance = balance + 1 WHERE id = 1')).toMatchObject({ affected: 1, atomicity: 'single-shard' });
  });

  it('multi (the default): each shard commits its part, and the result says per-shard', async () => {
    const c = client('main');
    expect(await sql('main', 'UPDATE countries SET name = name')).toMatchObject({ atomicity: 'two-phase' });
    await c.execute('DROP TABLE people');
    await setup(c);
    expect(await sql('main', 'UPDATE people SET balance = balance + 1')).toMatchObject({ affected: 8, atomicity: 'per-shard' });
  });

  it('single: a write that would reach more than one shard is refused before it runs', async () => {
    const c = client('one');
    await c.execute('CREATE TABLE people (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0))');
    // A multi-row INSERT over both shards is a multi-shard write too.
    const insert = await failure(c.execute('INSERT INTO people (id, balance) VALUES (1, 10), (2, 10), (3, 10), (4, 10)'));
    expect(insert.code).toBe('UNSUPPORTED');
    expect(insert.message).toMatch(/transactionMode "single"/);
    for (const id of [1, 2, 3, 4]) await c.execute('INSERT INTO people (id, balance) VALUES ($1, 10)', [id]);
    const update = await failure(c.execute('UPDATE people SET balance = 0'));
    expect(update.code).toBe('UNSUPPORTED');
    expect((await balances(c)).map((r) => r.balance)).toEqual([10, 10, 10, 10]);
    expect(await sql('one', 'UPDATE people SET balance = 1 WHERE id = 2')).toMatchObject({ affected: 1, atomicity: 'single-shard' });
  });
});
