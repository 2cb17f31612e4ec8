// Topology as state (docs/resharding.md): the pure layout logic (seeding from the VSCHEMA,
// versions, validation), VTGate's per-isolate cache, and a Session that routes by a stale cached
// layout, is refused by the fenced tablet, reads the layout again and retries once — only when
// the refusal guarantees that nothing was applied.
import { describe, expect, it, vi } from 'vitest';
import { layoutOf, nextLayout, reconcile, shardNames, staleLayoutVersion, type ShardLayout } from '../../router/layout/layout.js';
import { cachedLayout, LAYOUT_TTL_MS, loadLayout } from '../../router/layout/layout-cache.js';
import { ADMIN } from '../../router/access/grants.js';
import { Session } from '../../router/session.js';
import { Topology, type Env } from '../../router/topology.js';
import { parseVSchema } from '../../router/vschema.js';
import { asVitessError, encodeError, STALE_LAYOUT, VitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { shardFor } from '../../rpc/keyspace/keyrange.js';

// Session reaches cloudflare:workers only through classes and waitUntil it does not use here.
vi.mock('cloudflare:workers', () => ({ DurableObject: class {}, RpcTarget: class {}, WorkerEntrypoint: class {}, waitUntil: () => undefined }));

describe('shard layouts', () => {
  it('are the VSCHEMA shards as key ranges, at version 1', () => {
    expect(layoutOf('main', ['-80', '80-'])).toEqual({
      keyspace: 'main',
      version: 1,
      shards: [
        { name: '-80', range: { start: '', end: '80' } },
        { name: '80-', range: { start: '80', end: '' } },
      ],
    });
  });

  it('refuse shards that leave a gap, overlap or are not ranges, and bad versions', () => {
    expect(() => layoutOf('main', ['-40', '80-'])).toThrow(/keyspace "main": shard "80-" must start where the previous one ends/);
    expect(() => layoutOf('main', ['-80', '40-'])).toThrow(/must start where/);
    expect(() => layoutOf('main', ['x'])).toThrow(/"x" is not a key range/);
    expect(() => layoutOf('main', [])).toThrow(/at least one shard/);
    expect(() => layoutOf('main', ['-'], 0)).toThrow(/positive integer/);
  });

  it('are seeded once, kept while the VSCHEMA is unchanged, and replaced (a new version) when it is edited', () => {
    const seeded = reconcile(undefined, 'main', ['-80', '80-']);
    expect(seeded.layout.version).toBe(1);
    const bumped = { layout: nextLayout(seeded.layout, ['-']), seed: seeded.seed };
    expect(bumped.layout.version).toBe(2);
    // A runtime change survives reads with the same VSCHEMA.
    expect(reconcile(bumped, 'main', ['-80', '80-'])).toBe(bumped);
    // An operator's edit of the VSCHEMA's shards is the next version, with those shards.
    const edited = reconcile(bumped, 'main', ['-40', '40-80', '80-']);
    expect(edited.layout.version).toBe(3);
    expect(shardNames(edited.layout)).toEqual(['-40', '40-80', '80-']);
    expect(nextLayout(edited.layout).version).toBe(4);
    expect(shardNames(nextLayout(edited.layout))).toEqual(['-40', '40-80', '80-']);
  });

  it('a stale-layout refusal keeps its version across the RPC boundary; other errors have none', () => {
    const refusal = new VitessError('UNAVAILABLE', 'routed by version 1', { construct: STALE_LAYOUT, layoutVersion: 7 });
    expect(staleLayoutVersion(encodeError(refusal))).toBe(7);
    expect(asVitessError(encodeError(refusal)).retryable).toBe(true);
    expect(staleLayoutVersion(encodeError(new VitessError('UNAVAILABLE', 'down')))).toBeUndefined();
    expect(staleLayoutVersion(new Error('boom'))).toBeUndefined();
  });
});

describe("VTGate's layout cache", () => {
  const key = () => `ks-${crypto.randomUUID()}`;
  const keeper = (versions: number[]) => {
    let reads = 0;
    const read = async () => layoutOf('k', ['-'], versions[Math.min(reads++, versions.length - 1)]);
    return { read, reads: () => reads };
  };

  it('answers from the cache while fresh, reads again after the TTL', async () => {
    const k = key();
    const kp = keeper([1, 2]);
    const t = Date.now();
    expect((await loadLayout(k, kp.read, 0, t)).version).toBe(1);
    expect((await loadLayout(k, kp.read, 0, t + 1)).version).toBe(1);
    expect(kp.reads()).toBe(1);
    expect((await loadLayout(k, kp.read, 0, t + LAYOUT_TTL_MS + 1_000)).version).toBe(2);
    expect(kp.reads()).toBe(2);
  });

  it('reads again at once for a version newer than the cached one, sharing one read between callers', async () => {
    const k = key();
    const kp = keeper([1, 3]);
    await loadLayout(k, kp.read);
    const [a, b] = await Promise.all([loadLayout(k, kp.read, 3), loadLayout(k, kp.read, 2)]);
    expect([a.version, b.version, kp.reads()]).toEqual([3, 3, 2]);
  });

  it('never replaces a newer layout with an older answer', async () => {
    const k = key();
    const kp = keeper([4, 2]);
    await loadLayout(k, kp.read);
    expect((await loadLayout(k, kp.read, 5)).version).toBe(4);
    expect(cachedLayout(k)?.version).toBe(4);
  });
});

/** Fake shard primaries: each runs (records) what it is sent, unless its fence refuses the stamp. */
function fakeShards() {
  const fences = new Map<string, number>();
  const applied: { tablet: string; sql: string; stamp: number | undefined }[] = [];
  const refused: string[] = [];
  const tablet = (name: string) => ({
    schema: async () => [
      {
        name: 't',
        primaryKey: ['id'],
        columns: [
          { name: 'id', type: 'int4' },
          { name: 'v', type: 'text' },
        ],
      },
    ],
    query: async (_kind: string, sql: string, _params: SqlValue[], opts: { layoutVersion?: number } = {}) => {
      const fence = fences.get(name) ?? 0;
      if (opts.layoutVersion !== undefined && opts.layoutVersion < fence) {
        refused.push(name);
        throw encodeError(new VitessError('UNAVAILABLE', `stale: ${opts.layoutVersion} < ${fence}`, { construct: STALE_LAYOUT, layoutVersion: fence }));
      }
      if (!/^\s*select/i.test(sql)) applied.push({ tablet: name, sql, stamp: opts.layoutVersion });
      return { rows: [], fields: [], affected: /^\s*select/i.test(sql) ? 0 : 1, lsn: applied.length };
    },
  });
  return { fences, applied, refused, tablet };
}

describe('a Session with a stale cached layout', () => {
  const setup = () => {
    const keyspace = `lay_${crypto.randomUUID().slice(0, 8)}`;
    const vschema = parseVSchema({ keyspaces: [{ name: keyspace, engine: 'sqlite', shards: ['-80', '80-'] }] });
    const shards = fakeShards();
    const state = { layout: layoutOf(keyspace, ['-80', '80-']), reads: 0 };
    const bump = (to?: string[]) => {
      state.layout = nextLayout(state.layout, to);
      // As the keeper does: every tablet of the old and new shards is fenced.
      for (const s of ['-80', '80-', '-']) shards.fences.set(`${keyspace}/${s}`, state.layout.version);
    };
    const env = {
      TABLET: { getByName: (name: string) => shards.tablet(name) },
      COORDINATOR: {
        getByName: (name: string) => {
          expect(name).toBe(`topology/${keyspace}`);
          return {
            layout: async (): Promise<ShardLayout> => {
              state.reads++;
              return state.layout;
            },
          };
        },
      },
    } as unknown as Env;
    const topology = new Topology(vschema, env);
    const session = new Session(topology, keyspace, undefined, ADMIN);
    return { keyspace, shards, state, bump, session, topology };
  };

  it('routes from the cache: no layout read per statement', async () => {
    const { session, state } = setup();
    for (let i = 0; i < 5; i++) await session.run('SELECT v FROM t WHERE id = $1', [i]);
    expect(state.reads).toBe(1);
  });

  it('is refused by the fenced tablet, reads the layout again and applies the write once, stamped with the new version', async () => {
    const { keyspace, session, shards, state, bump } = setup();
    await session.run('SELECT v FROM t WHERE id = 1', []);
    bump();
    const r = await session.run("INSERT INTO t (id, v) VALUES (1, 'a')", []);
    expect(r.affected).toBe(1);
    expect(shards.refused).toHaveLength(1);
    expect(shards.applied).toEqual([{ tablet: shards.refused[0], sql: expect.stringMatching(/INSERT/), stamp: 2 }]);
    expect(state.reads).toBe(2);
    expect(shards.applied[0]!.tablet.startsWith(`${keyspace}/`)).toBe(true);
  });

  it('routes to the shards of the new layout once it has read it', async () => {
    const { keyspace, session, shards, bump } = setup();
    await session.run('SELECT v FROM t WHERE id = 1', []);
    bump(['-']); // merged into one shard
    const r = await session.run("INSERT INTO t (id, v) VALUES (1, 'a')", []);
    expect(r.shards).toEqual(['-']);
    expect(shards.applied.map((a) => a.tablet)).toEqual([`${keyspace}/-`]);
    expect((await session.run('SELECT v FROM t', [])).shards).toEqual(['-']);
  });

  it('does not retry a write that other shards may have applied: the refusal reaches the caller', async () => {
    const { keyspace, session, shards } = setup();
    await session.run('SELECT v FROM t WHERE id = 1', []);
    // Only one shard told of version 2 so far (a bump in progress): a scatter write reaches both.
    shards.fences.set(`${keyspace}/80-`, 2);
    const e = await session.run('DELETE FROM t', []).catch((x: unknown) => asVitessError(x));
    expect(e).toMatchObject({ code: 'UNAVAILABLE', details: { construct: STALE_LAYOUT, layoutVersion: 2 } });
    expect(shards.applied.map((a) => a.tablet)).toEqual([`${keyspace}/-80`]);
  });

  it('gives up after one retry when the layout it reads is still older than the fence', async () => {
    const { keyspace, session, shards } = setup();
    shards.fences.set(`${keyspace}/-80`, 9);
    shards.fences.set(`${keyspace}/80-`, 9);
    const e = await session.run('SELECT v FROM t WHERE id = 1', []).catch((x: unknown) => asVitessError(x));
    expect(e).toMatchObject({ code: 'UNAVAILABLE', details: { construct: STALE_LAYOUT } });
    expect(shards.refused).toHaveLength(2);
  });

  it('stamps a statement with the layout it was planned by, even when another request refreshed the cache meanwhile', async () => {
    const { keyspace, session, shards, bump, topology } = setup();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    // The first statement's schema read waits: the plan's layout is chosen before it, its shards after.
    const slow = shards.tablet;
    shards.tablet = (name: string) => ({
      ...slow(name),
      schema: async () => {
        await gate;
        return slow(name).schema();
      },
    });
    const id = [...Array(100).keys()].find((i) => shardFor(hashId(i)!, ['-80', '80-']) === '-80' && shardFor(hashId(i)!, ['-40', '40-80', '80-']) === '-40')!;
    const write = session.run("INSERT INTO t (id, v) VALUES ($1, 'a')", [id]);
    await vi.waitFor(() => expect(cachedLayout(`${keyspace}\u0000-80 80-`)?.version).toBe(1));
    bump(['-40', '40-80', '80-']); // -80 is split: its tablet is fenced at version 2
    await topology.layout(keyspace, 2); // another request refreshes the cache
    open();
    await write;
    // Planned by version 1 (shard -80), so stamped 1: refused, planned again by version 2.
    expect(shards.refused).toEqual([`${keyspace}/-80`]);
    expect(shards.applied).toEqual([{ tablet: `${keyspace}/-40`, sql: expect.stringMatching(/INSERT/), stamp: 2 }]);
  });
});
