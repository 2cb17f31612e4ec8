// The coordinator's pure logic (router/txn/coordinator.ts) and the waits-for graph
// (router/txn/coordinator-locks.ts): what recovery does with a record in every state a crash can
// leave, that a decision never changes once written, and that a wait closing a cycle is refused.
// Then the coordinator DO's I/O (router/txn/coordinator-do.ts) against scripted participants that fail,
// and DDL intents: the first shard decides, every other shard applies an intent once, recovery
// finishes what a crash or an unreachable shard left.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  acknowledge,
  DDL_RESEND_MAX_MS,
  ddlApplied,
  ddlWakeAt,
  decide,
  enlist,
  newDdlIntent,
  newRecord,
  nextAction,
  nextDdlStep,
  partitionOf,
  RESEND_MS,
  RETRY_DELAYS_MS,
  unacked,
  wakeAt,
  type TxRecord,
} from '../../router/txn/coordinator.js';
import { VTCoordinator } from '../../router/txn/coordinator-do.js';
import { WaitsForGraph } from '../../router/txn/coordinator-locks.js';
import { ShardTransaction } from '../../router/txn/shard-transaction.js';
import type { Topology } from '../../router/topology.js';
import type { TxDriver, TxReply } from '../../primary/interactive.js';
import type { DdlOutcome, TxOutcome } from '../../primary/tablet.js';

// The DO base class only keeps ctx and env; the harness below supplies both.
vi.mock('cloudflare:workers', () => ({
  DurableObject: class {
    constructor(
      readonly ctx: unknown,
      readonly env: unknown,
    ) {}
  },
  RpcTarget: class {},
}));

const P = ['main/-40', 'main/40-80', 'main/80-c0'];
const T0 = 1_000_000;
const rec = (): TxRecord => newRecord('tx', P, T0, 5_000, 15_000);

