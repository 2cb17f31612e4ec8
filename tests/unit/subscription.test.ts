/**
 * Change streams without a Worker: VTGate's page builder (router/streams/subscriptions.ts) over fake
 * tablets holding random logs, and the client's Subscription on top of it with a flaky
 * transport. Properties: chaining pages from `beginning` (any page size, any filter) yields each
 * shard's matching changes exactly once, in order; so does a client whose page calls fail at
 * random, and one restarted from any event's position.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TransportFailure } from '../../client/failure.js';
import { Subscription, type ChangeEvent, type SubscriptionEvent } from '../../client/subscription.js';
import { DEFAULT_RETRY } from '../../client/retry.js';
import { changesPage } from '../../router/streams/subscriptions.js';
import { Topology, type Env } from '../../router/topology.js';
import { parseVSchema } from '../../router/vschema.js';
import type { Change, LogRecord } from '../../rpc/changes.js';
import { encodeError, VitessError } from '../../rpc/errors.js';
import { completeLsn, decodePosition, encodePosition } from '../../rpc/position.js';
import type { ChangesRequest } from '../../rpc/protocol.js';

const SHARDS = ['-40', '40-80', '80-c0', 'c0-'];
const vschema = parseVSchema({ keyspaces: [{ name: 'main', engine: 'sqlite', shards: SHARDS }] });

interface FakeLog {
  records: LogRecord[];
  first: number;
}

function topologyOf(logs: Record<string, FakeLog>): Topology {
  const tablet = (shard: string) => ({
    async pull(fromLsn: number, opts: { maxRecords?: number } = {}) {
      const log = logs[shard]!;
      if (fromLsn < log.first)
        throw encodeError(new VitessError('NOT_FOUND', `LSN ${fromLsn} is below the log's trim point (${log.first})`, { limit: 'log retention' }));
      return { records: log.records.filter((r) => r.lsn >= fromLsn).slice(0, opts.maxRecords ?? 1000), lastLsn: log.records.at(-1)?.lsn ?? log.first - 1 };
    },
    async waitFor(lsn: number, timeoutMs = 0) {
      const log = logs[shard]!;
      const last = () => log.records.at(-1)?.lsn ?? log.first - 1;
      if (last() < lsn) await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 2)));
      return last();
    },
    async schema() {
      return [
        { name: 'a', primaryKey: ['id'], columns: [] },
        { name: 'b', primaryKey: ['id'], columns: [] },
      ];
    },
  });
  const env = { TABLET: { getByName: (name: string) => tablet(name.split('/')[1]!) } } as unknown as Env;
  return new Topology(vschema, env);
}

/** Random logs: records of 1–5 changes on tables a and b (each row id unique), now and then DDL. */
const arbLogs = fc
  .array(
    fc.array(
      fc.record({
        n: fc.integer({ min: 1, max: 5 }),
        ddl: fc.boolean(),
        tables: fc.array(fc.constantFrom('a', 'b'), { minLength: 5, maxLength: 5 }),
        ops: fc.array(fc.constantFrom('insert' as const, 'update' as const, 'delete' as const), { minLength: 5, maxLength: 5 }),
      }),
      { maxLength: 25 },
    ),
    { minLength: 4, maxLength: 4 },
  )
  .map((perShard) => {
    let id = 0;
    const logs: Record<string, FakeLog> = {};
    perShard.forEach((records, i) => {
      logs[SHARDS[i]!] = {
        first: 1,
        records: records.map((r, j) => {
          const changes: Change[] = [];
          for (let k = 0; k < r.n; k++) {
            if (r.ddl && k === 0 && j % 7 === 3) changes.push({ ddl: `ALTER TABLE a ADD COLUMN c${id++} INT` });
            else {
              const row = { id: id++, v: `x${k}` };
              changes.push(
                r.ops[k] === 'delete'
                  ? { table: r.tables[k]!, op: 'delete', key: { id: row.id } }
                  : { table: r.tables[k]!, op: r.ops[k]!, key: { id: row.id }, row },
              );
            }
          }
          return { lsn: j + 1, ts: 1000 + j * 3 + i, txid: `t${i}-${j}`, changes };
        }),
      };
    });
    return logs;
  });

const arbFilter = fc.record({
  tables: fc.option(fc.subarray(['a', 'b']), { nil: undefined }),
  ddl: fc.boolean(),
  shards: fc.option(fc.subarray(SHARDS, { minLength: 1 }), { nil: undefined }),
});

type Filter = { tables?: string[] | undefined; ddl: boolean; shards?: string[] | undefined };

/** What a stream with `filter` must deliver, per shard, as `lsn:change` strings. */
function expected(logs: Record<string, FakeLog>, f: Filter, after: Record<string, number> = {}): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const shard of f.shards ?? SHARDS) {
    out[shard] = [];
    for (const r of logs[shard]!.records) {
      if (r.lsn <= (after[shard] ?? 0)) continue;
      for (const c of r.changes) {
        if ('ddl' in c) {
          if (f.ddl) out[shard].push(`${r.lsn}:${c.ddl}`);
          continue;
        }
        if (!f.tables || f.tables.includes(c.table)) out[shard].push(`${r.lsn}:${c.op}:${String(c.key.id)}`);
      }
    }
  }
  return out;
}

