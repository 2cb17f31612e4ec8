// Crash test: the Worker under `wrangler dev` with persistent state, a mixed workload in flight,
// SIGKILL (wrangler and workerd at once), restart on the same state. Per engine (keyspace `main`
// on DO SQLite, 4 shards; `pg` on PGlite, 2 shards), writers run at once:
//  - INSERTs, UPDATEs (a per-row value set to increasing values, and a column added by DDL while
//    they run) and DELETEs of their own rows;
//  - single-shard units: a multi-row INSERT of a group of rows sharing the sharding column, and
//    interactive transactions and atomic batches updating the whole group;
//  - cross-shard transactions (interactive, atomic batch over capnweb, atomic batch over
//    `POST /sql`) updating groups of rows on different shards (two-phase commit);
//  - INSERTs into a BIGSERIAL table and into a table whose id is DEFAULT nextval of a CREATE
//    SEQUENCE (global sequences);
//  - and, alongside, DDL: CREATE TABLE (then rows in it), ALTER TABLE ADD COLUMN and CREATE INDEX
//    on the table the writers update. The kill comes while a DDL statement is in flight.
// Every write names its values up front, each key's increasing (tests/support/history.ts); an
// operation ends `ok` when acknowledged, `unknown` when the process died under it, and `failed`
// only when the gateway said it rolled back (CONFLICT: two cross-shard transactions that took
// their shards in opposite orders, one of them chosen as the deadlock victim).
//
// After the restart (and once two-phase-commit and DDL recovery have finished on their own):
//  - per shard: LSNs 1..n without a gap; the log replays to exactly the shard's tables (rows
//    compared column by column, from snapshot pages read at the log's last LSN); the shard's DDL
//    history is the DDL in its log; every row is on the shard its vindex names; and the columns
//    of the updated table are the ones the shard's own DDL gave it;
//  - no lost write: every acknowledged insert, update and delete is there (or overwritten by a
//    later write of the same key); a write cut off by the kill may or may not be;
//  - nothing half-applied: a group written by one statement or one transaction (on one shard, or
//    across shards) has all its rows at the same value, and the operation cut off by the kill
//    took effect on all its keys or none;
//  - DDL: once the keyspace's DDL coordinator has no intent pending (recovery sends a statement
//    cut off by the kill to the shards that lack it, or drops it if its first shard refused it),
//    every shard has the same DDL history and the same columns, without anything run again;
//    every acknowledged statement is in it, in order, and the statement in flight is in it or not;
//  - sequences: no id twice, every acknowledged INSERT's id holds its row, and INSERTs after the
//    restart never draw an id that was there before;
//  - the next write continues its shard's LSNs.
// Unexpected errors before the kill fail the test. The seed (CRASH_SEED) replays the choices.
//
// Also: a DDL statement that some shards committed and others had not when the process died
// (held back by a transaction open there) is finished by recovery after the restart: every shard
// ends with the same schema (docs/transactions.md, "DDL across shards").
//
// The Worker (tests/e2e/twopc-worker.ts: VTGate as deployed, with test-only routes to see what
// is in doubt) is bundled once; every start runs that bundle.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VitessError, type VitessClient } from '../../client/index.js';
import { decodeBookmark } from '../../rpc/bookmark.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { shardFor } from '../../rpc/keyspace/keyrange.js';
import { bundleWorker, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { jsonPost } from '../support/auth.js';
import { check, History, type Op, type Outcome, type Value } from '../support/history.js';
import { rng } from '../support/rng.js';
import { canonRow, norm, readLog, replay, snapshotTable, tablesOf, type Replayed, type WireRow } from '../support/shard-state.js';
import { inDoubt } from './bank-support.js';

const CONFIG = 'tests/e2e/twopc.wrangler.jsonc';
const WRITERS = 4;
const XS_GROUPS = 4; // cross-shard groups per writer
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));