describe('coordinator records', () => {
  it('needs two or more distinct participants', () => {
    expect(() => newRecord('tx', ['main/-40'], T0, 1, 1)).toThrow(/two or more/);
    expect(() => newRecord('tx', ['main/-40', 'main/-40'], T0, 1, 1)).toThrow(/distinct/);
  });

  it('an undecided transaction waits until its deadline, then is rolled back (presumed abort)', () => {
    expect(nextAction(rec(), T0 + 4_999)).toEqual({ kind: 'wait', until: T0 + 5_000 });
    expect(nextAction(rec(), T0 + 5_000)).toEqual({ kind: 'rollback' });
    expect(wakeAt(rec(), T0)).toBe(T0 + 5_000);
  });

  it('a participant joins an undecided transaction once, and never a decided one', () => {
    const joined = enlist(rec(), 'other/-');
    expect(joined?.participants).toEqual([...rec().participants, 'other/-']);
    expect(enlist(joined!, 'other/-')).toBe(joined);
    expect(enlist(decide(rec(), 'rollback'), 'other/-')).toBeUndefined();
  });

  it('the first decision wins and never changes', () => {
    const committed = decide(rec(), 'commit');
    expect(committed.decision).toBe('commit');
    expect(decide(committed, 'rollback')).toBe(committed);
    expect(decide(decide(rec(), 'rollback'), 'commit').decision).toBe('rollback');
  });

  it('a decision is sent to every participant that has not acknowledged it, until all have', () => {
    let r = decide(rec(), 'commit');
    expect(nextAction(r, T0)).toEqual({ kind: 'send', decision: 'commit', to: P });
    r = acknowledge(r, P[1]!);
    expect(nextAction(r, T0)).toEqual({ kind: 'send', decision: 'commit', to: [P[0], P[2]] });
    expect(wakeAt(r, T0)).toBe(T0 + RESEND_MS);
    r = acknowledge(acknowledge(r, P[0]!), P[2]!);
    expect(acknowledge(r, P[2]!)).toBe(r);
    expect(nextAction(r, T0)).toEqual({ kind: 'forget' });
  });

  it('a rollback is kept past every participant deadline and swept once more before it is forgotten', () => {
    let r = decide(rec(), 'rollback');
    for (const p of P) r = acknowledge(r, p);
    expect(nextAction(r, T0 + 5_000)).toEqual({ kind: 'wait', until: r.forgetAt });
    expect(r.forgetAt).toBeGreaterThan(T0 + 15_000);
    expect(nextAction(r, r.forgetAt)).toEqual({ kind: 'sweep', to: P });
  });

  it('recovery never leaves a record in doubt: from any state, following the actions ends with the record forgotten and one decision told to all', () => {
    // A random interleaving of VTGate's decision, acknowledgements that get through or not, and alarms at random times.
    fc.assert(
      fc.property(
        fc.option(fc.constantFrom<'commit' | 'rollback'>('commit', 'rollback'), { nil: undefined }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
        (vtgate, delivered) => {
          let r: TxRecord = vtgate ? decide(rec(), vtgate) : rec();
          const first = r.decision;
          let now = T0;
          const told = new Map<string, string>();
          for (let i = 0; i < 200; i++) {
            const a = nextAction(r, now);
            if (a.kind === 'forget' || a.kind === 'sweep') break;
            if (a.kind === 'wait') {
              now = a.until;
              continue;
            }
            if (a.kind === 'rollback') {
              r = decide(r, 'rollback');
              continue;
            }
            for (const p of a.to) {
              told.set(p, a.decision);
              if (delivered[i % delivered.length] || i > 50) r = acknowledge(r, p);
            }
            now = wakeAt(r, now);
          }
          expect(['forget', 'sweep']).toContain(nextAction(r, now).kind);
          expect(unacked(r)).toEqual([]);
          if (first) expect(r.decision).toBe(first);
          expect(new Set(told.values())).toEqual(new Set([r.decision]));
          expect(told.size).toBe(P.length);
        },
      ),
    );
  });

  it('spreads transactions over the partitions', () => {
    const seen = new Set(Array.from({ length: 400 }, () => partitionOf(crypto.randomUUID(), 16)));
    expect(seen.size).toBe(16);
  });
});

describe('waits-for graph', () => {
  it('refuses the wait that closes a cycle, and only that one', () => {
    const g = new WaitsForGraph();
    expect(g.wait('t1', ['a'], 'b', T0 + 10_000, T0)).toBeUndefined();
    expect(g.wait('t2', ['b'], 'a', T0 + 10_000, T0)).toEqual(['t2', 't1']);
    g.release('t2');
    expect(g.wait('t3', ['b'], 'c', T0 + 10_000, T0)).toBeUndefined();
  });

  it('finds longer cycles, and lets waits outside a cycle through', () => {
    const g = new WaitsForGraph();
    expect(g.wait('t1', ['a'], 'b', T0 + 10_000, T0)).toBeUndefined();
    expect(g.wait('t2', ['b'], 'c', T0 + 10_000, T0)).toBeUndefined();
    expect(g.wait('t4', ['d'], 'a', T0 + 10_000, T0)).toBeUndefined();
    expect(g.wait('t3', ['c'], 'a', T0 + 10_000, T0)).toEqual(['t3', 't1', 't2']);
  });

  it('forgets transactions whose VTGate never released them', () => {
    const g = new WaitsForGraph();
    g.wait('t1', ['a'], 'b', T0 + 10, T0);
    expect(g.wait('t2', ['b'], 'a', T0 + 10_000, T0 + 20)).toBeUndefined();
    expect(g.size).toBe(1);
  });
});

/** The coordinator's storage: its one table as a map (any other statement fails the test), and its alarm. */
class FakeStorage {
  readonly rows = new Map<string, string>();
  /** `_vt_ddl_intents`, in rowid order (a Map keeps a key's place when it is set again). */
  readonly intents = new Map<string, string>();
  alarm: number | null = null;
  readonly sql = {
    exec: (query: string, ...args: unknown[]): Record<string, unknown>[] => {
      const q = query.replace(/\s+/g, ' ').trim();
      if (q.startsWith('CREATE TABLE IF NOT EXISTS _vt_2pc') || q.startsWith('CREATE TABLE IF NOT EXISTS _vt_ddl_intents')) return [];
      if (q === 'SELECT record FROM _vt_ddl_intents ORDER BY rowid') return [...this.intents.values()].map((record) => ({ record }));
      if (q === 'SELECT record FROM _vt_ddl_intents WHERE id = ?')
        return this.intents.has(String(args[0])) ? [{ record: this.intents.get(String(args[0])) }] : [];
      if (q.startsWith('INSERT INTO _vt_ddl_intents')) {
        this.intents.set(String(args[0]), String(args[1]));
        return [];
      }
      if (q === 'DELETE FROM _vt_ddl_intents WHERE id = ?') {
        this.intents.delete(String(args[0]));
        return [];
      }
      if (q === 'SELECT record FROM _vt_2pc WHERE txid = ?') return this.rows.has(String(args[0])) ? [{ record: this.rows.get(String(args[0])) }] : [];
      if (q === 'SELECT record FROM _vt_2pc') return [...this.rows.values()].map((record) => ({ record }));
      if (q.startsWith('INSERT OR REPLACE INTO _vt_2pc')) {
        this.rows.set(String(args[0]), String(args[1]));
        return [];
      }
      if (q === 'DELETE FROM _vt_2pc WHERE txid = ?') {
        this.rows.delete(String(args[0]));
        return [];
      }
      throw new Error(`the harness does not know this statement: ${q}`);
    },
  };

  async sync(): Promise<void> {}
  async setAlarm(at: number): Promise<void> {
    this.alarm = at;
  }
  async deleteAlarm(): Promise<void> {
    this.alarm = null;
  }
}

/**
 * A participant whose next `failures` calls fail (as an unreachable or overloaded tablet does);
 * `lost`: it has no trace of the transaction (its prepared state was lost), as a tablet answers then.
 */
class FakeShard {
  failures = 0;
  calls = 0;
  lost = false;
  state: 'prepared' | 'committed' | 'rolled back' = 'prepared';
  /** How each transaction VTGate ran here ended. */
  readonly ends: string[] = [];
  constructor(readonly lsn: number) {}

  private answer(outcome: 'committed' | 'rolled back'): TxOutcome {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('[UNAVAILABLE] the tablet did not answer');
    }
    if (this.lost && outcome === 'committed') throw new Error('[NOT_FOUND] transaction tx is not prepared on this shard');
    this.state = outcome;
    return { outcome, lsn: this.lsn };
  }

  async commitPrepared(): Promise<TxOutcome> {
    return this.answer('committed');
  }
  async rollbackPrepared(): Promise<TxOutcome> {
    return this.answer('rolled back');
  }

  /** DDL intents this shard applied (each once), and how `applyDdl` answers next. */
  readonly ddlApplied = new Map<string, number>();
  /** `refuse`: the next DDL is refused (a user error); `lose`: applied, then the answer is lost. */
  ddlNext: 'apply' | 'refuse' | 'lose' = 'apply';
  readonly ddlCalls: string[] = [];

  async applyDdl(_kind: string, id: string, statements: string[]): Promise<DdlOutcome> {
    this.ddlCalls.push(id);
    if (this.failures > 0) {
      this.failures--;
      throw new Error('[UNAVAILABLE] the tablet did not answer');
    }
    if (this.ddlApplied.has(id)) return { outcome: 'already applied', lsn: this.lsn };
    if (this.ddlNext === 'refuse') return { outcome: 'refused', error: { code: 'SYNTAX', message: `cannot run ${statements[0]}`, details: {} } };
    this.ddlApplied.set(id, this.lsn);
    if (this.ddlNext === 'lose') throw new Error('[UNAVAILABLE] the answer was lost');
    return { outcome: 'applied', lsn: this.lsn };
  }

  /** VTGate's side of the shard: every statement succeeds; the transaction ends as the driver says. */
  async transaction(_kind: string, _txid: string, driver: TxDriver): Promise<TxOutcome> {
    for (let reply: TxReply = null; ; ) {
      const step = await driver.next(reply);
      if ('end' in step) this.ends.push(step.end);
      if ('end' in step) return { outcome: step.end === 'prepare' ? 'prepared' : step.end === 'commit' ? 'committed' : 'rolled back', lsn: this.lsn };
      reply = { result: { rows: [], fields: [], affected: 1 } };
    }
  }
}

