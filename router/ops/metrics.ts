/**
 * What VTGate counts, for `GET /metrics` (Prometheus text, router/ops/metrics-format.ts) and the
 * dashboard's recent errors.
 *
 * A deployed Worker runs in many isolates, each with its own module state, and a scrape reaches
 * one of them. So the counters and histograms here are **per isolate, since it started**: every
 * series carries an `isolate` label (a random id) and `vitess_isolate_start_time_seconds` says
 * when it began, so `sum(rate(...))` over the series a scraper has seen is meaningful and an
 * isolate going away looks like what it is. Under `wrangler dev` there is one isolate and the
 * figures are complete. The gauges that come from the shards (LSNs, replica lag, prepared 2PC
 * transactions) are read from the Durable Objects at scrape time and are the same from any
 * isolate.
 */
import { fingerprint } from './fingerprint.js';
import { asVitessError } from '../../rpc/errors.js';
import type { GatewayStatus } from '../../rpc/protocol.js';
import type { HistogramSample, Labels, MetricFamily, Sample } from './metrics-format.js';

/** Query latency buckets in seconds: a DO round trip is ~1 ms locally, a cold PGlite ~2 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** How many recent errors an isolate keeps for the dashboard. */
export const RECENT_ERRORS = 50;

const key = (labels: Labels): string => JSON.stringify(labels);

class Counters {
  readonly #series = new Map<string, Sample>();

  add(labels: Labels, by = 1): void {
    const k = key(labels);
    const s = this.#series.get(k);
    if (s) s.value += by;
    else this.#series.set(k, { labels, value: by });
  }

  samples(): Sample[] {
    return [...this.#series.values()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
  }
}

class Histograms {
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number }>();

  observe(labels: Labels, value: number): void {
    const k = key(labels);
    let s = this.#series.get(k);
    if (!s) this.#series.set(k, (s = { labels, counts: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0), sum: 0 }));
    const i = LATENCY_BUCKETS.findIndex((b) => value <= b);
    s.counts[i < 0 ? LATENCY_BUCKETS.length : i]! += 1;
    s.sum += value;
  }

  samples(): HistogramSample[] {
    return [...this.#series.values()].map((s) => ({ labels: { ...s.labels }, bounds: LATENCY_BUCKETS, counts: [...s.counts], sum: s.sum }));
  }
}

export interface QueryObservation {
  keyspace: string;
  /** The plan kind, once planning got that far (`none` otherwise). */
  plan?: string;
  /** `ok`, or the error's code. */
  outcome: string;
  seconds: number;
  rows: number;
  affected: number;
  /** Who served a successful statement. */
  role?: 'primary' | 'replica';
}

export interface RecentError {
  /** ms since the epoch. */
  at: number;
  keyspace: string;
  code: string;
  message: string;
  sql: string;
}

/** How transactions ended in this isolate (router/txn/shard-transaction.ts keeps these). */
export interface TransactionCounts {
  singleShard: number;
  twoPhaseCommitted: number;
  twoPhaseRolledBack: number;
  twoPhaseUnknown: number;
  aborted: number;
}

export class GatewayMetrics {
  readonly isolate = crypto.randomUUID().slice(0, 8);
  readonly startedAt = Date.now();
  readonly #queries = new Counters();
  readonly #latency = new Histograms();
  readonly #rows = new Counters();
  readonly #affected = new Counters();
  readonly #reads = new Counters();
  readonly #pages = new Counters();
  readonly #events = new Counters();
  readonly #polls = new Map<string, number>();
  readonly #errors: RecentError[] = [];

  query(o: QueryObservation): void {
    const base = { isolate: this.isolate, keyspace: o.keyspace, plan: o.plan ?? 'none' };
    this.#queries.add({ ...base, outcome: o.outcome });
    this.#latency.observe(base, o.seconds);
    if (o.rows) this.#rows.add(base, o.rows);
    if (o.affected) this.#affected.add(base, o.affected);
    if (o.role) this.#reads.add({ isolate: this.isolate, keyspace: o.keyspace, role: o.role });
  }

