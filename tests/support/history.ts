/**
 * A history checker in the spirit of Jepsen's Elle, small enough to read: clients record every
 * operation they run (what they wrote or read, how it ended, the session's bookmark around it,
 * when it started and ended), and `check` decides afterwards whether the history and the final
 * state break a guarantee. Decidable because each key's writes carry unique values that increase
 * in the order they are issued, and a key's writes never overlap in time (the history's author
 * keeps to that; `check` refuses a history that does not).
 */
import { decodeBookmark, type Positions } from '../../rpc/bookmark.js';

export type Outcome = 'ok' | 'failed' | 'unknown';

/** A key's value; null: the key is absent. */
export type Value = number | null;

export interface Op {
  session: string;
  /** `tx`: writes of several keys, all or none. */
  kind: 'write' | 'read' | 'tx';
  keys: string[];
  /** Written (write, tx) or seen (read), one per key. */
  values: Value[];
  /** `unknown`: it may or may not have taken effect (e.g. the connection dropped). */
  outcome: Outcome;
  bookmarkBefore: string;
  bookmarkAfter: string;
  /** Logical times (`History.tick`): `a.endedAt < b.startedAt` means a finished before b began. */
  startedAt: number;
  endedAt: number;
}

/** The outcome of an operation that threw `e`. */
export type OutcomeOf = (e: unknown) => Outcome;

export class History {
  readonly ops: Op[] = [];
  #clock = 0;

  /** The next logical time: one process, so every start and end gets its own. */
  tick(): number {
    return ++this.#clock;
  }

  /**
   * Runs `fn` as one operation of `session` and records it. A write names its values up front;
   * a read's are what `fn` returns. A throw ends it with `outcomeOf(e)` (not rethrown).
   */
  async record(
    session: { name: string; bookmark: () => string },
    op: { kind: Op['kind']; keys: string[]; values?: Value[] },
    fn: () => Promise<Value[] | void>,
    outcomeOf: OutcomeOf,
  ): Promise<Op> {
    const bookmarkBefore = session.bookmark();
    const startedAt = this.tick();
    let values = op.values ?? [];
    let outcome: Outcome = 'ok';
    try {
      values = (await fn()) ?? values;
    } catch (e) {
      outcome = outcomeOf(e);
    }
    const done: Op = { session: session.name, ...op, values, outcome, bookmarkBefore, bookmarkAfter: session.bookmark(), startedAt, endedAt: this.tick() };
    this.ops.push(done);
    return done;
  }
}

interface Write {
  op: Op;
  key: string;
  value: number;
}

const writesOf = (ops: Op[]): Write[] =>
  ops.filter((o) => o.kind !== 'read').flatMap((op) => op.keys.map((key, i) => ({ op, key, value: op.values[i] as number })));

const show = (o: Op): string => `${o.session} ${o.kind} ${o.keys.map((k, i) => `${k}=${o.values[i]}`).join(' ')} [${o.startedAt}-${o.endedAt}]`;

/** null (absent) is older than every value. */
const older = (a: Value, b: Value): boolean => (a ?? -Infinity) < (b ?? -Infinity);

/**
 * The guarantees `history` and the `final` state (every key written, as read at the end) break;
 * none: an empty list.
 *  - lost write: an acknowledged write is neither in the final state nor overwritten by a later write;
 *  - failed write visible: a failed write's value is in the final state or was read;
 *  - read-your-writes: a read misses a write its session had acknowledged before it started;
 *  - monotonic reads: a session reads an older value of a key than one it read before;
 *  - bookmark moved back: a session's bookmark went back on some shard;
 *  - half-applied transaction: one of a transaction's writes is seen (at the end or by a read)
 *    while another of its keys ends older than what the transaction wrote there.
 */
export function check(history: Op[], final: Record<string, Value>): string[] {
  const out: string[] = [];
  const writes = writesOf(history);
  const byKey = new Map<string, Write[]>();
  for (const w of writes) byKey.set(w.key, [...(byKey.get(w.key) ?? []), w]);
  for (const [key, ws] of byKey) {
    const sorted = [...ws].sort((a, b) => a.value - b.value);
    sorted.forEach((w, i) => {
      const prev = sorted[i - 1];
      if (prev && !(prev.value < w.value && prev.op.endedAt < w.op.startedAt))
        throw new Error(`not checkable: writes of ${key} overlap or repeat a value: ${show(prev.op)}, ${show(w.op)}`);
    });
    const now = final[key] ?? null;
    for (const w of ws) {
      if (w.op.outcome === 'ok' && older(now, w.value)) out.push(`lost write: ${show(w.op)}, but ${key} is ${now} at the end`);
      if (w.op.outcome === 'failed' && now === w.value) out.push(`failed write visible: ${show(w.op)}, yet ${key} is ${now} at the end`);
    }
  }

  const failed = new Set(writes.filter((w) => w.op.outcome === 'failed').map((w) => `${w.key}=${w.value}`));
  const reads = history.filter((o) => o.kind === 'read' && o.outcome === 'ok');
  for (const r of reads) {
    r.keys.forEach((key, i) => {
      const seen = r.values[i] ?? null;
      if (failed.has(`${key}=${seen}`)) out.push(`failed write visible: ${show(r)} saw a failed write's value`);
      for (const w of byKey.get(key) ?? []) {
        if (w.op.session === r.session && w.op.outcome === 'ok' && w.op.endedAt < r.startedAt && older(seen, w.value)) {
          out.push(`read-your-writes: ${show(r)} misses ${show(w.op)}`);
        }
      }
      for (const before of reads) {
        if (before.session !== r.session || before.endedAt >= r.startedAt) continue;
        const j = before.keys.indexOf(key);
        if (j >= 0 && older(seen, before.values[j] ?? null)) out.push(`monotonic reads: ${show(r)} after ${show(before)}`);
      }
    });
  }

  const seen = (key: string, value: number): boolean => final[key] === value || reads.some((r) => r.keys.some((k, i) => k === key && r.values[i] === value));
  for (const t of history.filter((o) => o.kind === 'tx' && o.outcome !== 'failed' && o.keys.length > 1)) {
    const vs = t.values as number[];
    if (!t.keys.some((k, i) => seen(k, vs[i]!))) continue;
    const behind = t.keys.filter((k, i) => older(final[k] ?? null, vs[i]!));
    if (behind.length) out.push(`half-applied transaction: ${show(t)}, but ${behind.map((k) => `${k} is ${final[k] ?? null}`).join(', ')} at the end`);
  }

  // The session's bookmark, sampled before and after each of its operations, in time order.
  const samples = history
    .flatMap((o) => [
      { session: o.session, at: o.startedAt, bookmark: o.bookmarkBefore, op: o },
      { session: o.session, at: o.endedAt, bookmark: o.bookmarkAfter, op: o },
    ])
    .sort((a, b) => a.at - b.at);
  const last = new Map<string, Positions>();
  for (const s of samples) {
    const now = decodeBookmark(s.bookmark);
    const prev = last.get(s.session) ?? {};
    const back = Object.keys(prev).filter((shard) => (now[shard] ?? 0) < prev[shard]!);
    if (back.length) out.push(`bookmark moved back: ${s.session} on ${back.map((k) => `${k} ${prev[k]} → ${now[k] ?? 0}`).join(', ')} at ${show(s.op)}`);
    last.set(s.session, now);
  }
  return [...new Set(out)];
}