const label = (e: { lsn: number; op: string; ddl?: string; row?: unknown }): string =>
  e.op === 'ddl' ? `${e.lsn}:${e.ddl}` : `${e.lsn}:${e.op}:${String((e.row as { id: number }).id)}`;

function byShard(events: { shard: string; lsn: number; op: string; ddl?: string; row?: unknown }[], shards: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(shards.map((s) => [s, []]));
  for (const e of events) out[e.shard]!.push(label(e));
  return out;
}

describe('VTGate pages (router/streams/subscriptions.ts)', () => {
  it('chained pages from beginning deliver each matching change once, in per-shard order', async () => {
    await fc.assert(
      fc.asyncProperty(arbLogs, arbFilter, fc.integer({ min: 1, max: 9 }), async (logs, f, maxEvents) => {
        const topology = topologyOf(logs);
        const got: { shard: string; lsn: number; op: string; ddl?: string; row?: unknown }[] = [];
        let from = 'beginning';
        for (let i = 0; i < 500; i++) {
          const page = await changesPage(topology, 'main', {
            from,
            maxEvents,
            ddl: f.ddl,
            ...(f.tables && { tables: f.tables }),
            ...(f.shards && { shards: f.shards }),
          });
          expect(page.events.length).toBeLessThanOrEqual(maxEvents);
          got.push(...page.events);
          if (page.position === from && !page.events.length) break;
          from = page.position;
        }
        expect(byShard(got, f.shards ?? SHARDS)).toEqual(expected(logs, f));
        const end = decodePosition(from).shards;
        for (const s of f.shards ?? SHARDS) expect(completeLsn(end[s]!)).toBe(logs[s]!.records.length);
      }),
      { numRuns: 150 },
    );
  });

  it('splits a big transaction over pages and resumes inside it', async () => {
    const changes: Change[] = Array.from({ length: 10 }, (_, i) => ({ table: 'a', op: 'insert', key: { id: i }, row: { id: i } }));
    const logs: Record<string, FakeLog> = Object.fromEntries(SHARDS.map((s) => [s, { first: 1, records: [] as LogRecord[] }]));
    logs['-40']!.records.push({ lsn: 1, ts: 1, txid: 'big', changes });
    const topology = topologyOf(logs);
    const p1 = await changesPage(topology, 'main', { from: 'beginning', maxEvents: 4 });
    expect(p1.events.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(decodePosition(p1.position).shards['-40']).toEqual([1, 4]);
    const p2 = await changesPage(topology, 'main', { from: p1.position, maxEvents: 4 });
    expect(p2.events.map((e) => e.seq)).toEqual([4, 5, 6, 7]);
    const p3 = await changesPage(topology, 'main', { from: p2.position, maxEvents: 4 });
    expect(p3.events.map((e) => e.seq)).toEqual([8, 9]);
    expect(decodePosition(p3.position).shards['-40']).toBe(1);
  });

  it('refuses a position behind the trim point with a restart position at the head', async () => {
    const logs: Record<string, FakeLog> = Object.fromEntries(SHARDS.map((s) => [s, { first: 1, records: [] as LogRecord[] }]));
    logs['80-c0'] = {
      first: 6,
      records: [6, 7, 8].map((lsn) => ({ lsn, ts: lsn, txid: `${lsn}`, changes: [{ table: 'a', op: 'insert', key: { id: lsn }, row: { id: lsn } }] })),
    };
    const from = encodePosition({ keyspace: 'main', shards: { '-40': 0, '40-80': 0, '80-c0': 2, 'c0-': 0 } });
    const err = await changesPage(topologyOf(logs), 'main', { from }).then(
      () => undefined,
      (e: unknown) => e as VitessError,
    );
    expect(err).toBeInstanceOf(VitessError);
    expect(err!.code).toBe('NOT_FOUND');
    expect(err!.details.shards).toEqual(['80-c0']);
    expect(decodePosition(err!.details.restartFrom!).shards).toEqual({ '-40': 0, '40-80': 0, '80-c0': 8, 'c0-': 0 });
  });

  it('refuses positions of another keyspace or ahead of the log, and bad options', async () => {
    const topology = topologyOf(Object.fromEntries(SHARDS.map((s) => [s, { first: 1, records: [] as LogRecord[] }])));
    const code = (req: ChangesRequest) =>
      changesPage(topology, 'main', req).then(
        () => 'ok',
        (e: VitessError) => e.code,
      );
    expect(await code({ from: encodePosition({ keyspace: 'pg', shards: {} }) })).toBe('INVALID');
    expect(await code({ from: encodePosition({ keyspace: 'main', shards: { '-40': 5 } }) })).toBe('INVALID');
    expect(await code({ from: 'yesterday' })).toBe('INVALID');
    expect(await code({ from: 'now', shards: ['-80'] })).toBe('NOT_FOUND');
    expect(await code({ from: 'now', keyRange: '80-40' })).toBe('INVALID');
    expect(await code({ from: 'now', tables: 'a' as never })).toBe('INVALID');
    expect(await code({ from: 'now', keyRange: '40-60' })).toBe('ok');
  });
});

describe('the client Subscription', () => {
  const flaky = (topology: Topology, failRate: number, seed: number) => {
    let s = seed | 0;
    const random = () => {
      // mulberry32
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return async (req: ChangesRequest) => {
      if (random() < failRate) throw new TransportFailure(random() < 0.5 ? 'not-sent' : 'maybe', 'flaky');
      const page = await changesPage(topology, 'main', req);
      if (random() < failRate) throw new TransportFailure('maybe', 'answer lost');
      return page;
    };
  };
  const retry = { ...DEFAULT_RETRY, baseMs: 0, maxMs: 0, attempts: 50 };

  async function take<E extends { position: string }>(sub: Subscription<E>, n: number): Promise<E[]> {
    const out: E[] = [];
    if (n === 0) return out;
    for await (const ev of sub) {
      out.push(ev);
      if (out.length >= n) break;
    }
    return out;
  }

  it('delivers exactly the log through random transport failures, and from any saved position', async () => {
    await fc.assert(
      fc.asyncProperty(arbLogs, arbFilter, fc.integer({ min: 1, max: 9 }), fc.integer(), fc.nat(), async (logs, f, pageSize, seed, cut) => {
        const topology = topologyOf(logs);
        const want = expected(logs, f);
        const total = Object.values(want).reduce((n, xs) => n + xs.length, 0);
        const opts = { from: 'beginning', pageSize, ddl: f.ddl, waitMs: 0, ...(f.tables && { tables: f.tables }), ...(f.shards && { shards: f.shards }) };
        const sub = new Subscription<SubscriptionEvent>(flaky(topology, 0.3, seed), 'main', opts, retry, 30_000);
        const all = await take(sub, total);
        expect(byShard(all, f.shards ?? SHARDS)).toEqual(want);
        expect(sub.closed).toBe(total > 0); // break closes it
        await sub.close();
        if (!total) return;
        // A consumer restarted from any event's position gets exactly the rest.
        const k = cut % total;
        const again = new Subscription<SubscriptionEvent>(flaky(topology, 0.3, seed + 1), 'main', { ...opts, from: all[k]!.position }, retry, 30_000);
        const rest = await take(again, total - k - 1);
        await again.close();
        expect(byShard(rest, f.shards ?? SHARDS)).toEqual(byShard(all.slice(k + 1), f.shards ?? SHARDS));
      }),
      { numRuns: 100 },
    );
  });

  it('callback mode: one event at a time, position after each handled event, close stops delivery', async () => {
    const logs: Record<string, FakeLog> = Object.fromEntries(SHARDS.map((s) => [s, { first: 1, records: [] as LogRecord[] }]));
    logs['c0-']!.records = Array.from({ length: 20 }, (_, i) => ({
      lsn: i + 1,
      ts: i,
      txid: `${i}`,
      changes: [{ table: 'a', op: 'insert', key: { id: i }, row: { id: i } }],
    }));
    const sub = new Subscription<ChangeEvent>(flaky(topologyOf(logs), 0, 1), 'main', { from: 'beginning', pageSize: 3, waitMs: 0 }, retry, 30_000);
    const seen: number[] = [];
    let inFlight = 0;
    sub.run(async (ev) => {
      expect(inFlight++).toBe(0);
      await new Promise((r) => setTimeout(r, 1));
      seen.push(ev.row.id as number);
      inFlight--;
      if (seen.length === 7) await sub.close();
    });
    await sub.done;
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(decodePosition(sub.position).shards['c0-']).toBe(7);
  });

  it('a callback that throws stops the stream before that event (done rejects, onError hears it)', async () => {
    const logs: Record<string, FakeLog> = Object.fromEntries(SHARDS.map((s) => [s, { first: 1, records: [] as LogRecord[] }]));
    logs['-40']!.records = Array.from({ length: 5 }, (_, i) => ({
      lsn: i + 1,
      ts: i,
      txid: `${i}`,
      changes: [{ table: 'a', op: 'insert', key: { id: i }, row: { id: i } }],
    }));
    const errors: unknown[] = [];
    const sub = new Subscription<ChangeEvent>(
      flaky(topologyOf(logs), 0, 1),
      'main',
      { from: 'beginning', waitMs: 0, onError: (e) => errors.push(e) },
      retry,
      30_000,
    );
    const boom = new Error('consumer failed');
    sub.run((ev) => {
      if (ev.row.id === 3) throw boom;
    });
    await expect(sub.done).rejects.toBe(boom);
    expect(errors).toEqual([boom]);
    expect(decodePosition(sub.position).shards['-40']).toBe(3); // events 0–2 handled; 3 comes again on resume
  });
});
