// Resource limits at a real tablet in workerd, on both engines: the row and byte caps on one
// result (reads, writes that return rows, batches, interactive transactions), the statement size
// and timeout checks, and a flood of snapshot-page requests that must not starve a writer.
import { runInDurableObject } from 'cloudflare:test';
import { env, RpcTarget } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { EngineKind } from '../../engines/engine.js';
import { LIMITS } from '../../engines/limits.js';
import type { TxStep } from '../../primary/interactive.js';
import type { TabletResult, VTTablet } from '../../primary/tablet.js';
import type { Stub, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';
import { asVitessError, type VitessError } from '../../rpc/errors.js';

type TabletCalls = Pick<TabletApi, 'query' | 'batch' | 'transaction' | 'snapshot' | 'pull'>;
type Tablet = Stub<TabletCalls>;

const tablet = (kind: EngineKind): Tablet => stubOf<TabletCalls>(env.TABLET.get(env.TABLET.idFromName(`limits-${kind}-${Math.random()}`)));

const failure = (p: Promise<unknown>): Promise<VitessError> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => asVitessError(e),
  );

/** Replays statements, then commits. */
class Script extends RpcTarget {
  constructor(private readonly steps: TxStep[]) {
    super();
  }
  async next(): Promise<TxStep> {
    return this.steps.shift() ?? { end: 'commit' };
  }
}

/** Creates table `n` with ids 1…`rows` (one VALUES list: SQLite engines have no recursive CTE). */
async function numbers(t: Tablet, kind: EngineKind, rows: number): Promise<void> {
  await t.query(kind, 'CREATE TABLE n (id INT PRIMARY KEY, s TEXT)');
  await t.query(kind, `INSERT INTO n VALUES ${Array.from({ length: rows }, (_, i) => `(${i + 1}, 'some text')`).join(', ')}`);
}

describe.each(['do-sqlite', 'pglite'] as const)('limits at a tablet on %s', (kind) => {
  it('a result over the row cap is LIMIT_EXCEEDED naming it; one under it returns whole', async () => {
    const t = tablet(kind);
    await numbers(t, kind, 400);
    expect((await t.query(kind, 'SELECT a.id FROM n a, n b WHERE b.id <= 250')).rows).toHaveLength(LIMITS.resultRows);
    expect(await failure(t.query(kind, 'SELECT a.id FROM n a, n b WHERE b.id <= 251'))).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: expect.stringMatching(/more than 100000 rows/),
      details: { limit: 'result rows' },
    });
  }, 60_000);

  it('a result over the byte cap fails, whole; a write returning it rolls back, in a batch and in a transaction too', async () => {
    const t = tablet(kind);
    await t.query(kind, 'CREATE TABLE big (id INT PRIMARY KEY, s TEXT)');
    // Nine values of 1.9 MB: 17.1 MB, over the 16 MB cap.
    for (let id = 1; id <= 9; id++) await t.query(kind, 'INSERT INTO big VALUES ($1, $2)', [id, 'x'.repeat(1_900_000)]);
    const lsn = (await t.pull(1)).lastLsn;
    const bytes = { code: 'LIMIT_EXCEEDED', details: { limit: 'result bytes' } };
    expect(await failure(t.query(kind, 'SELECT * FROM big'))).toMatchObject(bytes);
    expect((await t.query(kind, 'SELECT id FROM big ORDER BY id')).rows).toHaveLength(9);
    expect(await failure(t.query(kind, "UPDATE big SET s = s || 'y' RETURNING *"))).toMatchObject(bytes);
    // Results of one batch count together: two halves of the table are over the cap as one.
    expect(
      await failure(
        t.batch(
          kind,
          [{ sql: "UPDATE big SET s = s || 'y' WHERE id = 9" }, { sql: 'SELECT * FROM big WHERE id <= 4' }, { sql: 'SELECT * FROM big WHERE id > 4' }],
          { atomic: true },
        ),
      ),
    ).toMatchObject(bytes);
    const tx = new Script([{ sql: "UPDATE big SET s = s || 'y' WHERE id = 1" }, { sql: 'SELECT * FROM big' }]);
    expect(await failure(t.transaction(kind, 'tx-1', tx))).toMatchObject(bytes);
    // Nothing was written: no log record, every row as it was.
    expect((await t.pull(1)).lastLsn).toBe(lsn);
    expect((await t.query(kind, "SELECT count(*) AS n FROM big WHERE s NOT LIKE '%y'")).rows).toEqual([{ n: 9 }]);
  }, 60_000);

  it('a statement over 100 KB is refused before it is parsed; a bad timeoutMs is INVALID', async () => {
    const t = tablet(kind);
    expect((await failure(t.query(kind, `WITH ${'x'.repeat(LIMITS.statementBytes)}`))).details.limit).toBe('statement size');
    expect((await failure(t.batch(kind, [{ sql: 'SELECT 1' }, { sql: `SELECT '${'x'.repeat(LIMITS.statementBytes)}'` }]))).details.limit).toBe(
      'statement size',
    );
    expect((await failure(t.transaction(kind, 'tx-2', new Script([]), { timeoutMs: -1 }))).code).toBe('INVALID');
  }, 60_000);

  it('a write that arrives during a flood of snapshot-page requests waits behind one page, not the flood', async () => {
    const stub = env.TABLET.get(env.TABLET.idFromName(`limits-flood-${kind}-${Math.random()}`));
    await numbers(stubOf<TabletCalls>(stub), kind, 4_000);
    const pages = 20;
    // In the tablet itself, so that what is compared is its queueing, not RPC delivery times.
    const { written, lsns } = await runInDurableObject(stub, async (instance: VTTablet) => {
      const requests = Array.from({ length: pages }, () => instance.snapshot(kind, 'n', null, 4_000));
      // The write arrives as a new request would: on a later turn of the event loop.
      const write = new Promise<TabletResult>((resolve, reject) =>
        setTimeout(() => instance.query(kind, "INSERT INTO n VALUES (0, 'w')").then(resolve, reject), 0),
      );
      return { written: (await write).lsn, lsns: (await Promise.all(requests)).map((p) => p.lsn) };
    });
    // Each page names the LSN it was read at: those read before the write are the ones it waited behind.
    const readBefore = lsns.filter((l) => l < written).length;
    expect(readBefore).toBeLessThanOrEqual(2);
    expect(lsns.filter((l) => l === written)).toHaveLength(pages - readBefore);
  }, 60_000);
});
