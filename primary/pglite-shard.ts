/**
 * A PGlite shard: PGlite keeps its data in memory, so durability is the change log in the DO's
 * SQLite plus, now and then, a snapshot of the data directory (primary/pglite-snapshots.ts). A
 * restart loads the newest snapshot and replays the log after it; the log keeps every record
 * after that snapshot. PGlite commits before the log records the unit (the capture sink runs
 * right after the commit), and captures a transaction that prepares into a table it rolls back.
 */
import { applyChanges } from '../changelog/apply.js';
import type { ChangeLog } from '../changelog/log.js';
import type { CaptureSink } from '../engines/engine.js';
import { ADVANCE_SEQUENCES_SQL } from '../engines/pg-sequences.js';
import type { PgliteEngine } from '../engines/pglite.js';
import type { AssetsBinding } from '../engines/pglite-workerd.js';
import { openWorkerdPglite } from '../engines/workerd-pglite.js';
import type { Mutex } from '../engines/mutex.js';
import type { Change } from '../rpc/changes.js';
import { PgliteSnapshots, type SnapshotInfo } from './pglite-snapshots.js';
import type { PreparedStore } from './prepared.js';
import type { CommitAfter, OpenShard, ShardEngine, TwoPhaseBody } from './shard-engine.js';

/** Snapshots the data directory after this many records, or once a minute while written to (on the alarm). */
const SNAPSHOT_EVERY = 500;
const SNAPSHOT_MAX_AGE_MS = 60_000;
/** Thrown to roll back the transaction that moves a restarted PGlite's sequences (`advanceSequences`). */
const ADVANCED = Symbol('advanced');

export interface PgliteShardDeps {
  storage: DurableObjectStorage;
  log: ChangeLog;
  prepared: PreparedStore;
  /** The tablet's write lock: a snapshot is taken between units, so it matches an LSN. */
  writeLock: Mutex;
  /** The static assets holding PGlite's data files (engines/pglite-workerd.ts). */
  assets: AssetsBinding | undefined;
}

export class PgliteShard implements ShardEngine {
  readonly kind = 'pglite';
  readonly commitsBeforeRecord = true;
  private readonly snapshots: PgliteSnapshots;

  constructor(private readonly deps: PgliteShardDeps) {
    this.snapshots = new PgliteSnapshots(deps.storage);
  }

  async open(sink: CaptureSink): Promise<OpenShard> {
    const { log } = this.deps;
    const snapshot = this.snapshots.latest();
    const data = this.snapshots.load();
    // Client statements run as an unprivileged role once capture is on (engines/capture-pg.ts).
    const engine = await openWorkerdPglite({ assets: this.deps.assets, ...(data && { dataDir: data }) }, { unprivileged: true });
    for (let from = (snapshot?.lsn ?? 0) + 1; from <= log.lastLsn; ) {
      const { records } = log.pull(from, { maxRecords: 500 });
      for (const r of records) await engine.transaction((tx) => applyChanges(tx, r.changes));
      from = records.at(-1)!.lsn + 1;
    }
    await this.advanceSequences(engine);
    await engine.enableCapture(sink);
    return {
      engine,
      twoPhase: (body, commitAfter) => this.twoPhase(engine, body, commitAfter),
      beforeTrim: async () => {
        if (this.restartLsn() < log.lastLsn) await this.saveState(engine);
      },
      upkeep: () => this.upkeep(engine),
      saveState: () => this.saveState(engine),
    };
  }

  /**
   * Moves a restarted PGlite's sequences past every value replay wrote, and past those a prepared
   * transaction holds: its rows are not in the tables, and the instance that took their values
   * from the sequences is gone. So its changes are applied in a transaction that rolls back
   * after the sequences moved (setval is never rolled back).
   */
  private async advanceSequences(engine: PgliteEngine): Promise<void> {
    const { prepared } = this.deps;
    const pending = prepared.list();
    if (!pending.length) return engine.advanceSequences();
    await engine
      .transaction(async (tx) => {
        for (const { txid } of pending) await applyChanges(tx, prepared.get(txid)!);
        await tx.query(ADVANCE_SEQUENCES_SQL);
        throw ADVANCED;
      })
      .catch((e: unknown) => {
        if (e !== ADVANCED) throw e;
      });
  }

  /**
   * PGlite must capture into a table from the start (`engine.prepare`, always rolled back), so a
   * body that ends with commit has its captured changes applied again, as one unit.
   */
  private async twoPhase(engine: PgliteEngine, body: TwoPhaseBody, commitAfter: CommitAfter): Promise<Change[] | undefined> {
    let end: 'commit' | 'prepare' = 'prepare';
    const changes = await engine.prepare(async (tx) => {
      end = await body(tx);
    });
    if (end === 'prepare') return changes;
    await commitAfter(engine, (tx) => applyChanges(tx, changes));
    return undefined;
  }

  restartLsn(): number {
    return this.snapshots.latest()?.lsn ?? 0;
  }

  /** Often enough to keep replay short, rarely enough not to rewrite the data directory constantly. */
  private async upkeep(engine: PgliteEngine): Promise<void> {
    const snap = this.snapshots.latest();
    const since = this.deps.log.lastLsn - (snap?.lsn ?? 0);
    if (since >= SNAPSHOT_EVERY || (since > 0 && Date.now() - (snap?.taken ?? 0) >= SNAPSHOT_MAX_AGE_MS)) await this.saveState(engine);
  }

  /** Under the write lock, so the data directory is exactly the state at this LSN. */
  private saveState(engine: PgliteEngine): Promise<SnapshotInfo> {
    return this.deps.writeLock.run(async () => this.snapshots.save(await engine.dumpDataDir(), this.deps.log.lastLsn));
  }

  savedState(): SnapshotInfo | undefined {
    return this.snapshots.latest();
  }
}
