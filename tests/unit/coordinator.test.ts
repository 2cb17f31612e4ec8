// The coordinator's pure logic (router/coordinator.ts) and the waits-for graph
// (router/coordinator-locks.ts): what recovery does with a record in every state a crash can
// leave, that a decision never changes once written, and that a wait closing a cycle is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acknowledge, decide, newRecord, nextAction, partitionOf, RESEND_MS, unacked, wakeAt, type TxRecord } from '../../router/coordinator.js';
import { WaitsForGraph } from '../../router/coordinator-locks.js';

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
    fc.assert(fc.property(
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
          if (a.kind === 'wait') { now = a.until; continue; }
          if (a.kind === 'rollback') { r = decide(r, 'rollback'); continue; }
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
    ));
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
