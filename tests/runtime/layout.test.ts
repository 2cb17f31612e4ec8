// Topology as state (docs/resharding.md), on real Durable Objects: the keyspace's layout keeper
// (VTCoordinator `topology/main`) seeds the layout from the VSCHEMA (here the default one), an
// operator's bump fences every tablet; a request stamped with the older version is refused and
// changes nothing, and a VTGate session whose cache is stale reads the layout again and succeeds.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ADMIN } from '../../router/access/grants.js';
import { Session } from '../../router/session.js';
import { configuredVSchema, Topology, type Env } from '../../router/topology.js';
import { asVitessError, STALE_LAYOUT } from '../../rpc/errors.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { shardFor } from '../../rpc/keyspace/keyrange.js';
import { stubOf } from '../../rpc/do-stub.js';
import type { CoordinatorApi } from '../../rpc/do-api.js';

/** A VTGate of its own (its own layout cache), the keyspace's layout keeper, and a new table on `main`. */
async function setup() {
  const topology = new Topology(configuredVSchema(env as unknown as Env), env as unknown as Env);
  const keeper = stubOf<CoordinatorApi>(env.COORDINATOR.getByName('topology/main'));
  const table = `lay_${crypto.randomUUID().slice(0, 8)}`;
  const session = new Session(topology, 'main', undefined, ADMIN);
  await session.run(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, v TEXT)`, []);
  return { topology, keeper, table, session };
}

describe('a shard layout bumped under a VTGate with a stale cache', () => {
  it('fences the tablets: a stale stamp is refused with nothing changed, and VTGate refreshes and retries', async () => {
    const { topology, keeper, table, session } = await setup();
    await session.run(`INSERT INTO ${table} (id, v) VALUES (1, 'a')`, []);
    const before = topology.layoutVersion('main');
    expect(await keeper.layout('main')).toMatchObject({
      keyspace: 'main',
      version: before,
      shards: [{ name: '-40' }, { name: '40-80' }, { name: '80-c0' }, { name: 'c0-' }],
    });

    const bumped = await keeper.bumpLayout('main');
    expect(bumped.version).toBe(before + 1);
    expect(topology.layoutVersion('main')).toBe(before); // this isolate's cache has not seen it

    // A request stamped with the old version: refused, nothing run.
    const shard = shardFor(hashId(2)!, ['-40', '40-80', '80-c0', 'c0-']);
    const tablet = topology.tablet('main', shard);
    const refused = await tablet
      .query('do-sqlite', `INSERT INTO ${table} (id, v) VALUES (2, 'stale')`, [], { layoutVersion: before })
      .catch((e: unknown) => asVitessError(e));
    expect(refused).toMatchObject({ code: 'UNAVAILABLE', details: { construct: STALE_LAYOUT, layoutVersion: before + 1 } });
    expect((await tablet.query('do-sqlite', `SELECT count(*) AS n FROM ${table} WHERE id = 2`)).rows).toEqual([{ n: 0 }]);
    // …and stamped with the current one, it runs.
    await tablet.query('do-sqlite', `SELECT 1`, [], { layoutVersion: before + 1 });

    // The session routes by its stale cache, is refused, reads the layout again, and succeeds once.
    const r = await session.run(`INSERT INTO ${table} (id, v) VALUES (3, 'fresh')`, []);
    expect(r.affected).toBe(1);
    expect(topology.layoutVersion('main')).toBe(before + 1);
    expect((await session.run(`SELECT id, v FROM ${table} ORDER BY id`, [])).rows).toEqual([
      { id: 1, v: 'a' },
      { id: 3, v: 'fresh' },
    ]);

    // The fence only rises: telling a tablet an older version changes nothing.
    expect(await tablet.fenceLayout(1)).toBe(before + 1);
  });
});

describe('transactions under a bumped layout', () => {
  it('a client transaction is refused where it joins a fenced shard and rolled back; an atomic batch is run again and applied once', async () => {
    const { keeper, table, session } = await setup();
    const shards = ['-40', '40-80', '80-c0', 'c0-'];
    // Two ids on different shards.
    const other = [2, 3, 4, 5, 6, 7, 8].find((id) => shardFor(hashId(id)!, shards) !== shardFor(hashId(1)!, shards))!;

    // The client's transaction: its first statement joins a shard fenced at a newer version.
    await keeper.bumpLayout('main');
    const tx = session.begin();
    const refused = await session.run(`INSERT INTO ${table} (id, v) VALUES (1, 'tx')`, [], tx).catch((e: unknown) => asVitessError(e));
    expect(refused).toMatchObject({ code: 'UNAVAILABLE', details: { construct: STALE_LAYOUT } });
    await tx.rollback();
    // The session read the new layout: the client's retry runs.
    const again = session.begin();
    await session.run(`INSERT INTO ${table} (id, v) VALUES (1, 'retried')`, [], again);
    await session.commit(again);

    // An atomic batch across two shards: refused at its first shard, rolled back, run once more.
    await keeper.bumpLayout('main');
    const results = await session.batch(
      [{ sql: `INSERT INTO ${table} (id, v) VALUES ($1, 'batch')`, params: [other] }, { sql: `UPDATE ${table} SET v = 'batch' WHERE id = 1` }],
      true,
    );
    expect(results.map((r) => r.affected)).toEqual([1, 1]);
    expect((await session.run(`SELECT id, v FROM ${table} ORDER BY id`, [])).rows).toEqual([
      { id: 1, v: 'batch' },
      { id: other, v: 'batch' },
    ]);
  });
});
