/**
 * A DO SQLite shard: the engine is the Durable Object's own storage, whose triggers write change
 * rows straight into the log (changelog/log.ts, IN_PLACE_LOG), committed in the same storage
 * transaction as the data. Nothing to recover after a restart, and no restart point holding the
 * log back.
 */
import { type ChangeLog, IN_PLACE_LOG } from '../changelog/log.js';
import { DoSqliteEngine } from '../engines/do-sqlite.js';
import type { CaptureSink } from '../engines/engine.js';
import type { Change } from '../rpc/changes.js';
import { failpoint } from './failpoints.js';
import type { OpenShard, ShardEngine, TwoPhaseBody } from './shard-engine.js';

/** Thrown out of the storage transaction of a two-phase transaction that prepares, to roll it back. */
const PREPARING = Symbol('preparing');

export class SqliteShard implements ShardEngine {
  readonly kind = 'do-sqlite';
  readonly commitsBeforeRecord = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly log: ChangeLog,
  ) {}

  async open(sink: CaptureSink): Promise<OpenShard> {
    const engine = new DoSqliteEngine(this.storage, IN_PLACE_LOG);
    await engine.enableCapture(sink);
    const nothing = async () => {};
    return {
      engine,
      twoPhase: (body) => this.twoPhase(engine, body),
      beforeTrim: nothing,
      upkeep: nothing,
      saveState: async () => null,
    };
  }

  /**
   * Decided at the end, in one storage transaction: commit writes the changes once, like any
   * transaction; prepare reads the change rows the triggers wrote so far (not sealed into a
   * record yet) and rolls everything back.
   */
  private async twoPhase(engine: DoSqliteEngine, body: TwoPhaseBody): Promise<Change[] | undefined> {
    let prepared: Change[] | undefined;
    try {
      await engine.transaction(async (tx) => {
        if ((await body(tx)) === 'prepare') {
          prepared = this.log.unsealed();
          throw PREPARING;
        }
        await failpoint('tablet-capture'); // as in the tablet's commitAfter
      });
    } catch (e) {
      if (e !== PREPARING) throw e;
    }
    return prepared;
  }

  restartLsn(): undefined {
    return undefined;
  }

  savedState(): undefined {
    return undefined;
  }
}