function harness(names = ['main/-80', 'main/80-']) {
  const storage = new FakeStorage();
  const shards = new Map(names.map((n, i) => [n, new FakeShard(10 + i)]));
  const env = { TABLET: { getByName: (n: string) => shards.get(n) } };
  const coordinator = new VTCoordinator({ storage } as unknown as DurableObjectState, env as never);
  const begin = async (txid = crypto.randomUUID()) => {
    await coordinator.begin(txid, names, { decideWithinMs: 5_000, participantTimeoutMs: 15_000 });
    return txid;
  };
  // VTGate's view of the same shards and this coordinator (one keyspace, no deadlocks).
  const topology = {
    keyspace: () => ({ engine: 'sqlite' }),
    tablet: (ks: string, shard: string) => shards.get(`${ks}/${shard}`),
    coordinator: () => coordinator,
    locks: () => ({ waitFor: async () => null, release: async () => undefined }),
    layoutVersion: () => 1,
  } as unknown as Topology;
  return { storage, shards, coordinator, begin, topology, shard: (n: string) => shards.get(n)! };
}

describe('coordinator I/O under participant failures', () => {
  it('a commit is answered once decided, before any participant hears it; each is told right after, and one that fails is asked again', async () => {
    const h = harness();
    const txid = await h.begin();
    h.shard('main/80-').failures = 2;
    const out = await h.coordinator.commit(txid);
    expect(out).toEqual({ outcome: 'committed', lsns: {}, pending: ['main/-80', 'main/80-'], lost: [] });
    // Recovery's resend is set with the decision, should the delivery be cut short.
    expect(h.storage.alarm!).toBeLessThanOrEqual(Date.now() + RESEND_MS);
    await vi.waitFor(() => expect([...h.shards.values()].map((s) => s.state)).toEqual(['committed', 'committed']));
    await vi.waitFor(() => expect(h.storage.alarm).toBeNull());
    expect(h.coordinator.list()).toEqual([]);
    expect(h.shard('main/80-').calls).toBe(3);
  });

  it('a participant that keeps failing after the answer: the resend is due within a second and applies it', async () => {
    const h = harness();
    const txid = await h.begin();
    h.shard('main/80-').failures = 1_000;
    const asked = Date.now();
    expect((await h.coordinator.commit(txid)).outcome).toBe('committed');
    // The delivery retries a bounded number of times, then leaves the shard to recovery.
    await vi.waitFor(() => expect(h.shard('main/-80').state).toBe('committed'));
    await vi.waitFor(() => expect(h.shard('main/80-').calls).toBe(1 + RETRY_DELAYS_MS.length));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.shard('main/80-').calls).toBe(1 + RETRY_DELAYS_MS.length);
    expect(h.coordinator.list().map((r) => unacked(r))).toEqual([['main/80-']]);
    expect(h.storage.alarm).not.toBeNull();
    expect(h.storage.alarm!).toBeLessThanOrEqual(Date.now() + RESEND_MS);
    expect(h.storage.alarm!).toBeGreaterThanOrEqual(asked);
    // The same answer again while it is still not applied (VTGate asking twice).
    expect(await h.coordinator.commit(txid)).toMatchObject({ outcome: 'committed', pending: ['main/80-'] });

    h.shard('main/80-').failures = 0;
    await h.coordinator.alarm();
    expect(h.shard('main/80-').state).toBe('committed');
    expect(h.coordinator.list()).toEqual([]);
    expect(h.storage.alarm).toBeNull();
    expect(h.coordinator.stats()).toMatchObject({ committed: 1, resent: 1 });
  });

  it("VTGate acknowledges a decided commit with each participant's commit LSN from its prepare; one that does not answer gets it from recovery", async () => {
    const h = harness();
    const tx = new ShardTransaction(h.topology);
    await tx.execute('main', '-80', 'UPDATE t SET n = n - 1 WHERE id = 1', []);
    await tx.execute('main', '80-', 'UPDATE t SET n = n + 1 WHERE id = 2', []);
    h.shard('main/80-').failures = 1_000;
    expect(await tx.commit()).toEqual([
      { keyspace: 'main', shard: '-80', lsn: 10 },
      { keyspace: 'main', shard: '80-', lsn: 11 },
    ]);
    await vi.waitFor(() => expect(h.shard('main/-80').state).toBe('committed'));
    expect(h.shard('main/80-').state).toBe('prepared');
    // Once the shard answers, recovery applies it.
    h.shard('main/80-').failures = 0;
    await h.coordinator.alarm();
    expect([...h.shards.values()].map((s) => s.state)).toEqual(['committed', 'committed']);
  });

  it('VTGate records every shard its transaction reaches before any prepares, and the commit reaches all of them', async () => {
    const h = harness(['main/-40', 'main/40-80', 'main/80-']);
    const tx = new ShardTransaction(h.topology);
    await tx.execute('main', '-40', 'UPDATE t SET n = n - 2 WHERE id = 1', []);
    expect(h.coordinator.list()).toEqual([]); // one shard: no coordinator
    await tx.execute('main', '40-80', 'UPDATE t SET n = n + 1 WHERE id = 2', []);
    await tx.execute('main', '80-', 'UPDATE t SET n = n + 1 WHERE id = 3', []);
    await vi.waitFor(() => expect(h.coordinator.list()[0]?.participants).toEqual(['main/-40', 'main/40-80', 'main/80-']));
    expect(h.coordinator.list()[0]!.decision).toBeNull();
    expect((await tx.commit()).map((r) => r.shard)).toEqual(['-40', '40-80', '80-']);
    expect([...h.shards.values()].map((s) => s.state)).toEqual(['committed', 'committed', 'committed']);
  });

  it('a transaction rolled back after reaching two shards has its record dropped at once, with no call to any shard', async () => {
    const h = harness();
    const tx = new ShardTransaction(h.topology);
    await tx.execute('main', '-80', 'UPDATE t SET n = n - 1 WHERE id = 1', []);
    await tx.execute('main', '80-', 'UPDATE t SET n = n + 1 WHERE id = 2', []);
    await vi.waitFor(() => expect(h.coordinator.list()).toHaveLength(1));
    await tx.rollback();
    await vi.waitFor(() => expect(h.coordinator.list()).toEqual([]));
    expect([...h.shards.values()].map((s) => s.calls)).toEqual([0, 0]);
    // A decided record is not abandoned.
    const txid = await h.begin();
    await h.coordinator.rollback(txid);
    h.coordinator.abandon(txid);
    expect(h.coordinator.list().map((r) => r.decision)).toEqual(['rollback']);
  });

  it('a shard joining after the coordinator rolled the transaction back fails the commit, and nothing prepares', async () => {
    const h = harness(['main/-40', 'main/40-80', 'main/80-']);
    const tx = new ShardTransaction(h.topology);
    await tx.execute('main', '-40', 'UPDATE t SET n = n - 2 WHERE id = 1', []);
    await tx.execute('main', '40-80', 'UPDATE t SET n = n + 1 WHERE id = 2', []);
    await vi.waitFor(() => expect(h.coordinator.list()).toHaveLength(1));
    await h.coordinator.rollback(tx.txid); // as its alarm would, past the decision deadline
    await tx.execute('main', '80-', 'UPDATE t SET n = n + 1 WHERE id = 3', []);
    await expect(tx.commit()).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect([...h.shards.values()].map((s) => s.ends)).toEqual([['rollback'], ['rollback'], ['rollback']]);
  });

  it('a rollback a participant does not take is answered (nothing was applied anywhere) and resent within a second', async () => {
    const h = harness();
    const txid = await h.begin();
    h.shard('main/-80').failures = 1_000;
    const out = await h.coordinator.rollback(txid);
    expect(out).toEqual({ outcome: 'rolled back', lsns: { 'main/80-': 11 }, pending: ['main/-80'], lost: [] });
    expect(h.storage.alarm!).toBeLessThanOrEqual(Date.now() + RESEND_MS);
    h.shard('main/-80').failures = 0;
    await h.coordinator.alarm();
    expect(h.shard('main/-80').state).toBe('rolled back');
    expect(h.coordinator.list().map((r) => unacked(r))).toEqual([[]]); // kept for the final sweep
  });

  it('a commit after the coordinator rolled back (presumed abort) gets the rollback, and a commitPrepared is never sent', async () => {
    const h = harness();
    const txid = await h.begin();
    const rec = h.coordinator.list()[0]!;
    h.storage.rows.set(txid, JSON.stringify({ ...rec, decideBy: Date.now() - 1 }));
    await h.coordinator.alarm();
    expect(h.coordinator.stats()).toMatchObject({ presumedAbort: 1 });
    expect((await h.coordinator.commit(txid)).outcome).toBe('rolled back');
    expect([...h.shards.values()].map((s) => s.state)).toEqual(['rolled back', 'rolled back']);
  });

  it('a participant that answers NOT_FOUND to a commit (its prepared state lost) is not counted as applied: the commit stays pending, counted as lost, and is resent', async () => {
    const h = harness();
    const txid = await h.begin();
    h.shard('main/80-').lost = true;
    expect((await h.coordinator.commit(txid)).outcome).toBe('committed');
    await vi.waitFor(() => expect(h.shard('main/80-').calls).toBe(1 + RETRY_DELAYS_MS.length));
    await vi.waitFor(() => expect(h.coordinator.stats().lost).toBe(1 + RETRY_DELAYS_MS.length)); // every NOT_FOUND answer counts, retries included
    expect(h.coordinator.list().map((r) => unacked(r))).toEqual([['main/80-']]);
    const lost = h.coordinator.stats().lost;
    expect(h.storage.alarm!).toBeLessThanOrEqual(Date.now() + RESEND_MS);
    await h.coordinator.alarm();
    expect(h.coordinator.list().map((r) => unacked(r))).toEqual([['main/80-']]); // still in doubt, for an operator
    expect(h.coordinator.stats()).toMatchObject({ lost: lost + 1, resent: 1 });
    expect(h.storage.alarm!).toBeLessThanOrEqual(Date.now() + RESEND_MS);
  });

  it("recovery's own rollback and its final sweep, to a participant that fails: each is tried again on the next alarm", async () => {
    const h = harness();
    const txid = await h.begin();
    const rec = h.coordinator.list()[0]!;
    h.storage.rows.set(txid, JSON.stringify({ ...rec, decideBy: Date.now() - 1 }));
    h.shard('main/80-').failures = 1;
    await h.coordinator.alarm(); // presumed abort: main/80- does not take it
    expect(h.coordinator.list().map((r) => unacked(r))).toEqual([['main/80-']]);
    expect(h.storage.alarm!).toBeLessThanOrEqual(Date.now() + RESEND_MS);
    await h.coordinator.alarm();
    expect(h.shard('main/80-').state).toBe('rolled back');
    // The final sweep fails once: the record is kept and swept again.
    h.storage.rows.set(txid, JSON.stringify({ ...h.coordinator.list()[0]!, forgetAt: Date.now() - 1 }));
    h.shard('main/-80').failures = 1;
    await h.coordinator.alarm();
    expect(h.coordinator.list()).toHaveLength(1);
    expect(h.storage.alarm!).toBeLessThanOrEqual(Date.now() + RESEND_MS);
    await h.coordinator.alarm();
    expect(h.coordinator.list()).toEqual([]);
    expect(h.storage.alarm).toBeNull();
  });
});

