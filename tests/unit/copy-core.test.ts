/**
 * The copy core (replica/copy-core.ts) against an in-memory primary of several shards whose
 * tables, rows, DDL, trim point and failures change at random between any two of the copy's
 * calls, copied into an in-memory replica that checks, at every load and apply, the core's
 * invariant: what it holds of a shard is a subset of that shard's state at one LSN, a page goes
 * in at exactly the LSN the shard's log was applied through, log records arrive once each and in
 * order. Then:
 * - the copy restarts exactly when the source gave a reason (DDL met while catching up, the log
 *   trimmed past the copy or ending short of a page, a table gone), gives up with UNAVAILABLE
 *   after `tries`, and fails at once on any other error;
 * - a finished copy holds every shard's state at the LSNs it returns: no row lost, none stale,
 *   none left over;
 * - a copy crashed at any step, reopened (`resumeAt` on the stored progress: resume or copy
 *   again) and then following the log, ends with the primary's rows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TableInfo } from '../../engines/engine.js';
import {
  type CopyPage,
  type CopyProgress,
  copyAtLsn,
  type LogStep,
  logTrimmed,
  type PageSource,
  type RowSink,
  resumeAt,
  type StoredProgress,
} from '../../replica/copy-core.js';
import { asVitessError, encodeError, VitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';

type Change = { table: string; key: number; value: number | null } | { ddl: 'create' | 'drop'; table: string };
/** `seq` orders records across shards (a DDL commits on every shard at once, consecutively). */
interface Rec {
  lsn: number;
  seq: number;
  changes: Change[];
}
/** table → key → value */
type Rows = Map<string, Map<number, number>>;
type Page = CopyPage & { table: string; rows: [number, number][] };

const FIRST_TABLES = ['a', 'b'];
const MORE_TABLES = ['c', 'd', 'e'];

function applyChanges(rows: Rows, changes: Change[]): void {
  for (const c of changes) {
    if ('ddl' in c) {
      if (c.ddl === 'create') rows.set(c.table, rows.get(c.table) ?? new Map());
      else rows.delete(c.table);
    } else {
      const t = rows.get(c.table)!;
      if (c.value === null) t.delete(c.key);
      else t.set(c.key, c.value);
    }
  }
}

class Shard {
  readonly log: Rec[] = [];
  /** Records through this LSN are gone from the log. */
  trimmed = 0;
  constructor(readonly index: number) {}
  get lsn(): number {
    return this.log.length;
  }
  stateAt(lsn: number): Rows {
    const rows: Rows = new Map(FIRST_TABLES.map((t) => [t, new Map()]));
    for (const r of this.log.slice(0, lsn)) applyChanges(rows, r.changes);
    return rows;
  }
}

type Event =
  | { kind: 'write'; shard: number; key: number; value: number | null; table: number }
  | { kind: 'ddl'; drop: boolean; table: number }
  | { kind: 'trim'; shard: number }
  | { kind: 'fail' }
  | { kind: 'stall' }
  | { kind: 'none' };

const SHARDS = 3;
const KEYS = 8;

/**
 * The primary: before each call the copy makes (schema, page, log read) the next scripted event
 * happens. Records which reasons to restart (and which failures) it gave each copy attempt.
 */
class Primary {
  readonly shards = Array.from({ length: SHARDS }, (_, i) => new Shard(i));
  seq = 0;
  stalled = false;
  attempt = 0;
  readonly restartReasons: number[] = [0];
  readonly failures: number[] = [0];
  constructor(private readonly script: Event[]) {}