  error(e: RecentError): void {
    this.#errors.push(e);
    if (this.#errors.length > RECENT_ERRORS) this.#errors.shift();
  }

  /** Newest first. */
  recentErrors(): RecentError[] {
    return [...this.#errors].reverse();
  }

  streamPage(keyspace: string, events: number): void {
    this.#pages.add({ isolate: this.isolate, keyspace });
    if (events) this.#events.add({ isolate: this.isolate, keyspace }, events);
  }

  polling(keyspace: string, delta: 1 | -1): void {
    this.#polls.set(keyspace, (this.#polls.get(keyspace) ?? 0) + delta);
  }

  families(tx: TransactionCounts): MetricFamily[] {
    const iso = { isolate: this.isolate };
    const outcomes = (pairs: [string, number][]): Sample[] => pairs.map(([outcome, value]) => ({ labels: { ...iso, outcome }, value }));
    return [
      {
        name: 'vitess_isolate_start_time_seconds',
        help: 'When this isolate started counting (the counters below are per isolate since then).',
        type: 'gauge',
        samples: [{ labels: iso, value: this.startedAt / 1000 }],
      },
      {
        name: 'vitess_queries_total',
        help: 'Statements run, by keyspace, plan kind and outcome (ok or the error code).',
        type: 'counter',
        samples: this.#queries.samples(),
      },
      {
        name: 'vitess_query_duration_seconds',
        help: 'Statement latency in VTGate, planning to merged result.',
        type: 'histogram',
        samples: this.#latency.samples(),
      },
      { name: 'vitess_rows_returned_total', help: 'Rows returned to clients.', type: 'counter', samples: this.#rows.samples() },
      { name: 'vitess_rows_affected_total', help: 'Rows inserted, updated or deleted.', type: 'counter', samples: this.#affected.samples() },
      {
        name: 'vitess_statements_served_total',
        help: 'Successful statements by who served them: primaries, or replicas for every shard.',
        type: 'counter',
        samples: this.#reads.samples(),
      },
      { name: 'vitess_stream_pages_total', help: 'Change-stream pages served (one per subscriber pull).', type: 'counter', samples: this.#pages.samples() },
      { name: 'vitess_stream_events_total', help: 'Change events delivered to subscribers.', type: 'counter', samples: this.#events.samples() },
      {
        name: 'vitess_stream_subscribers',
        help: 'Subscriber pulls open in this isolate now (a waiting subscriber holds one).',
        type: 'gauge',
        samples: [...this.#polls].map(([keyspace, value]) => ({ labels: { ...iso, keyspace }, value })),
      },
      {
        name: 'vitess_transactions_total',
        help: 'Transactions (interactive and atomic batches) by outcome: committed on one shard, or aborted before commit.',
        type: 'counter',
        samples: outcomes([
          ['single_shard_committed', tx.singleShard],
          ['aborted', tx.aborted],
        ]),
      },
      {
        name: 'vitess_2pc_transactions_total',
        help: 'Cross-shard (two-phase commit) transactions by outcome; unknown: VTGate lost the answer, the coordinator finishes them.',
        type: 'counter',
        samples: outcomes([
          ['committed', tx.twoPhaseCommitted],
          ['rolled_back', tx.twoPhaseRolledBack],
          ['unknown', tx.twoPhaseUnknown],
        ]),
      },
    ];
  }
}

let current: GatewayMetrics | undefined;

/** This isolate's metrics, made on first use (workerd allows no random values or clock at module load). */
export function metrics(): GatewayMetrics {
  return (current ??= new GatewayMetrics());
}

/** What a statement's result tells the metrics. */
export interface ObservedResult {
  plan: string;
  rows: unknown[];
  affected: number;
  role: 'primary' | 'replica';
}

/**
 * Runs one statement and records it: latency, outcome, rows, and on failure a recent error.
 * `seen.plan` is set by the caller once the statement is planned, so failures carry it too.
 */
export async function observeQuery<R extends ObservedResult>(keyspace: string, sql: string, run: (seen: { plan?: string }) => Promise<R>): Promise<R> {
  const seen: { plan?: string } = {};
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    const r = await run(seen);
    metrics().query({ keyspace, plan: r.plan, outcome: 'ok', seconds: seconds(), rows: r.rows.length, affected: r.affected, role: r.role });
    return r;
  } catch (e) {
    const err = asVitessError(e);
    metrics().query({ keyspace, ...(seen.plan && { plan: seen.plan }), outcome: err.code, seconds: seconds(), rows: 0, affected: 0 });
    metrics().error({ at: Date.now(), keyspace, code: err.code, message: err.message, sql: fingerprint(sql) });
    throw e;
  }
}

/** Runs one change-stream pull and records it (an open pull counts as a subscriber). */
export async function observeStream<P extends { events: unknown[] }>(keyspace: string, pull: () => Promise<P>): Promise<P> {
  metrics().polling(keyspace, 1);
  try {
    const page = await pull();
    metrics().streamPage(keyspace, page.events.length);
    return page;
  } finally {
    metrics().polling(keyspace, -1);
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The shards' gauges from `/status`: the same whichever isolate answers. */
export function statusFamilies(status: GatewayStatus): MetricFamily[] {
  const lsn: Sample[] = [];
  const first: Sample[] = [];
  const prepared: Sample[] = [];
  const applied: Sample[] = [];
  const lagRecords: Sample[] = [];
  const lagSeconds: Sample[] = [];
  const state: Sample[] = [];
  for (const ks of status.keyspaces) {
    for (const s of ks.shards) {
      const shard = { keyspace: ks.name, shard: s.shard };
      lsn.push({ labels: shard, value: s.lsn });
      const f = num(s.firstLsn);
      if (f !== undefined) first.push({ labels: shard, value: f });
      const p = num(s.prepared);
      if (p !== undefined) prepared.push({ labels: shard, value: p });
      for (const r of (Array.isArray(s.replicas) ? s.replicas : []) as Record<string, unknown>[]) {
        const labels = { ...shard, region: String(r.region) };
        state.push({ labels: { ...labels, state: String(r.state) }, value: 1 });
        const a = num(r.appliedLsn);
        if (a === undefined) continue; // not started: nothing applied to report
        applied.push({ labels, value: a });
        lagRecords.push({ labels, value: num(r.lagRecords) ?? 0 });
        lagSeconds.push({ labels, value: (num(r.lagMs) ?? 0) / 1000 });
      }
    }
  }
  return [
    { name: 'vitess_shard_lsn', help: "The shard primary's last committed LSN (one per commit: its rate is the write rate).", type: 'gauge', samples: lsn },
    { name: 'vitess_shard_first_lsn', help: "The oldest LSN still in the shard's change log (trimmed below).", type: 'gauge', samples: first },
    {
      name: 'vitess_shard_prepared_transactions',
      help: 'Two-phase-commit transactions prepared on the shard and not yet decided.',
      type: 'gauge',
      samples: prepared,
    },
    {
      name: 'vitess_replica_state',
      help: 'Each replica, labelled with its state (streaming, bootstrapping, behind, not started).',
      type: 'gauge',
      samples: state,
    },
    { name: 'vitess_replica_applied_lsn', help: 'The LSN the replica has applied.', type: 'gauge', samples: applied },
    { name: 'vitess_replica_lag_records', help: 'Commits the replica is behind its primary.', type: 'gauge', samples: lagRecords },
    {
      name: 'vitess_replica_lag_seconds',
      help: 'Age of the oldest commit the replica has not applied (0 when caught up).',
      type: 'gauge',
      samples: lagSeconds,
    },
  ];
}
