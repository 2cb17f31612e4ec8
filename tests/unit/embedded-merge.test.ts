// An embedded replica merges every shard's change stream into one local table per table, and the
// shards' logs are ordered only each on its own (replica/embedded/rows.ts). A row whose vindex
// column is not its primary key moves between shards as a delete on one and an insert on the
// other: whatever the interleaving of the shards' records (each shard's in its order), the local
// table ends as the union of the shards' tables. And a non-key UNIQUE constraint or a foreign key,
// which the primaries hold per shard, is not enforced across shards in the replica (the copy and
// the stream: replica/embedded/ddl.ts).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotText } from '../../client/client.js';
import type { StorageEngine } from '../../engines/engine.js';
import { LibsqlEngine } from '../../engines/libsql.js';
import { openPglite } from '../../engines/postgres.js';
import type { ChangesPage, ShardSchema } from '../../rpc/protocol.js';
import type { Row } from '../../rpc/results.js';
import { toWire } from '../../rpc/values.js';
import { applyUnits, PrimaryKeys } from '../../replica/embedded/apply.js';
import { copyKeyspace, type CopySource } from '../../replica/embedded/bootstrap.js';
import type { ApplyUnit, StreamChange, StreamRecord } from '../../replica/embedded/sequencer.js';
import { createStateTable } from '../../replica/embedded/state.js';

const SHARDS = ['a', 'b', 'c'];
const TABLE = 'CREATE TABLE m (id BIGINT PRIMARY KEY, owner INT NOT NULL, v INT NOT NULL)';
/** The vindex: `owner` places a row (the primary key does not). */
const shardOf = (owner: number) => SHARDS[owner % SHARDS.length]!;

interface Model {
  id: number;
  owner: number;
  v: number;
}

type Op =
  | { kind: 'insert'; id: number; owner: number }
  | { kind: 'update'; pick: number }
  | { kind: 'move'; pick: number; owner: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'rekey'; pick: number; id: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), id: fc.integer({ min: 1, max: 6 }), owner: fc.nat(5) }),
  fc.record({ kind: fc.constant('update' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), owner: fc.nat(5) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('rekey' as const), pick: fc.nat(), id: fc.integer({ min: 1, max: 6 }) }),
);

/**
 * Runs `ops` against the primaries (a key lives on one shard at a time; a move is a delete on
 * the row's shard and an insert on its new one): each shard's log, and the rows at the end.
 */
function primaries(ops: Op[]): { logs: Record<string, StreamRecord[]>; rows: Model[] } {
  const live = new Map<number, Model>();
  const logs: Record<string, StreamRecord[]> = Object.fromEntries(SHARDS.map((s) => [s, []]));
  let v = 0;
  const log = (shard: string, ...changes: StreamChange[]) => logs[shard]!.push({ shard, lsn: logs[shard]!.length + 1, changes });
  const row = (r: Model): Row => ({ id: r.id, owner: r.owner, v: r.v });
  const pick = (n: number) => [...live.values()].sort((x, y) => x.id - y.id)[n % live.size]!;
  for (const o of ops) {
    if (o.kind === 'insert') {
      if (live.has(o.id)) continue;
      const r = { id: o.id, owner: o.owner, v: v++ };
      live.set(r.id, r);
      log(shardOf(r.owner), { table: 'm', op: 'insert', row: row(r) });
      continue;
    }
    if (!live.size) continue;
    const r = pick(o.pick);
    const shard = shardOf(r.owner);
    if (o.kind === 'update') {
      r.v = v++;
      log(shard, { table: 'm', op: 'update', row: row(r) });
    } else if (o.kind === 'delete') {
      live.delete(r.id);
      log(shard, { table: 'm', op: 'delete', row: row(r) });
    } else if (o.kind === 'move') {
      const moved = { ...r, owner: o.owner, v: v++ };
      live.set(r.id, moved);
      const del: StreamChange = { table: 'm', op: 'delete', row: row(r) };
      const ins: StreamChange = { table: 'm', op: 'insert', row: row(moved) };
      if (shardOf(moved.owner) === shard) log(shard, del, ins);
      else {
        log(shard, del);
        log(shardOf(moved.owner), ins);
      }
    } else {
      if (live.has(o.id)) continue;
      live.delete(r.id);
      const rekeyed = { ...r, id: o.id, v: v++ };
      live.set(rekeyed.id, rekeyed);
      log(shard, { table: 'm', op: 'update', row: row(rekeyed), oldKey: { id: r.id } });
    }
  }
  return { logs, rows: [...live.values()].sort((x, y) => x.id - y.id) };
}

/** The shards' records in one interleaving (each shard's in order), `picks` choosing the shard at each step. */
function interleave(logs: Record<string, StreamRecord[]>, picks: number[]): StreamRecord[] {
  const left = Object.fromEntries(Object.entries(logs).map(([s, l]) => [s, [...l]]));
  const out: StreamRecord[] = [];
  for (let i = 0; ; i++) {
    const ready = SHARDS.filter((s) => left[s]!.length);
    if (!ready.length) return out;
    out.push(left[ready[(picks[i] ?? 0) % ready.length]!]!.shift()!);
  }
}

