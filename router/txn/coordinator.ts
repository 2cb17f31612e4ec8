/**
 * Two-phase commit, coordinator side, pure: what a coordinator's record of one cross-shard
 * transaction says to do next. No I/O here; router/txn/coordinator-do.ts stores the records and
 * carries the actions out (docs/transactions.md).
 *
 * A record is written before any participant is asked to prepare, and the decision is written
 * before any participant is told it. The decision is first come, first served: VTGate's commit
 * (every participant prepared) or rollback, or — when neither came by `decideBy` — the
 * coordinator's own rollback (presumed abort). Once decided it never changes.
 *
 * Also DDL intents (`DdlIntent`, below): a DDL statement recorded before it reaches the shards of
 * a keyspace, so that it ends on every shard or on none.
 */

import type { EngineKind } from '../../engines/engine.js';

export type Decision = 'commit' | 'rollback';

export interface TxRecord {
  txid: string;
  /** `keyspace/shard` of every participant. */
  participants: string[];
  decision: Decision | null;
  /** Participants that acknowledged the decision. */
  acked: string[];
  /** Without a decision by then, the transaction is rolled back. */
  decideBy: number;
  /**
   * A rolled-back record is kept until then and the rollback sent once more before it is
   * forgotten: a participant whose prepare was still in flight at the decision is rolled back
   * too. Participants refuse to prepare after their `prepareBy` (VTGate passes the same
   * deadline as `participantTimeoutMs`), so none prepares after this.
   */
  forgetAt: number;
}

/** How often unacknowledged participants are told the decision again. */
export const RESEND_MS = 1_000;

/**
 * VTGate's commit or rollback waits this long before each further attempt at a participant
 * that did not take the decision, before it answers: a passing failure (an overloaded or
 * restarting tablet) is then not left to the resend.
 */
export const RETRY_DELAYS_MS = [50, 200] as const;

export type Action =
  | { kind: 'wait'; until: number }
  /** Record a rollback decision, then send it. */
  | { kind: 'rollback' }
  /** Send the decision to these participants. */
  | { kind: 'send'; decision: Decision; to: string[] }
  /** Send the rollback to everyone once more, then forget the record. */
  | { kind: 'sweep'; to: string[] }
  | { kind: 'forget' };

export function newRecord(txid: string, participants: string[], now: number, decideWithinMs: number, participantTimeoutMs: number): TxRecord {
  if (new Set(participants).size !== participants.length || participants.length < 2) {
    throw new Error(`a two-phase transaction needs two or more distinct participants, got ${participants.join(', ')}`);
  }
  return {
    txid,
    participants,
    decision: null,
    acked: [],
    decideBy: now + decideWithinMs,
    forgetAt: now + Math.max(decideWithinMs, participantTimeoutMs) + RESEND_MS,
  };
}

/**
 * `participant` joins a transaction begun with others (VTGate enlists each shard as its
 * transaction reaches it, before any is asked to prepare). Undefined once decided: a participant
 * that joins a decided (rolled-back) transaction must not prepare.
 */
export function enlist(rec: TxRecord, participant: string): TxRecord | undefined {
  if (rec.decision) return undefined;
  return rec.participants.includes(participant) ? rec : { ...rec, participants: [...rec.participants, participant] };
}

/** The decision that holds after `wanted` was asked for: the first one recorded wins. */
export function decide(rec: TxRecord, wanted: Decision): TxRecord {
  return rec.decision ? rec : { ...rec, decision: wanted, acked: [] };
}

export function acknowledge(rec: TxRecord, participant: string): TxRecord {
  return rec.acked.includes(participant) ? rec : { ...rec, acked: [...rec.acked, participant] };
}

export const unacked = (rec: TxRecord): string[] => rec.participants.filter((p) => !rec.acked.includes(p));

