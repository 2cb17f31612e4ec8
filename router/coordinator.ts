/**
 * Two-phase commit, coordinator side, pure: what a coordinator's record of one cross-shard
 * transaction says to do next. No I/O here; router/coordinator-do.ts stores the records and
 * carries the actions out (docs/transactions.md).
 *
 * A record is written before any participant is asked to prepare, and the decision is written
 * before any participant is told it. The decision is first come, first served: VTGate's commit
 * (every participant prepared) or rollback, or — when neither came by `decideBy` — the
 * coordinator's own rollback (presumed abort). Once decided it never changes.
 */

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
