// The two-phase-commit participant (VTTablet) when the coordinator's rollback comes before the
// prepare (issue 21, defect 8): VTGate gave up on the transaction (another shard failed to
// prepare, or the coordinator rolled back at its decision deadline) while this shard's prepare
// was still on its way. The prepare that lands afterwards must not hold the shard.
import { env, RpcTarget } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { EngineKind } from '../../engines/engine.js';
import type { TxReply, TxStep } from '../../primary/interactive.js';
import type { VTTablet } from '../../primary/tablet.js';
import { asVitessError } from '../../rpc/errors.js';

type Tablet = Pick<VTTablet, 'query' | 'transaction' | 'rollbackPrepared' | 'listPrepared'>;

const tablet = (kind: EngineKind): Tablet => env.TABLET.getByName(`twopc-${kind}-${crypto.randomUUID()}`) as unknown as Tablet;

/** A driver whose steps the test hands over one by one (`step`), as VTGate does. */
class Steps extends RpcTarget {
  private readonly queue: TxStep[] = [];
  private waiting: ((s: TxStep) => void) | undefined;
  readonly replies: TxReply[] = [];

  next(reply: TxReply): Promise<TxStep> {
    if (reply) this.replies.push(reply);
    const s = this.queue.shift();
    return s ? Promise.resolve(s) : new Promise((resolve) => { this.waiting = resolve; });
  }

  step(s: TxStep): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w) w(s);
    else this.queue.push(s);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(['do-sqlite', 'pglite'] as const)('two-phase participant on %s', (kind) => {
  it('a prepare that arrives after the coordinator rolled the transaction back is refused: nothing stays prepared, the shard is free at once', async () => {
    const t = tablet(kind);
    await t.query(kind, 'CREATE TABLE late (id INT PRIMARY KEY, n INT)');
    await t.query(kind, 'INSERT INTO late VALUES (1, 0)');
    const driver = new Steps();
    const outcome = t.transaction(kind, 'gtx-late-prepare', driver, { twoPhase: true }).then((o) => o.outcome, (e: unknown) => asVitessError(e).code);
    driver.step({ sql: 'UPDATE late SET n = n + 1 WHERE id = 1' });
    while (!driver.replies.length) await sleep(10);
    // The coordinator's rollback. On DO SQLite it waits at the input gate while the transaction
    // is open; on PGlite it is answered at once: either way it must not be lost.
    const rolledBack = t.rollbackPrepared('gtx-late-prepare');
    await Promise.race([rolledBack, sleep(200)]);
    driver.step({ end: 'prepare' });
    // PGlite: the prepare is refused. DO SQLite: the rollback got in only after the prepare, and undid it.
    expect(await outcome).toBe(kind === 'pglite' ? 'TIMEOUT' : 'prepared');
    expect(await rolledBack).toMatchObject({ outcome: 'rolled back' });
    expect(await t.listPrepared()).toEqual([]);
    // A write gets through at once instead of waiting behind a prepared transaction nobody decides.
    const started = Date.now();
    await t.query(kind, 'UPDATE late SET n = n + 10 WHERE id = 1');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await t.query(kind, 'SELECT n FROM late')).rows).toEqual([{ n: 10 }]);
  }, 60_000);
});