  shard(name: string): Shard {
    return this.shards[Number(name.slice(1))]!;
  }
  tables(): string[] {
    return [...this.shards[0]!.stateAt(this.shards[0]!.lsn).keys()];
  }
  commit(shard: Shard, changes: Change[]): void {
    shard.log.push({ lsn: shard.lsn + 1, seq: ++this.seq, changes });
  }
  /** A reason to restart was given to the current attempt. */
  reason(): void {
    this.restartReasons[this.attempt]!++;
  }
  tick(): void {
    const e = this.script.shift() ?? { kind: 'none' };
    const tables = this.tables();
    switch (e.kind) {
      case 'write': {
        const shard = this.shards[e.shard]!;
        this.commit(shard, [{ table: tables[e.table % tables.length]!, key: e.shard + SHARDS * e.key, value: e.value }]);
        return;
      }
      case 'ddl': {
        const change: Change =
          e.drop && tables.length > 1
            ? { ddl: 'drop', table: tables[e.table % tables.length]! }
            : { ddl: 'create', table: MORE_TABLES.find((t) => !tables.includes(t)) ?? 'a' };
        for (const s of this.shards) this.commit(s, [change]);
        return;
      }
      case 'trim': {
        const shard = this.shards[e.shard]!;
        shard.trimmed = shard.lsn;
        return;
      }
      case 'fail':
        this.failures[this.attempt]!++;
        throw new VitessError('UNAVAILABLE', 'the primary failed (test)');
      case 'stall':
        this.stalled = true;
        return;
      case 'none':
        return;
    }
  }

  /** Where the copy's pages and log come from. The errors cross as they do over RPC (encoded). */
  source(pageRows: number): PageSource<Page, Rec[]> {
    return {
      page: async (name, table, afterKey: SqlValue[] | null) => {
        this.tick();
        const shard = this.shard(name);
        const rows = shard.stateAt(shard.lsn).get(table);
        if (!rows) {
          this.reason();
          throw encodeError(new VitessError('NOT_FOUND', `table "${table}" does not exist`, { table }));
        }
        const keys = [...rows.keys()]
          .filter((k) => afterKey === null || k > Number(afterKey[0]))
          .sort((a, b) => a - b)
          .slice(0, pageRows);
        return { table, lsn: shard.lsn, rows: keys.map((k) => [k, rows.get(k)!]), nextKey: keys.length === pageRows ? [keys.at(-1)!] : null };
      },
      log: (name, from, to) => {
        let pos = from;
        return async (): Promise<LogStep<Rec[]>> => {
          this.tick();
          const shard = this.shard(name);
          if (pos < shard.trimmed) {
            this.reason();
            throw encodeError(new VitessError('NOT_FOUND', `LSN ${pos + 1} is below the log's trim point`, { limit: 'log retention' }));
          }
          if (this.stalled) {
            this.stalled = false;
            this.reason();
            return { records: [], reached: pos, moved: false, ddl: false };
          }
          const records = shard.log.slice(pos, Math.min(to, pos + 2));
          const ddl = records.some((r) => r.changes.some((c) => 'ddl' in c));
          if (ddl) this.reason();
          if (records.length) pos = records.at(-1)!.lsn;
          return { records, reached: pos, moved: records.length > 0, ddl };
        };
      },
    };
  }

  /** Every shard's rows at `lsns` (now, when not given), merged as the replica holds them. */
  rowsAt(lsns?: Record<string, number>): Rows {
    const out: Rows = new Map();
    for (const s of this.shards) {
      for (const [t, rows] of s.stateAt(lsns?.[`s${s.index}`] ?? s.lsn)) {
        const into = out.get(t) ?? new Map<number, number>();
        out.set(t, into);
        for (const [k, v] of rows) into.set(k, v);
      }
    }
    return out;
  }
}

/** The replica: rows, progress and a crash at its n-th step survive as a database would. */
class Replica {
  rows: Rows = new Map();
  /** Per shard, the LSN its rows here are a subset of the primary's state at. */
  pos: Record<string, number> = {};
  readonly stored: StoredProgress = { lsns: {} };
  steps = 0;
  crashAt = Infinity;
  constructor(private readonly primary: Primary) {}