describe('DDL intents', () => {
  const SHARDS = ['-40', '40-80', '80-'];
  const intent = () => newDdlIntent('d1', 'main', 'do-sqlite', ['ALTER TABLE t ADD COLUMN c TEXT'], SHARDS);

  it('the first shard decides; then every shard that has not applied it; then done', () => {
    expect(() => newDdlIntent('d', 'main', 'do-sqlite', ['x'], ['-80'])).toThrow(/two or more/);
    let i = intent();
    expect(nextDdlStep(i)).toEqual({ kind: 'decide', shard: '-40' });
    // A shard other than the first that applied (a resend's answer) does not skip the decision.
    i = ddlApplied(i, '80-');
    expect(nextDdlStep(i)).toEqual({ kind: 'decide', shard: '-40' });
    i = ddlApplied(i, '-40');
    expect(nextDdlStep(i)).toEqual({ kind: 'apply', to: ['40-80'] });
    expect(ddlApplied(i, '-40')).toBe(i);
    expect(nextDdlStep(ddlApplied({ ...i, refusals: { '40-80': 'x' } }, '40-80'))).toEqual({ kind: 'done' });
    expect(ddlApplied({ ...i, refusals: { '40-80': 'x' } }, '40-80').refusals).toEqual({});
  });

  it('recovery backs off from a second to at most a minute', () => {
    expect(ddlWakeAt(intent(), T0)).toBe(T0 + RESEND_MS);
    expect(ddlWakeAt({ ...intent(), resends: 3 }, T0)).toBe(T0 + 8 * RESEND_MS);
    expect(ddlWakeAt({ ...intent(), resends: 500 }, T0)).toBe(T0 + DDL_RESEND_MAX_MS);
  });

  const ddlHarness = () => {
    const h = harness(SHARDS.map((s) => `main/${s}`));
    const req = (id: string = crypto.randomUUID(), sql = 'ALTER TABLE t ADD COLUMN c TEXT') => ({
      id,
      keyspace: 'main',
      engine: 'do-sqlite' as const,
      statements: [sql],
      shards: SHARDS,
    });
    const applied = () => [...h.shards.values()].map((s) => s.ddlApplied.size);
    return { ...h, req, applied };
  };

  it('applies on every shard, the first one before the others, and forgets the intent', async () => {
    const h = ddlHarness();
    const order: string[] = [];
    for (const [name, s] of h.shards) {
      const apply = s.applyDdl.bind(s);
      s.applyDdl = async (...a) => {
        order.push(name);
        return apply(...a);
      };
    }
    expect(await h.coordinator.ddl(h.req())).toEqual({ outcome: 'applied', lsns: { '-40': 10, '40-80': 11, '80-': 12 }, pending: [] });
    expect(order[0]).toBe('main/-40');
    expect(h.applied()).toEqual([1, 1, 1]);
    expect(h.coordinator.ddlIntents()).toEqual([]);
    expect(h.storage.alarm).toBeNull();
  });

  it('refused by the first shard: the refusal is the answer, no other shard is asked, the intent is dropped', async () => {
    const h = ddlHarness();
    h.shard('main/-40').ddlNext = 'refuse';
    const out = await h.coordinator.ddl(h.req());
    expect(out).toMatchObject({ outcome: 'refused', pending: [], error: { code: 'SYNTAX' } });
    expect(h.shard('main/40-80').ddlCalls).toEqual([]);
    expect(h.coordinator.ddlIntents()).toEqual([]);
    expect(h.storage.alarm).toBeNull();
  });

  it('a shard that does not answer: pending, named; recovery resends it until applied, each shard applying it once (a lost answer included)', async () => {
    const h = ddlHarness();
    h.shard('main/40-80').ddlNext = 'lose'; // applies, but the answer is lost: the retry hears "already applied"
    h.shard('main/80-').failures = 1_000;
    const out = await h.coordinator.ddl(h.req('d1'));
    expect(out).toMatchObject({ outcome: 'pending', lsns: { '-40': 10, '40-80': 11 }, pending: ['80-'], error: { code: 'UNAVAILABLE' } });
    expect(h.shard('main/40-80').ddlCalls).toEqual(['d1', 'd1']);
    expect(h.coordinator.ddlIntents().map((i) => i.applied)).toEqual([['-40', '40-80']]);
    expect(h.storage.alarm).not.toBeNull();
    expect(h.storage.alarm!).toBeLessThanOrEqual(Date.now() + RESEND_MS);
    // A new statement on the keyspace waits its turn: refused while the earlier one is pending.
    await expect(h.coordinator.ddl(h.req('d2', 'CREATE TABLE u (id INT PRIMARY KEY)'))).rejects.toThrow(/\[UNAVAILABLE\] an earlier DDL statement.*80-/);
    expect(h.shard('main/-40').ddlApplied.has('d2')).toBe(false);
    await h.coordinator.alarm();
    expect(h.coordinator.ddlIntents().map((i) => [i.applied, i.resends])).toEqual([[['-40', '40-80'], 1]]);
    expect(h.shard('main/40-80').ddlCalls).toHaveLength(2); // recovery sends only to the shards that have not applied it
    h.shard('main/80-').failures = 0;
    await h.coordinator.alarm();
    expect(h.coordinator.ddlIntents()).toEqual([]);
    expect(h.applied()).toEqual([1, 1, 1]);
    expect(h.storage.alarm).toBeNull();
    expect((await h.coordinator.ddl(h.req('d2', 'CREATE TABLE u (id INT PRIMARY KEY)'))).outcome).toBe('applied');
  });

  it('the first shard did not answer: recovery asks it again; its refusal then drops the intent, and no shard ever has it', async () => {
    const h = ddlHarness();
    h.shard('main/-40').failures = 1_000;
    const out = await h.coordinator.ddl(h.req('d1'));
    expect(out).toMatchObject({ outcome: 'pending', lsns: {}, pending: SHARDS });
    h.shard('main/-40').failures = 0;
    h.shard('main/-40').ddlNext = 'refuse';
    await h.coordinator.alarm();
    expect(h.coordinator.ddlIntents()).toEqual([]);
    expect(h.applied()).toEqual([0, 0, 0]);
    expect(h.shard('main/80-').ddlCalls).toEqual([]);
    expect(h.storage.alarm).toBeNull();
  });

  it('VTGate gone after the intent was recorded (nothing sent): recovery applies it on every shard', async () => {
    const h = ddlHarness();
    h.storage.intents.set('d1', JSON.stringify(intent()));
    await h.coordinator.alarm();
    expect(h.coordinator.ddlIntents()).toEqual([]);
    expect(h.applied()).toEqual([1, 1, 1]);
  });
});
