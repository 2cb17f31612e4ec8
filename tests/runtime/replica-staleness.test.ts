// `maxLagMs` (VTGate's `maxStalenessMs`) is a bound on the age of what a replica serves: the time
// since it last confirmed with its primary that it had caught up with the primary's LSN of that
// moment. A replica that cannot reach its primary, or has not heard from it since a restart,
// refuses bounded reads once the bound may be exceeded. Real VTTablet and VTReplica DOs in workerd;
// "unreachable" is a primary whose pull and subscribe fail (patched for that one instance).
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { ReplicaApi, Stub, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';
import { asVitessError, VitessError } from '../../rpc/errors.js';

type TabletCalls = Pick<TabletApi, 'query' | 'status' | 'unsubscribe'>;
type ReplicaCalls = Pick<ReplicaApi, 'start' | 'read' | 'status' | 'waitFor'>;
type Replica = Stub<ReplicaCalls>;

const CUT = Symbol('unreachable');
const PATCHED = Symbol('patched');
const PULLS = Symbol('pulls');
type Cuttable = Record<PropertyKey, unknown>;

/** Makes one primary fail (or answer again) the calls a replica follows it with. */
async function reachable(keyspace: string, yes: boolean): Promise<void> {
  await runInDurableObject(env.TABLET.getByName(`${keyspace}/-`), (tablet) => {
    const proto = Object.getPrototypeOf(tablet) as Cuttable;
    if (!proto[PATCHED]) {
      proto[PATCHED] = true;
      for (const m of ['pull', 'subscribe'] as const) {
        const original = proto[m] as (...args: unknown[]) => unknown;
        proto[m] = function (this: Cuttable, ...args: unknown[]) {
          if (m === 'pull') this[PULLS] = ((this[PULLS] as number | undefined) ?? 0) + 1;
          if (this[CUT]) throw new VitessError('UNAVAILABLE', 'primary unreachable (test)');
          return original.apply(this, args);
        };
      }
    }
    (tablet as unknown as Cuttable)[CUT] = !yes;
  });
}

/** Pulls the primary has answered or refused since it was patched. */
const pulls = (keyspace: string): Promise<number> =>
  runInDurableObject(env.TABLET.getByName(`${keyspace}/-`), (tablet) => ((tablet as unknown as Cuttable)[PULLS] as number | undefined) ?? 0);

let seq = 0;
const setup = async (opts: { cut?: boolean } = {}) => {
  const keyspace = `st${++seq}x${Math.floor(Math.random() * 1e9)}`;
  const t = stubOf<TabletCalls>(env.TABLET.getByName(`${keyspace}/-`));
  await t.query('do-sqlite', 'CREATE TABLE s (id INT PRIMARY KEY)');
  if (opts.cut) await reachable(keyspace, false);
  const stub = env.REPLICA.getByName(`${keyspace}/-/east`);
  const r = stubOf<ReplicaCalls>(stub);
  await r.start({ keyspace, shard: '-', region: 'east', primaryEngine: 'do-sqlite', engine: 'do-sqlite' });
  /** Cuts the replica off: its primary stops pushing, and fails its pulls and subscriptions. */
  const cut = async () => {
    await reachable(keyspace, false);
    await t.unsubscribe(`replica:${keyspace}/-/east`);
  };
  return { keyspace, t, r, stub, cut, heal: () => reachable(keyspace, true) };
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const count = async (r: Replica, maxLagMs: number): Promise<number | string> =>
  r.read('SELECT count(*) AS n FROM s', [], { maxLagMs }).then(
    (x) => Number(x.rows[0]!.n),
    (e) => asVitessError(e).code,
  );

describe('replica staleness bound', () => {
  it('a replica cut off from its primary refuses bounded reads once its data may be older, though it knows of nothing newer', async () => {
    const { t, r, cut, heal } = await setup();
    expect(await r.waitFor(1, 30_000)).toBe(1);
    await expect.poll(() => count(r, 1_000), { timeout: 10_000, interval: 50 }).toBe(0);
    await cut();
    await t.query('do-sqlite', 'INSERT INTO s VALUES (1)'); // the replica cannot know
    await sleep(700);
    expect(await count(r, 500)).toBe('UNAVAILABLE');
    expect(await count(r, 60_000)).toBe(0); // within a looser bound it still serves what it has
    const s = await r.status();
    expect(s.stalenessMs).toBeGreaterThanOrEqual(700);
    await heal();
    await expect.poll(() => count(r, 500), { timeout: 15_000, interval: 100 }).toBe(1);
  }, 60_000);

  it('after a restart it claims no freshness until it has heard from its primary', async () => {
    const { t, r, stub, cut, heal } = await setup();
    expect(await r.waitFor(1, 30_000)).toBe(1);
    await cut();
    await evictDurableObject(stub);
    await t.query('do-sqlite', 'INSERT INTO s VALUES (1)');
    expect(await count(r, 60_000)).toBe('UNAVAILABLE');
    expect(await r.status()).toMatchObject({ appliedLsn: 1, stalenessMs: null });
    await heal();
    await expect.poll(() => count(r, 60_000), { timeout: 15_000, interval: 100 }).toBe(1);
    expect((await r.status()).stalenessMs).toBeLessThan(60_000);
  }, 60_000);

  it('after a copy, its data is as fresh as the copy, and ages from there when the primary is unreachable', async () => {
    const { keyspace, t, r } = await setup({ cut: true }); // the copy works; following does not
    await expect.poll(async () => (await r.status()).state, { timeout: 30_000, interval: 50 }).not.toBe('bootstrapping');
    expect(await count(r, 60_000)).toBe(0); // the copy confirmed the primary's LSN
    const { lsn } = await t.query('do-sqlite', 'INSERT INTO s VALUES (1)');
    expect(await r.waitFor(lsn, 10)).toBe(lsn - 1); // it now knows the primary is further
    await sleep(700);
    expect(await count(r, 500)).toBe('UNAVAILABLE');
    expect((await r.status()).lagRecords).toBe(1);
    expect((await r.status()).lagMs).toBeGreaterThanOrEqual(500);
    await reachable(keyspace, true);
  }, 60_000);

  it('a healthy replica keeps serving bounded reads without a round trip per read', async () => {
    const { keyspace, r } = await setup();
    expect(await r.waitFor(1, 30_000)).toBe(1);
    await expect.poll(() => count(r, 1_000), { timeout: 10_000, interval: 50 }).toBe(0);
    await reachable(keyspace, true); // counts its pulls
    const got: (number | string)[] = [];
    for (let i = 0; i < 30; i++) {
      got.push(await count(r, 1_000));
      await sleep(100);
    }
    expect(got.filter((x) => x !== 0)).toEqual([]);
    // ~3 s of reads: a confirmation each half bound (500 ms) and the alarm's, not one per read.
    expect(await pulls(keyspace)).toBeLessThanOrEqual(12);
  }, 60_000);
});