  #step(): void {
    if (++this.steps >= this.crashAt) throw new Error('crash');
  }

  /** What it holds of each shard is exactly what the shard held at `pos` for those keys. */
  #check(): void {
    for (const s of this.primary.shards) {
      const state = s.stateAt(this.pos[`s${s.index}`]!);
      for (const [t, rows] of this.rows) {
        for (const [k, v] of rows) {
          if (k % SHARDS !== s.index) continue;
          expect(state.get(t)?.get(k), `row ${t}/${k} of shard s${s.index} at LSN ${this.pos[`s${s.index}`]}`).toBe(v);
        }
      }
    }
  }

  sink(): RowSink<Page, Rec[]> {
    return {
      reset: async () => {
        this.#step();
        this.primary.tick();
        this.rows = new Map(this.primary.tables().map((t) => [t, new Map()]));
        this.pos = Object.fromEntries(this.primary.shards.map((s) => [`s${s.index}`, s.lsn]));
        const tables: TableInfo[] = [...this.rows.keys()].map((name) => ({ name, primaryKey: ['k'] }));
        return { tables, lsns: { ...this.pos } };
      },
      load: async (shard, table, page) => {
        this.#step();
        expect(page.lsn, `a page of ${table.name} loaded at the LSN shard ${shard} is at`).toBe(this.pos[shard]);
        const rows = this.rows.get(table.name)!;
        for (const [k, v] of page.rows) rows.set(k, v);
        this.#check();
      },
      apply: async (shard, step, lsns) => {
        this.#step();
        expect(step.ddl, 'a step with DDL applied').toBe(false);
        expect(lsns[shard], 'the position the catch-up started from').toBeLessThanOrEqual(this.pos[shard]!);
        expect(
          step.records.map((r) => r.lsn),
          `records of ${shard} after ${this.pos[shard]}`,
        ).toEqual(step.records.map((_, i) => this.pos[shard]! + 1 + i));
        for (const r of step.records) applyChanges(this.rows, r.changes);
        this.pos[shard] = step.reached;
        this.#check();
      },
    };
  }

  progress(): CopyProgress {
    return {
      copying: async () => {
        this.#step();
        this.primary.attempt++;
        this.primary.restartReasons.push(0);
        this.primary.failures.push(0);
        this.stored.phase = 'copying';
      },
      copied: async (lsns) => {
        this.#step();
        this.stored.phase = 'streaming';
        this.stored.lsns = { ...lsns };
      },
    };
  }

  /** Follows every shard's log after `lsns` to its end, in commit order; false if trimmed past. */
  follow(lsns: Record<string, number>): boolean {
    const records: Rec[] = [];
    for (const s of this.primary.shards) {
      const from = lsns[`s${s.index}`]!;
      if (from < s.trimmed) return false;
      records.push(...s.log.slice(from));
    }
    for (const r of records.sort((a, b) => a.seq - b.seq)) applyChanges(this.rows, r.changes);
    return true;
  }
}

const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      shard: fc.integer({ min: 0, max: SHARDS - 1 }),
      key: fc.integer({ min: 0, max: KEYS - 1 }),
      value: fc.option(fc.integer({ min: 0, max: 99 }), { nil: null }),
      table: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ddl' as const), drop: fc.boolean(), table: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('trim' as const), shard: fc.integer({ min: 0, max: SHARDS - 1 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'stall' as const }) },
);
const withFailures = fc.oneof({ weight: 30, arbitrary: event }, { weight: 1, arbitrary: fc.constant({ kind: 'fail' as const }) });

/** A primary with rows in every shard before the copy starts, then `script` as the copy runs. */
function primaryWith(script: Event[], initial: [number, number, number][]): Primary {
  const p = new Primary(script);
  for (const [shard, key, value] of initial) p.commit(p.shards[shard]!, [{ table: FIRST_TABLES[key % 2]!, key: shard + SHARDS * key, value }]);
  return p;
}
const initialRows = fc.array(fc.tuple(fc.integer({ min: 0, max: SHARDS - 1 }), fc.integer({ min: 0, max: KEYS - 1 }), fc.integer({ min: 0, max: 99 })), {
  maxLength: 30,
});

const TRIES = 3;
const copy = (p: Primary, r: Replica, pageRows: number) => copyAtLsn(p.source(pageRows), r.sink(), r.progress(), { tries: TRIES, what: 'keyspace "test"' });

