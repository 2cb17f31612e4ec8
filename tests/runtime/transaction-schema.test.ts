// A transaction must not wait for itself (issue 21, defect 5): a statement inside it on a table
// this VTGate isolate has not seen (created by another client, through another isolate) makes
// the planner read the keyspace's schema again. Read from a shard the transaction holds, that
// read waits for the transaction to end (an open DO SQLite transaction blocks every other call
// to its DO; a PGlite one holds the engine), so the statement used to hang until the deadline.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ADMIN } from '../../router/access/grants.js';
import { Session } from '../../router/session.js';
import { Topology, type Env } from '../../router/topology.js';
import { parseVSchema } from '../../router/vschema.js';
import { asVitessError } from '../../rpc/errors.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { shardFor } from '../../rpc/keyspace/keyrange.js';

const SHARDS = ['-80', '80-'];
/** The first id (from 1) that lands on `shard`. */
const idOn = (shard: string): number => {
  for (let id = 1; ; id++) if (shardFor(hashId(id)!, SHARDS) === shard) return id;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The statement's result or error code, or 'hung' when it takes longer than `ms`. */
const within = <T>(p: Promise<T>, ms: number): Promise<T | string> =>
  Promise.race([p.catch((e: unknown) => asVitessError(e).code), sleep(ms).then(() => 'hung')]);

describe.each([
  ['sqlite', 'do-sqlite'],
  ['pglite', 'pglite'],
] as const)('a transaction on %s that meets a table new to VTGate', (engine, kind) => {
  it('reads the schema again without waiting for itself', async () => {
    const keyspace = `txschema_${engine}_${crypto.randomUUID().slice(0, 8)}`;
    const vschema = parseVSchema({ keyspaces: [{ name: keyspace, engine, shards: SHARDS }] });
    // No sequences here (the registry answers none), no deadlock to find (the waits-for graph lets
    // every wait through), and a coordinator that records participants (no transaction here commits on two shards).
    const topology = new Topology(vschema, {
      TABLET: env.TABLET,
      SEQUENCE: { getByName: () => ({ columns: async () => [] }) },
      COORDINATOR: {
        getByName: () => ({ waitFor: async () => null, release: async () => undefined, begin: async () => undefined, abandon: async () => undefined }),
      },
    } as unknown as Env);
    // "Another client": DDL straight on every shard, which this isolate's planner does not see.
    const elsewhere = async (sql: string) => {
      for (const shard of SHARDS) await topology.tablet(keyspace, shard).query(kind, sql);
    };
    await elsewhere('CREATE TABLE known (id INT PRIMARY KEY, n INT)');
    const session = new Session(topology, keyspace, undefined, ADMIN);
    expect((await session.run('SELECT count(*) AS n FROM known', [])).rows).toEqual([{ n: 0 }]); // the planner has read the schema
    await elsewhere('CREATE TABLE fresh (id INT PRIMARY KEY, v TEXT)');

    // Holding the first shard (where the schema used to be read from), not every shard.
    const first = idOn('-80');
    const tx = session.begin(5_000);
    expect((await session.run('INSERT INTO known (id, n) VALUES ($1, 1)', [first], tx)).shards).toEqual(['-80']);
    const r = await within(session.run("INSERT INTO fresh (id, v) VALUES ($1, 'x')", [first], tx), 3_000);
    expect(r).toMatchObject({ affected: 1, shards: ['-80'] });
    await session.commit(tx);
    expect((await session.run('SELECT id, v FROM fresh', [])).rows).toEqual([{ id: first, v: 'x' }]);

    // Holding every shard: no shard is left to read the schema from outside the transaction; refused at once.
    await elsewhere('CREATE TABLE fresher (id INT PRIMARY KEY, v TEXT)');
    const all = session.begin(5_000);
    await session.run('UPDATE known SET n = n + 1', [], all);
    expect(await within(session.run("INSERT INTO fresher (id, v) VALUES ($1, 'y')", [first], all), 3_000)).toBe('UNSUPPORTED');
    await all.rollback();
    // Outside a transaction the table is found.
    expect((await session.run("INSERT INTO fresher (id, v) VALUES ($1, 'y')", [first])).affected).toBe(1);
  }, 60_000);
});
