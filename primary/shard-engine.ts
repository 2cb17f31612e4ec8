/**
 * What a tablet does differently per engine, in one place: how the engine opens (and recovers
 * after a restart), how a two-phase transaction prepares, how far the change log may be trimmed,
 * and the upkeep its alarm does. The tablet (primary/tablet.ts) holds one and never asks which
 * engine it runs.
 */
import type { CaptureSink, CapturingEngine, EngineKind, Executor } from '../engines/engine.js';
import type { Change } from '../rpc/changes.js';
import type { SnapshotInfo } from './pglite-snapshots.js';

/** A two-phase transaction's statements; says at the end whether it commits or prepares. */
export type TwoPhaseBody = (tx: Executor) => Promise<'commit' | 'prepare'>;

/** The tablet's way to commit a unit: `engine.transaction(fn)` with its crash point before the commit. */
export type CommitAfter = <T>(engine: CapturingEngine, fn: (tx: Executor) => Promise<T>) => Promise<T>;

export interface ShardEngine {
  readonly kind: EngineKind;
  /** Opens the engine with capture on (recovering it first where it must): every committed unit goes to `sink`. */
  open(sink: CaptureSink): Promise<OpenShard>;
  /**
   * Whether the engine commits before `sink` records the unit: a record that then fails leaves the
   * engine ahead of the log, so the tablet must drop it and open it again.
   */
  readonly commitsBeforeRecord: boolean;
  /**
   * The LSN the shard restarts from without the log, when that is not its latest: the log must
   * keep every record after it. Undefined: the storage alone restarts it.
   */
  restartLsn(): number | undefined;
  /** The engine's state saved apart from the log (PGlite's data directory), for the tablet's status. */
  savedState(): SnapshotInfo | undefined;
}

/** A shard whose engine is open. */
export interface OpenShard {
  readonly engine: CapturingEngine;
  /**
   * Runs a two-phase transaction's body; resolves with its changes when it ended with prepare
   * (nothing applied, no record), or undefined when it ended with commit (applied and recorded).
   */
  twoPhase(body: TwoPhaseBody, commitAfter: CommitAfter): Promise<Change[] | undefined>;
  /** Before an explicit trim: moves the restart point up to the latest LSN. */
  beforeTrim(): Promise<void>;
  /** The alarm's upkeep. */
  upkeep(): Promise<void>;
  /** Saves the engine's state apart from the log now; null if it keeps none. */
  saveState(): Promise<SnapshotInfo | null>;
}