/** Applies `records` as the replica does, cut into local transactions after the records `cuts` marks. */
async function apply(db: StorageEngine, records: StreamRecord[], cuts: boolean[] = []): Promise<void> {
  const keys = new PrimaryKeys(db);
  const lsns: Record<string, number> = {};
  let run: ApplyUnit[] = [];
  for (const [i, r] of records.entries()) {
    run.push({ kind: 'record', record: r });
    if (cuts[i] || i === records.length - 1) {
      const before = { ...lsns };
      for (const u of run) if (u.kind === 'record') lsns[u.record.shard] = u.record.lsn;
      await applyUnits(db, keys, run, { ...lsns }, before);
      run = [];
    }
  }
}

const local = async (db: StorageEngine): Promise<Model[]> =>
  (await db.query('SELECT id, owner, v FROM m ORDER BY id')).rows.map((r) => ({ id: Number(r.id), owner: Number(r.owner), v: Number(r.v) }));

const parkedCount = async (db: StorageEngine): Promise<number> => Number((await db.query('SELECT count(*) AS n FROM _vt_row_parked')).rows[0]!.n);

/** The same DDL record from every shard: a DDL barrier, applied once. */
const barrier = (ddl: string, lsn: number): ApplyUnit => ({ kind: 'ddl', records: SHARDS.map((shard) => ({ shard, lsn, changes: [{ ddl }] })) });

const ins = (shard: string, lsn: number, row: Row): StreamRecord => ({ shard, lsn, changes: [{ table: 'm', op: 'insert', row }] });
const upd = (shard: string, lsn: number, row: Row): StreamRecord => ({ shard, lsn, changes: [{ table: 'm', op: 'update', row }] });
const del = (shard: string, lsn: number, row: Row): StreamRecord => ({ shard, lsn, changes: [{ table: 'm', op: 'delete', row }] });