const dirs: string[] = [];
let bundle: Awaited<ReturnType<typeof bundleWorker>> | undefined;
beforeAll(async () => {
  bundle = await bundleWorker(CONFIG);
}, 180_000);
afterAll(async () => {
  bundle?.remove();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function start(persistTo: string): Promise<WranglerDev> {
  return startWrangler({ config: bundle!.config, persistTo, timeoutMs: 240_000 });
}

async function stateDir(keyspace: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `vitess-crash-${keyspace}-`));
  dirs.push(d);
  return d;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Recovery done by the coordinators' own alarms: nothing prepared, every two-phase record
 * decided and acknowledged, no DDL intent pending.
 */
async function awaitRecovery(w: WranglerDev, keyspace: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const d = await inDoubt(w, keyspace).catch((e: unknown) => ({ error: String(e) }));
        if ('error' in d) return d;
        return { prepared: d.prepared, open: d.records.filter((r) => r.decision === null || r.acked.length < r.participants.length), ddl: d.ddl };
      },
      { timeout: 30_000, interval: 200 },
    )
    .toEqual({ prepared: {}, open: [], ddl: [] });
}

const shardOf = (v: number, shards: readonly string[]): string => shardFor(hashId(v)!, shards);
const int = (v: unknown): number => Number(norm(v).slice(1));

/** Keyspace, engine, shards; and how many operations are acknowledged before the kill is armed. */
const KEYSPACES: [string, string, string[], number][] = [
  ['main', 'do-sqlite', ['-40', '40-80', '80-c0', 'c0-'], 400],
  ['pg', 'pglite', ['-80', '80-'], 200],
];

