/**
 * A VTGate isolate's cache of sequence ids: blocks taken from the keyspace's sequence DO
 * (router/sequences/sequence-do.ts) and handed out one id at a time. Ids are taken synchronously from
 * what is cached, so concurrent callers never get the same id; when the cache runs low, the
 * next block is fetched ahead (one fetch per sequence at a time). Ids of a block that were not
 * handed out when the isolate ends are skipped, never reused.
 */

export interface BlockSource {
  allocate(sequence: string, count: number): Promise<{ first: number; count: number }>;
}

/** Ids per block fetched from the sequence DO. */
export const BLOCK_SIZE = 500;

interface Cached {
  /** Ranges `[next, end)` not yet handed out, oldest first. */
  ranges: [number, number][];
  fetching?: Promise<void>;
}

export class SequenceCache {
  private readonly sequences = new Map<string, Cached>();

  /**
   * `background` keeps a fetch ahead alive after the request that started it ends (workerd's
   * `waitUntil`); `blockSize` is the least a fetch asks for.
   */
  constructor(
    private readonly background: (p: Promise<unknown>) => void = () => {},
    private readonly blockSize = BLOCK_SIZE,
  ) {}

  /** `count` ids of `sequence`, ascending, none handed out before by this cache. */
  async take(source: BlockSource, sequence: string, count: number): Promise<number[]> {
    const s = this.cached(sequence);
    while (available(s) < count) await this.fetch(source, sequence, s, count - available(s));
    const ids: number[] = [];
    while (ids.length < count) {
      const r = s.ranges[0]!;
      const n = Math.min(count - ids.length, r[1] - r[0]);
      for (let i = 0; i < n; i++) ids.push(r[0] + i);
      r[0] += n;
      if (r[0] === r[1]) s.ranges.shift();
    }
    // Fetch the next block before this one runs out, so callers rarely wait for the DO.
    if (available(s) < this.blockSize / 2 && !s.fetching) this.background(this.fetch(source, sequence, s, 0).catch(() => undefined));
    return ids;
  }

  /** Ids cached per sequence (for tests and metrics). */
  cachedIds(sequence: string): number {
    const s = this.sequences.get(sequence);
    return s ? available(s) : 0;
  }

  private cached(sequence: string): Cached {
    let s = this.sequences.get(sequence);
    if (!s) this.sequences.set(sequence, (s = { ranges: [] }));
    return s;
  }

  /** One fetch at a time per sequence: a caller arriving during a fetch waits for it. */
  private fetch(source: BlockSource, sequence: string, s: Cached, need: number): Promise<void> {
    s.fetching ??= source
      .allocate(sequence, Math.max(this.blockSize, need))
      .then(({ first, count }) => {
        s.ranges.push([first, first + count]);
      })
      .finally(() => {
        s.fetching = undefined;
      });
    return s.fetching;
  }
}

const available = (s: Cached): number => s.ranges.reduce((n, [a, b]) => n + b - a, 0);