/** What recovery does with a record at time `now`. */
export function nextAction(rec: TxRecord, now: number): Action {
  if (!rec.decision) return now >= rec.decideBy ? { kind: 'rollback' } : { kind: 'wait', until: rec.decideBy };
  const to = unacked(rec);
  if (to.length) return { kind: 'send', decision: rec.decision, to };
  if (rec.decision === 'commit') return { kind: 'forget' };
  return now >= rec.forgetAt ? { kind: 'sweep', to: rec.participants } : { kind: 'wait', until: rec.forgetAt };
}

/** When recovery must look at a record again (after `nextAction` was carried out, or failed). */
export function wakeAt(rec: TxRecord, now: number): number {
  const a = nextAction(rec, now);
  return a.kind === 'wait' ? a.until : now + RESEND_MS;
}

/** The coordinator partition a transaction belongs to (txids are random UUIDs). */
export function partitionOf(txid: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < txid.length; i++) h = (h * 31 + txid.charCodeAt(i)) >>> 0;
  return h % partitions;
}

/**
 * DDL across shards (docs/transactions.md, "DDL across shards"): before VTGate sends a DDL
 * statement to the shards of a keyspace, the keyspace's DDL coordinator (`ddl/<keyspace>`)
 * records it as an intent. The first shard (in key order) decides: it is sent there alone, and
 * if that shard refuses it, nothing applied it anywhere and the intent is dropped (the refusal is
 * the client's answer). Once the first shard applied it, every other shard must: it is sent to
 * them, and again by recovery to those that have not acknowledged, until all have. Each shard
 * applies an intent at most once (it remembers the ids it applied with the DDL's log record).
 */
export interface DdlIntent {
  id: string;
  keyspace: string;
  engine: EngineKind;
  /** Run on each shard in one transaction, in order (the statement and, e.g., its lookup tables). */
  statements: string[];
  /** The keyspace's shards in key order; the first one's answer decides. */
  shards: string[];
  /** Shards that applied it. */
  applied: string[];
  /** Sends by recovery so far: they back off (RESEND_MS doubling up to DDL_RESEND_MAX_MS). */
  resends: number;
  /**
   * The last refusal of each shard that refused after the first applied the intent: its schema
   * differs from the first shard's. Recovery keeps sending (backing off) until an operator
   * makes the shard accept it.
   */
  refusals?: Record<string, string>;
}

/** Recovery sends a pending DDL intent at most this far apart. */
export const DDL_RESEND_MAX_MS = 60_000;

export type DdlStep =
  /** Send to the first shard alone: its answer decides whether the intent goes on or is dropped. */
  | { kind: 'decide'; shard: string }
  /** The first shard applied it: send to these, which have not. */
  | { kind: 'apply'; to: string[] }
  /** Every shard applied it: forget it. */
  | { kind: 'done' };

export function newDdlIntent(id: string, keyspace: string, engine: DdlIntent['engine'], statements: string[], shards: string[]): DdlIntent {
  if (!statements.length || new Set(shards).size !== shards.length || shards.length < 2) {
    throw new Error(`a DDL intent needs statements and two or more distinct shards, got ${shards.join(', ')}`);
  }
  return { id, keyspace, engine, statements, shards, applied: [], resends: 0 };
}

export function nextDdlStep(i: DdlIntent): DdlStep {
  const first = i.shards[0]!;
  if (!i.applied.includes(first)) return { kind: 'decide', shard: first };
  const to = i.shards.filter((s) => !i.applied.includes(s));
  return to.length ? { kind: 'apply', to } : { kind: 'done' };
}

/** `shard` applied the intent (now, or before: a resend it answered "already applied"). */
export function ddlApplied(i: DdlIntent, shard: string): DdlIntent {
  if (i.applied.includes(shard)) return i;
  const { [shard]: _, ...refusals } = i.refusals ?? {};
  return { ...i, applied: [...i.applied, shard], ...(i.refusals && { refusals }) };
}

/** When recovery next sends a pending intent. */
export const ddlWakeAt = (i: DdlIntent, now: number): number => now + Math.min(RESEND_MS * 2 ** Math.min(i.resends, 16), DDL_RESEND_MAX_MS);