describe.each(KEYSPACES)('crash and restart: keyspace %s (%s)', (keyspace, _engine, shards, target) => {
  it('keeps acknowledged inserts, updates, deletes, transactions, DDL and sequence ids; half-applies nothing; LSNs and schema continue', async () => {
    const seed = SEED + shards.length;
    const persistTo = await stateDir(keyspace);
    const history = new History();
    let value = 0; // every write's value: unique, increasing in the order writes are issued
    const nextValue = () => ++value;
    const deletedAt = new Map<string, number>(); // kv key → its delete's value
    const seqAcked: { table: string; id: number; w: number; n: number }[] = [];
    const unexpected: string[] = [];
    const counts: Record<string, number> = {};
    let acked = 0;
    let killing = false;
    let stop = false;
    let armed = false;
    let fireKill!: () => void;
    const killNow = new Promise<void>((r) => {
      fireKill = r;
    });
    const ddl = { acked: [] as string[], inFlight: undefined as string | undefined, kvColumns: [] as string[] };
    const runner = new Set<string>(); // every DDL statement the DDL runner sent
    const xsGroups: number[][] = [];

    const t0 = Date.now();
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    let w = await start(persistTo);
    mark('started');
    const clients: VitessClient[] = [];
    const connect = async () => {
      const c = await createClient({ endpoint: w.url, keyspace, retry: { attempts: 1 }, timeoutMs: 20_000 }).connect();
      clients.push(c);
      return c;
    };
    try {
      const setup = await connect();
      for (const sql of [
        'CREATE TABLE kv (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)',
        // Sharded by g (the first primary-key column): a group's rows share a shard.
        'CREATE TABLE grp (g BIGINT, i INT, v BIGINT NOT NULL, PRIMARY KEY (g, i))',
        'CREATE TABLE xs (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)',
        'CREATE TABLE ser (id BIGSERIAL PRIMARY KEY, w INT NOT NULL, n INT NOT NULL)',
        'CREATE SEQUENCE crash_ids',
        "CREATE TABLE nv (id BIGINT PRIMARY KEY DEFAULT nextval('crash_ids'), w INT NOT NULL, n INT NOT NULL)",
      ])
        await setup.execute(sql);
      // Cross-shard groups: three ids of which at least two are on different shards.
      for (let id = 1_000; xsGroups.length < WRITERS * XS_GROUPS; id += 3) {
        const ids = [id, id + 1, id + 2];
        if (new Set(ids.map((x) => shardOf(x, shards))).size > 1) xsGroups.push(ids);
      }
      const all = xsGroups.flat();
      await history.record(
        { name: 'setup', bookmark: () => setup.bookmark },
        { kind: 'tx', keys: all.map((x) => `xs:${x}`), values: all.map(() => 0) },
        () => setup.batch([{ sql: `INSERT INTO xs (id, v) VALUES ${all.map((x) => `(${x}, 0)`).join(', ')}` }], { atomic: true }).then(() => undefined),
        (e) => {
          unexpected.push(`setup: ${String(e)}`);
          return 'failed';
        },
      );

      /**
       * Runs one operation. `ok` when acknowledged; `failed` when a transaction was rolled back as
       * a deadlock victim (CONFLICT: the gateway says nothing of it applied; the writer goes on);
       * `unknown` for anything else: the process died under it (before the kill, unexpected).
       * Returns whether the writer goes on.
       */
      const op = async (
        session: { name: string; bookmark: () => string },
        kind: Op['kind'],
        keys: string[],
        values: Value[],
        fn: () => Promise<unknown>,
        what: string,
      ): Promise<boolean> => {
        const done = await history.record(
          session,
          { kind, keys, values },
          async () => {
            await fn();
          },
          (e): Outcome => {
            if (!killing && kind === 'tx' && e instanceof VitessError && e.code === 'CONFLICT') return 'failed';
            if (!killing) unexpected.push(`${session.name} ${what} ${keys.join(',')}: ${String(e)}`);
            return 'unknown';
          },
        );
        if (done.outcome === 'unknown') return false;
        const counted = done.outcome === 'ok' ? what : `${what} rolled back`;
        counts[counted] = (counts[counted] ?? 0) + 1;
        if (done.outcome === 'ok') acked++;
        return true;
      };
      const affected = (what: string, n: number) => (r: { affected: number }) => {
        if (r.affected !== n) unexpected.push(`${what}: ${r.affected} rows affected, not ${n}`);
      };

      const writer = async (wi: number) => {
        const r = rng(seed * 31 + wi);
        const c = await connect();
        const session = { name: `w${wi}`, bookmark: () => c.bookmark };
        const live: number[] = [];
        const groups: number[] = [];
        const mine = xsGroups.slice(wi * XS_GROUPS, (wi + 1) * XS_GROUPS);
        let nextId = wi * 1_000_000 + 1;
        let n = 0;
        while (!stop) {
          const p = r.next();
          let ok: boolean;
          if (p < 0.2 || live.length < 3) {
            const id = nextId++;
            const v = nextValue();
            ok = await op(
              session,
              'write',
              [`kv:${id}`],
              [v],
              () => c.execute('INSERT INTO kv (id, v) VALUES ($1, $2)', [id, v]).then(affected('insert', 1)),
              'insert',
            );
            if (ok) live.push(id);
          } else if (p < 0.42) {
            const id = r.pick(live);
            const v = nextValue();
            // Once a column has been added (and acknowledged), updates write it too.
            const col = ddl.kvColumns.at(-1);
            const sql = col ? `UPDATE kv SET v = $2, ${col} = $3 WHERE id = $1` : 'UPDATE kv SET v = $2 WHERE id = $1';
            ok = await op(session, 'write', [`kv:${id}`], [v], () => c.execute(sql, col ? [id, v, `x${v}`] : [id, v]).then(affected('update', 1)), 'update');
          } else if (p < 0.5) {
            const id = live.splice(r.int(live.length), 1)[0]!;
            const v = nextValue();
            deletedAt.set(`kv:${id}`, v);
            ok = await op(session, 'write', [`kv:${id}`], [v], () => c.execute('DELETE FROM kv WHERE id = $1', [id]).then(affected('delete', 1)), 'delete');
          } else if (p < 0.57 || !groups.length) {
            // One statement, one shard: all three rows or none.
            const g = nextId++;
            const v = nextValue();
            ok = await op(
              session,
              'tx',
              [0, 1, 2].map((i) => `grp:${g}:${i}`),
              [v, v, v],
              () => c.execute('INSERT INTO grp (g, i, v) VALUES ($1, 0, $2), ($1, 1, $2), ($1, 2, $2)', [g, v]).then(affected('group insert', 3)),
              'group insert',
            );
            if (ok) groups.push(g);
          } else if (p < 0.7) {
            // A transaction on one shard: interactive (read, then write) or an atomic batch.
            const g = r.pick(groups);
            const v = nextValue();
            const keys = [0, 1, 2].map((i) => `grp:${g}:${i}`);
            if (r.next() < 0.5) {
              ok = await op(
                session,
                'tx',
                keys,
                [v, v, v],
                () =>
                  c.transaction(
                    async (tx) => {
                      const before = await tx.query<{ v: unknown }>('SELECT v FROM grp WHERE g = $1 ORDER BY i', [g]);
                      if (before.rows.length !== 3 || new Set(before.rows.map((x) => norm(x.v))).size !== 1)
                        unexpected.push(`group ${g} read as ${JSON.stringify(before.rows)}`);
                      for (const i of [0, 1, 2]) await tx.execute('UPDATE grp SET v = $3 WHERE g = $1 AND i = $2', [g, i, v]);
                    },
                    { timeoutMs: 10_000 },
                  ),
                'single-shard transaction',
              );
            } else {
              ok = await op(
                session,
                'tx',
                keys,
                [v, v, v],
                () =>
                  c.batch(
                    [0, 1, 2].map((i) => ({ sql: 'UPDATE grp SET v = $3 WHERE g = $1 AND i = $2', params: [g, i, v] })),
                    { atomic: true },
                  ),
                'single-shard atomic batch',
              );
            }
          } else if (p < 0.86) {
            // Across shards (two-phase commit): interactive, atomic batch, or atomic batch over POST /sql.
            const ids = r.pick(mine);
            const v = nextValue();
            const keys = ids.map((x) => `xs:${x}`);
            const statements = ids.map((x) => ({ sql: 'UPDATE xs SET v = $2 WHERE id = $1', params: [x, v] }));
            const how = r.int(3);
            if (how === 0) {
              ok = await op(
                session,
                'tx',
                keys,
                [v, v, v],
                () =>
                  c.transaction(
                    async (tx) => {
                      for (const s of statements) affected('cross-shard update', 1)(await tx.execute(s.sql, s.params));
                    },
                    { timeoutMs: 10_000 },
                  ),
                'cross-shard transaction',
              );
            } else if (how === 1) {
              ok = await op(session, 'tx', keys, [v, v, v], () => c.batch(statements, { atomic: true }), 'cross-shard atomic batch');
            } else {
              ok = await op(
                session,
                'tx',
                keys,
                [v, v, v],
                async () => {
                  const res = await fetch(`${w.url}/sql`, { ...jsonPost({ keyspace, batch: statements, atomic: true }), signal: AbortSignal.timeout(20_000) });
                  const body = (await res.json()) as { error?: { code: string; message: string } };
                  if (body.error) throw VitessError.fromJSON(body.error);
                  if (!res.ok) throw new Error(`HTTP ${res.status}`);
                },
                'cross-shard batch over /sql',
              );
            }
          } else {
            // Global sequences: the id is drawn by VTGate.
            const table = r.next() < 0.5 ? 'ser' : 'nv';
            const k = ++n;
            let id: number | undefined;
            ok = await op(
              session,
              'write',
              [],
              [],
              async () => {
                id = (await c.execute(`INSERT INTO ${table} (w, n) VALUES ($1, $2)`, [wi, k])).lastInsertId;
              },
              `insert into ${table}`,
            );
            if (ok && id === undefined) unexpected.push(`insert into ${table}: no lastInsertId`);
            if (ok && id !== undefined) seqAcked.push({ table, id, w: wi, n: k });
          }
          if (!ok) return;
        }
      };

      // DDL while the writers run: a table (then rows in it), a column on kv, an index on it.
      const ddlRunner = async () => {
        const r = rng(seed * 31 + 99);
        const c = await connect();
        const session = { name: 'ddl', bookmark: () => c.bookmark };
        // The kind of statement the kill comes during, and how long after it left (it takes
        // tens of milliseconds: the kill may find it on no shard yet, on some, or on all).
        // Should the statement be acknowledged sooner, the next one of its kind is tried with
        // half the wait. (Timer and kill run in one turn of the event loop: no answer that
        // arrives meanwhile is read before the SIGKILL.)
        const killDuring = r.pick(['CREATE TABLE', 'ALTER TABLE', 'CREATE INDEX']);
        let killAfterMs = r.int(150);
        const run = async (sql: string): Promise<boolean> => {
          runner.add(sql);
          ddl.inFlight = sql;
          const sent = op(session, 'write', [], [], () => c.execute(sql), 'ddl');
          if (armed && sql.startsWith(killDuring)) {
            const first = await Promise.race([sent.then(() => 'answered'), sleep(killAfterMs).then(() => 'timer')]);
            if (first === 'timer') fireKill();
            else killAfterMs = Math.floor(killAfterMs / 2);
          }
          if (!(await sent)) return false;
          ddl.acked.push(sql);
          ddl.inFlight = undefined;
          return true;
        };
        for (let d = 1; !stop; d++) {
          if (!(await run(`CREATE TABLE d${d} (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)`))) return;
          const v = nextValue();
          const ids = [d * 10, d * 10 + 1];
          if (
            !(await op(
              session,
              'write',
              ids.map((x) => `d${d}:${x}`),
              [v, v],
              () => c.execute(`INSERT INTO d${d} (id, v) VALUES ($1, $3), ($2, $3)`, [...ids, v]),
              'insert into new table',
            ))
          )
            return;
          if (!(await run(`ALTER TABLE kv ADD COLUMN c${d} TEXT`))) return;
          ddl.kvColumns.push(`c${d}`);
          if (!(await run(`CREATE INDEX kv_c${d} ON kv (c${d})`))) return;
          await sleep(150);
        }
      };

      const load = [...Array.from({ length: WRITERS }, (_, wi) => writer(wi)), ddlRunner()];
      const settled = Promise.allSettled(load);
      // Enough acknowledged work and a whole DDL round, then the kill, with a DDL statement in flight.
      await Promise.race([
        settled.then(() => {
          throw new Error(`the workload stopped before the kill: ${unexpected.join('; ')}`);
        }),
        expect.poll(() => acked >= target && ddl.acked.length >= 3, { timeout: 120_000, interval: 20 }).toBe(true),
      ]);
      mark('armed');
      armed = true;
      await Promise.race([
        killNow,
        sleep(60_000).then(() => {
          throw new Error('no DDL statement was sent within 60 s of arming the kill');
        }),
      ]);
      killing = true;
      await w.kill();
      stop = true;
      for (const r of await settled) if (r.status === 'rejected') unexpected.push(`a writer threw: ${String(r.reason)}`);
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    } finally {
      await w.stop();
    }
    expect(unexpected, `seed ${SEED}: errors before the kill`).toEqual([]);
    const inFlight = ddl.inFlight;
    expect(inFlight, 'a DDL statement was in flight at the kill').toBeDefined();

    mark('killed');
    w = await start(persistTo);
    mark('restarted');
    try {
      const c = createClient({ endpoint: w.url, keyspace, timeoutMs: 60_000 });
      await awaitRecovery(w, keyspace);
      mark('recovered');

      // Per shard: the log without gaps, replayed, equals the tables; its DDL is the shard's history.
      const histories = Object.fromEntries((await c.schema()).map((s) => [s.shard, s.ddl]));
      const states: Record<string, Replayed> = {};
      const last: Record<string, number> = {};
      for (const shard of shards) {
        const { records, lastLsn } = await readLog(w.url, keyspace, shard);
        expect(
          records.map((r) => r.lsn),
          `shard ${shard}: LSNs`,
        ).toEqual(Array.from({ length: lastLsn }, (_, i) => i + 1));
        last[shard] = lastLsn;
        const state = replay(records);
        states[shard] = state;
        expect(histories[shard], `shard ${shard}: DDL history = the DDL in its log`).toEqual(state.ddl);
        const tables = tablesOf(state.ddl);
        expect(
          [...state.tables.keys()].filter((t) => !tables.includes(t)),
          `shard ${shard}: rows of tables its DDL never made`,
        ).toEqual([]);
        for (const table of tables) {
          const snap = await snapshotTable(c, shard, table);
          expect(snap.lsn, `shard ${shard} ${table}: snapshot at the log's last LSN`).toBe(lastLsn);
          const want = [...(state.tables.get(table)?.values() ?? [])].map((row) => canonRow(row, snap.columns)).sort();
          const got = snap.rows.map((row) => canonRow(row, snap.columns)).sort();
          expect(got, `seed ${SEED}: shard ${shard} table ${table} = its log replayed`).toEqual(want);
          // Every row is on the shard of its vindex value.
          const placed = table === 'grp' ? 'g' : 'id';
          expect(
            snap.rows.map((row) => int(row[placed])).filter((x) => shardOf(x, shards) !== shard),
            `shard ${shard} ${table}: rows of other shards`,
          ).toEqual([]);
          if (table === 'kv') {
            // The columns are the ones this shard's DDL gave kv.
            const added = state.ddl.flatMap((d) => /^ALTER TABLE kv ADD COLUMN (\w+)/.exec(d)?.[1] ?? []);
            expect(snap.columns, `shard ${shard}: columns of kv`).toEqual(['id', 'v', ...added]);
          }
        }
      }

      mark('logs and tables compared');
      // Recovery made every shard's DDL history the same: the acknowledged DDL in order, and the statement in flight or not.
      for (const shard of shards) expect(histories[shard], `shard ${shard}: DDL history`).toEqual(histories[shards[0]!]);
      const base = (shard: string) => (histories[shard]!.at(-1) === inFlight ? histories[shard]!.slice(0, -1) : histories[shard]!);
      expect(
        base(shards[0]!).filter((d) => runner.has(d)),
        'the acknowledged DDL',
      ).toEqual(ddl.acked);
      const appliedOn = shards.filter((s) => histories[s]!.at(-1) === inFlight);
      console.log(
        `crash ${keyspace} (seed ${SEED}): ${acked} operations acknowledged ${JSON.stringify(counts)}; in flight at the kill: ${inFlight}, applied on ${appliedOn.length} of ${shards.length} shards`,
      );

      // The final state of every key, from the replayed (= stored) rows; a deleted kv row counts as its delete's value.
      const rowsOf = (table: string): WireRow[] => shards.flatMap((s) => [...(states[s]!.tables.get(table)?.values() ?? [])]);
      const final: Record<string, Value> = {};
      for (const row of rowsOf('kv')) final[`kv:${int(row.id)}`] = int(row.v);
      for (const [key, v] of deletedAt) if (!(key in final)) final[key] = v;
      for (const row of rowsOf('grp')) final[`grp:${int(row.g)}:${int(row.i)}`] = int(row.v);
      for (const row of rowsOf('xs')) final[`xs:${int(row.id)}`] = int(row.v);
      for (const t of tablesOf(base(shards[0]!)).filter((x) => /^d\d+$/.test(x))) for (const row of rowsOf(t)) final[`${t}:${int(row.id)}`] = int(row.v);
      expect(check(history.ops, final), `seed ${SEED}`).toEqual([]);
      // VTGate reads the same rows.
      const kvRows = (await c.query<{ id: unknown; v: unknown }>('SELECT id, v FROM kv', [], { consistency: 'strong' })).rows
        .map((x) => `${int(x.id)}=${int(x.v)}`)
        .sort();
      expect(kvRows).toEqual(
        rowsOf('kv')
          .map((x) => `${int(x.id)}=${int(x.v)}`)
          .sort(),
      );

      // Nothing half-applied: the operation cut off by the kill took effect on all its keys or none
      // (nothing wrote its keys after it), and every group holds one value.
      for (const o of history.ops.filter((x) => x.outcome === 'unknown' && x.kind === 'tx')) {
        const took = o.keys.map((k, i) => (final[k] ?? null) === o.values[i]);
        expect(new Set(took).size, `half-applied: ${o.session} ${o.kind} ${o.keys.join(',')} = ${o.values[0]}: ${JSON.stringify(took)}`).toBe(1);
      }
      const byGroup = new Map<number, string[]>();
      for (const row of rowsOf('grp')) byGroup.set(int(row.g), [...(byGroup.get(int(row.g)) ?? []), norm(row.v)]);
      for (const [g, vs] of byGroup) {
        expect(vs.length, `group ${g}: rows`).toBe(3);
        expect(new Set(vs).size, `group ${g}: values ${vs.join(' ')}`).toBe(1);
      }
      for (const ids of xsGroups)
        expect(new Set(ids.map((x) => final[`xs:${x}`])).size, `cross-shard group ${ids.join(',')}: ${ids.map((x) => final[`xs:${x}`]).join(' ')}`).toBe(1);

      // Sequences: unique ids, acknowledged rows under their ids.
      const before = new Map<string, Set<number>>();
      for (const table of ['ser', 'nv']) {
        const rows = rowsOf(table);
        const ids = rows.map((x) => int(x.id));
        expect(ids.length - new Set(ids).size, `${table}: ids drawn twice`).toBe(0);
        const byId = new Map(rows.map((x) => [int(x.id), `${int(x.w)}/${int(x.n)}`]));
        for (const a of seqAcked.filter((x) => x.table === table)) expect(byId.get(a.id), `${table}: acknowledged id ${a.id}`).toBe(`${a.w}/${a.n}`);
        before.set(table, new Set(ids));
      }

      // The next write continues its shard's LSNs.
      const next = await createClient({ endpoint: w.url, keyspace }).execute('INSERT INTO kv (id, v) VALUES (-1, -1)'); // a client with no bookmark yet
      const written = Object.entries(decodeBookmark(next.bookmark));
      expect(written).toHaveLength(1);
      const [at, lsn] = written[0]!;
      expect(lsn).toBe(last[at.split('/')[1]!]! + 1);

      // After the restart, sequences never hand out an id that was there before.
      for (const table of ['ser', 'nv']) {
        const fresh: number[] = [];
        for (let i = 0; i < 10; i++) fresh.push((await c.execute(`INSERT INTO ${table} (w, n) VALUES ($1, $2)`, [99, i])).lastInsertId!);
        const many = await c.execute<{ id: unknown }>(
          `INSERT INTO ${table} (w, n) VALUES ${Array.from({ length: 20 }, (_, i) => `(98, ${i})`).join(', ')} RETURNING id`,
        );
        fresh.push(...many.rows!.map((x) => int(x.id)));
        expect(
          fresh.filter((id) => typeof id !== 'number' || before.get(table)!.has(id)),
          `${table}: ids after the restart already used`,
        ).toEqual([]);
        expect(new Set(fresh).size).toBe(fresh.length);
      }

      mark('history, groups, sequences checked');
      // Every shard has the same DDL history and the same columns (nothing was run again).
      const after = await c.schema();
      for (const s of after) expect(s.ddl, `shard ${s.shard}: DDL history`).toEqual(after[0]!.ddl);
      for (const table of tablesOf(after[0]!.ddl)) {
        const columns = await Promise.all(shards.map(async (shard) => (await snapshotTable(c, shard, table)).columns));
        for (const [i, cols] of columns.entries()) expect(cols, `${table} on ${shards[i]}`).toEqual(columns[0]);
      }
      mark('schema compared');
      console.log(`crash ${keyspace}: ${marks.join(', ')}`);
    } finally {
      await w.stop();
    }
  });
});