describe('copy core', () => {
  it('restarts exactly when the source gives a reason; a finished copy holds every shard at the LSNs it returns', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(withFailures, { maxLength: 60 }), initialRows, fc.integer({ min: 1, max: 4 }), async (script, initial, pageRows) => {
        const p = primaryWith(script, initial);
        const r = new Replica(p);
        const result = await copy(p, r, pageRows).then(
          (lsns) => ({ lsns }),
          (e: unknown) => ({ error: e }),
        );
        const attempts = p.attempt;
        // Every attempt but the last was restarted, each for a reason the source gave.
        for (let i = 1; i < attempts; i++) expect(p.restartReasons[i], `attempt ${i} restarted without a reason`).toBeGreaterThan(0);
        expect(attempts).toBeLessThanOrEqual(TRIES);
        if ('lsns' in result) {
          expect(p.restartReasons[attempts], 'a reason to restart was ignored').toBe(0);
          expect(p.failures[attempts]).toBe(0);
          expect(result.lsns).toEqual(r.pos);
          expect(r.stored).toEqual({ phase: 'streaming', lsns: result.lsns });
          expect(r.rows).toEqual(p.rowsAt(result.lsns));
          return;
        }
        if (!(result.error instanceof VitessError)) throw result.error; // an invariant the replica checks
        expect(result.error.code).toBe('UNAVAILABLE');
        expect(r.stored.phase).toBe('copying');
        if (result.error.message.includes('restarted')) {
          expect(attempts).toBe(TRIES);
          expect(p.restartReasons[attempts]).toBeGreaterThan(0);
        } else {
          expect(result.error.message).toContain('the primary failed');
          expect(p.failures[attempts], 'failed without a failure').toBeGreaterThan(0);
        }
      }),
      { numRuns: 150 },
    );
  }, 60_000);

  it('a copy crashed at any step, reopened and following the log, ends with the primary rows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 40 }),
        initialRows,
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 60 }),
        fc.boolean(),
        async (script, initial, pageRows, crashAt, copiedBefore) => {
          const p = primaryWith(script, initial);
          const r = new Replica(p);
          // A copy finished before (its positions stored) and one copying again (as after a trim) crashed.
          if (copiedBefore) await copy(p, r, pageRows).catch(() => undefined);
          r.crashAt = r.steps + crashAt;
          await copy(p, r, pageRows).catch((e: unknown) => {
            if (!(e instanceof Error) || (e.message !== 'crash' && !e.message.includes('restarted'))) throw e;
          });
          // Reopened: resume from a finished copy, else copy again (as often as it takes), then follow.
          r.crashAt = Infinity;
          let at = resumeAt(r.stored);
          for (let tries = 0; !at || !r.follow(at); tries++) {
            expect(tries).toBeLessThan(10);
            at = await copy(p, r, pageRows).catch((e: unknown) => {
              if (e instanceof VitessError && e.message.includes('restarted')) return undefined;
              throw e;
            });
          }
          expect(r.rows).toEqual(p.rowsAt());
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it('gives up after `tries` copies in a row restarted, each started over', async () => {
    const p = primaryWith(
      Array.from({ length: 200 }, () => ({ kind: 'ddl', drop: false, table: 0 })),
      [[0, 1, 5]],
    );
    const r = new Replica(p);
    const err = await copy(p, r, 2).catch((e: unknown) => asVitessError(e));
    expect(err).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('the copy of keyspace "test" restarted 3 times (the schema changed while copying)'),
    });
    expect(p.attempt).toBe(TRIES);
    expect(r.stored.phase).toBe('copying');
  });

  it('resumes only a finished copy', () => {
    expect(resumeAt({ phase: 'streaming', lsns: { '-': 7 } })).toEqual({ '-': 7 });
    expect(resumeAt({ phase: 'copying', lsns: { '-': 7 } })).toBeUndefined();
    expect(resumeAt({ lsns: {} })).toBeUndefined();
    expect(resumeAt({ phase: 'streaming', lsns: {} })).toBeUndefined();
  });

  it('takes a trimmed log only from NOT_FOUND with the log-retention limit, also as it crosses RPC', () => {
    const trimmed = new VitessError('NOT_FOUND', 'LSN 3 is below the trim point', { limit: 'log retention' });
    expect(logTrimmed(trimmed)).toBe(true);
    expect(logTrimmed(encodeError(trimmed))).toBe(true);
    expect(logTrimmed(new VitessError('NOT_FOUND', 'keyspace "x" has no shard "y"'))).toBe(false);
    expect(logTrimmed(new VitessError('UNAVAILABLE', 'x', { limit: 'log retention' }))).toBe(false);
    expect(asVitessError(encodeError(trimmed)).details).toEqual({ limit: 'log retention' });
  });
});