describe.each(['libsql', 'pglite'] as const)('an embedded replica merging shards: %s', (engine) => {
  let db: StorageEngine;
  beforeAll(async () => {
    db = engine === 'libsql' ? await LibsqlEngine.open() : await openPglite();
    await createStateTable(db);
  }, 60_000);
  afterAll(() => db.close());

  /** An empty table `m` and no rows parked. */
  async function fresh(): Promise<void> {
    await db.query('DROP TABLE IF EXISTS m');
    await db.query('DELETE FROM _vt_row_parked');
    await db.query(TABLE);
  }

  it('keeps a row moved between shards when the insert on its new shard arrives before the delete on its old one', async () => {
    await fresh();
    await apply(db, [
      ins('a', 1, { id: 1, owner: 0, v: 0 }),
      ins('b', 1, { id: 1, owner: 1, v: 1 }), // moved to b …
      del('a', 2, { id: 1, owner: 0, v: 0 }), // … and gone from a
    ]);
    expect(await local(db)).toEqual([{ id: 1, owner: 1, v: 1 }]);
    expect(await parkedCount(db)).toBe(0);
  });

  it('does not let an older update from the old shard overwrite the moved row', async () => {
    await fresh();
    await apply(
      db,
      [
        ins('b', 1, { id: 1, owner: 1, v: 5 }), // b's insert comes first …
        ins('a', 1, { id: 1, owner: 0, v: 0 }), // … then a's history of the row, before it moved
        upd('a', 2, { id: 1, owner: 0, v: 3 }),
        upd('b', 2, { id: 1, owner: 1, v: 6 }),
        del('a', 3, { id: 1, owner: 0, v: 3 }),
      ],
      [true, true, true, true, true],
    );
    expect(await local(db)).toEqual([{ id: 1, owner: 1, v: 6 }]);
    expect(await parkedCount(db)).toBe(0);
  });

  it("ends as the union of the shards' tables, in any interleaving of their records", { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 90 }),
        fc.array(fc.boolean(), { maxLength: 90 }),
        async (ops, picks, cuts) => {
          const { logs, rows } = primaries(ops);
          await fresh();
          await apply(db, interleave(logs, picks), cuts);
          expect(await local(db)).toEqual(rows);
          expect(await parkedCount(db)).toBe(0);
        },
      ),
      { numRuns: engine === 'libsql' ? 300 : 60 },
    );
  });

  it('shows a key that two shards hold at once from the shard that had it first, and the other once that one deletes it', async () => {
    await fresh();
    await apply(db, [ins('a', 1, { id: 1, owner: 0, v: 0 }), ins('b', 1, { id: 1, owner: 1, v: 1 })]);
    expect(await local(db)).toEqual([{ id: 1, owner: 0, v: 0 }]);
    await apply(db, [del('a', 2, { id: 1, owner: 0, v: 0 })]);
    expect(await local(db)).toEqual([{ id: 1, owner: 1, v: 1 }]);
  });

  it("keeps the same row from several shards (a reference table's) once, not parked", async () => {
    await fresh();
    const row = { id: 1, owner: 0, v: 0 };
    await apply(
      db,
      SHARDS.map((s) => ins(s, 1, row)),
    );
    expect(await local(db)).toEqual([row]);
    expect(await parkedCount(db)).toBe(0);
  });

  it("promotes a parked row into the table's current columns, and forgets parked rows of a dropped table", async () => {
    await fresh();
    await apply(db, [ins('a', 1, { id: 1, owner: 0, v: 0 }), ins('b', 1, { id: 1, owner: 1, v: 1 })]);
    await db.query('ALTER TABLE m ADD COLUMN w INT');
    await apply(db, [del('a', 2, { id: 1, owner: 0, v: 0 })]);
    expect((await db.query('SELECT id, owner, v, w FROM m')).rows.map((r) => [Number(r.id), Number(r.owner), Number(r.v), r.w])).toEqual([[1, 1, 1, null]]);
    await apply(db, [ins('c', 1, { id: 1, owner: 2, v: 2, w: 7 })]);
    expect(await parkedCount(db)).toBe(1);
    await applyUnits(db, new PrimaryKeys(db), [barrier('DROP TABLE m', 9)], {}, {});
    expect(await parkedCount(db)).toBe(0);
  });

  it('holds rows of two shards with the same value in a UNIQUE column, and keeps streaming; keeps no foreign key', async () => {
    await db.query('DROP TABLE IF EXISTS uc');
    await db.query('DROP TABLE IF EXISTS u');
    const keys = new PrimaryKeys(db);
    await applyUnits(
      db,
      keys,
      [
        barrier('CREATE TABLE u (id BIGINT PRIMARY KEY, email TEXT UNIQUE, nick TEXT, CONSTRAINT u_nick UNIQUE (nick))', 1),
        barrier('CREATE UNIQUE INDEX u_lower ON u (lower(email))', 2),
        // References a column that is unique on each shard only (and a row another shard may send first).
        barrier('CREATE TABLE uc (id BIGINT PRIMARY KEY, email TEXT REFERENCES u (email) ON DELETE CASCADE)', 3),
      ],
      {},
      {},
    );
    const insert = (shard: string, lsn: number, table: string, row: Row): ApplyUnit => ({
      kind: 'record',
      record: { shard, lsn, changes: [{ table, op: 'insert', row }] },
    });
    const user = (shard: string, lsn: number, id: number) => insert(shard, lsn, 'u', { id, email: 'x@y', nick: 'x' });
    await applyUnits(db, keys, [insert('c', 4, 'uc', { id: 1, email: 'x@y' }), user('a', 4, 1), user('b', 4, 2), user('a', 5, 3)], {}, {});
    expect((await db.query('SELECT id FROM u ORDER BY id')).rows.map((r) => Number(r.id))).toEqual([1, 2, 3]);
    const gone: ApplyUnit = {
      kind: 'record',
      record: { shard: 'a', lsn: 6, changes: [{ table: 'u', op: 'delete', row: { id: 1, email: 'x@y', nick: 'x' } }] },
    };
    await applyUnits(db, keys, [gone], {}, {});
    expect((await db.query('SELECT id FROM uc')).rows.map((r) => Number(r.id))).toEqual([1]);
  });

  it.runIf(engine === 'pglite')('skips an added UNIQUE constraint, and its drop later', async () => {
    await applyUnits(
      db,
      new PrimaryKeys(db),
      [barrier('ALTER TABLE u ADD CONSTRAINT u_id_nick UNIQUE (nick)', 5), barrier('ALTER TABLE u DROP CONSTRAINT u_id_nick', 6)],
      {},
      {},
    );
    const constraints = await db.query(`SELECT conname FROM pg_constraint WHERE conrelid = 'u'::regclass AND contype = 'u'`);
    expect(constraints.rows).toEqual([]);
  });

  it('copies rows of two shards with the same value in a UNIQUE column, and forgets parked rows', async () => {
    const page = (id: number): SnapshotText => ({ table: 'cu', columns: ['id', 'email'], json: JSON.stringify([[toWire(id), 'x@y']]), nextKey: null, lsn: 1 });
    const source: CopySource = {
      schema: async (shards) =>
        (shards ?? ['a', 'b']).map(
          (shard): ShardSchema => ({ shard, lsn: 1, complete: true, ddl: ['CREATE TABLE cu (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE)'] }),
        ),
      snapshotText: async (req) => page(req.shard === 'a' ? 1 : 2),
      changes: async (): Promise<ChangesPage> => {
        throw new Error('no catch-up expected');
      },
    };
    await db.query(`INSERT INTO _vt_row_parked (tbl, pk, shard, change) VALUES ('cu', '[]', 'a', '{}')`);
    await copyKeyspace(db, new PrimaryKeys(db), source, { keyspace: 'main' });
    expect((await db.query('SELECT id, email FROM cu ORDER BY id')).rows.map((r) => [Number(r.id), r.email])).toEqual([
      [1, 'x@y'],
      [2, 'x@y'],
    ]);
    expect(await parkedCount(db)).toBe(0);
  });
});