/**
 * A DDL statement that reached some shards before the process died. A transaction held open on
 * the last shard keeps the statement waiting there while the other shards commit it; then the
 * process is killed. VTGate recorded the statement as an intent with the keyspace's DDL
 * coordinator before sending it, so after the restart the coordinator's recovery sends it to the
 * last shard: every shard ends with the same DDL history and columns, without anyone running
 * the statement again (embedded replicas, which need equal histories, can bootstrap).
 */
describe.each(KEYSPACES)('a DDL statement cut off by a crash: keyspace %s (%s)', (keyspace, _engine, shards) => {
  it('is on every shard or on none after the restart', async () => {
    const persistTo = await stateDir(`${keyspace}-ddl`);
    let w = await start(persistTo);
    const lastShard = shards.at(-1)!;
    try {
      const c = await createClient({ endpoint: w.url, keyspace, retry: { attempts: 1 } }).connect();
      await c.execute('CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)');
      const id = Array.from({ length: 100 }, (_, i) => i).find((i) => shardOf(i, shards) === lastShard)!;
      await c.execute('INSERT INTO t (id, v) VALUES ($1, 0)', [id]);
      let holding!: () => void;
      let release!: () => void;
      const held = new Promise<void>((r) => {
        holding = r;
      });
      const released = new Promise<void>((r) => {
        release = r;
      });
      const tx = c
        .transaction(
          async (t) => {
            await t.execute('UPDATE t SET v = 1 WHERE id = $1', [id]);
            holding();
            await released; // open until the process is gone
          },
          { timeoutMs: 30_000 },
        )
        .catch(() => undefined);
      await held;
      const alter = fetch(`${w.url}/sql`, jsonPost({ keyspace, sql: 'ALTER TABLE t ADD COLUMN extra TEXT' })).catch(() => undefined);
      const other = createClient({ endpoint: w.url, keyspace });
      await expect
        .poll(async () => (await other.schema(shards.slice(0, -1))).map((s) => s.ddl.length), { timeout: 30_000, interval: 20 })
        .toEqual(shards.slice(0, -1).map(() => 2));
      await w.kill();
      release();
      await Promise.all([tx, alter]);
      await c.disconnect().catch(() => undefined);
    } finally {
      await w.stop();
    }
    w = await start(persistTo);
    try {
      const c = createClient({ endpoint: w.url, keyspace });
      // Recovery (the DDL coordinator's alarm) brings the last shard up to date.
      await awaitRecovery(w, keyspace);
      await expect.poll(async () => (await c.schema()).map((s) => s.ddl.length), { timeout: 30_000, interval: 200 }).toEqual(shards.map(() => 2));
      const schemas = await c.schema();
      const columns = await Promise.all(shards.map(async (shard) => (await snapshotTable(c, shard, 't')).columns));
      for (const s of schemas) expect(s.ddl, `shard ${s.shard}`).toEqual(schemas[0]!.ddl);
      expect(schemas[0]!.ddl.at(-1)).toBe('ALTER TABLE t ADD COLUMN extra TEXT');
      for (const cols of columns) expect(cols).toEqual(['id', 'v', 'extra']);
      // Applied once on each shard: one record carrying it, with the same txid (the intent id) on every shard.
      const carrying = await Promise.all(
        shards.map(async (shard) => (await readLog(w.url, keyspace, shard)).records.filter((r) => r.changes.some((ch) => 'ddl' in ch))),
      );
      for (const rs of carrying) expect(rs).toHaveLength(2);
      expect(new Set(carrying.map((rs) => rs[1]!.txid)).size).toBe(1);
    } finally {
      await w.stop();
    }
  });
});
