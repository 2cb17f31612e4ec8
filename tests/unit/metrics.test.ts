// GET /metrics, pure parts: the Prometheus text format (checked with a real parser), the
// isolate's counters and histograms, and the shards' gauges from a status.
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { formatPrometheus, type MetricFamily } from '../../router/ops/metrics-format.js';
import { GatewayMetrics, LATENCY_BUCKETS, RECENT_ERRORS, statusFamilies } from '../../router/ops/metrics.js';
import type { GatewayStatus } from '../../rpc/protocol.js';

describe('formatPrometheus', () => {
  it('writes HELP, TYPE and samples a parser reads back, escaping label values and help', () => {
    const families: MetricFamily[] = [
      {
        name: 'c_total',
        help: 'a "counter"\nwith \\ two lines',
        type: 'counter',
        samples: [
          { labels: { path: 'C:\\dir', msg: 'say "hi"\nbye' }, value: 3 },
          { labels: {}, value: 1.5 },
        ],
      },
      { name: 'g', help: 'gauge', type: 'gauge', samples: [{ labels: { x: 'y' }, value: Infinity }] },
      { name: 'empty_total', help: 'no samples yet', type: 'counter', samples: [] },
    ];
    const text = formatPrometheus(families);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('# HELP c_total a "counter"\\nwith \\\\ two lines');
    const parsed = parsePrometheus(text);
    expect(parsed.map((f) => [f.name, f.type])).toEqual([
      ['c_total', 'COUNTER'],
      ['g', 'GAUGE'],
      ['empty_total', 'COUNTER'],
    ]);
    expect(parsed[0]!.metrics).toEqual([{ labels: { path: 'C:\\dir', msg: 'say "hi"\nbye' }, value: '3' }, { value: '1.5' }]);
    expect(parsed[1]!.metrics[0]!.value).toBe('+Inf');
  });

  it('writes histograms with cumulative buckets, +Inf, sum and count', () => {
    // (The parser folds every series of a histogram into one, so this one has no labels.)
    const text = formatPrometheus([
      { name: 'lat_seconds', help: 'latency', type: 'histogram', samples: [{ labels: {}, bounds: [0.1, 1], counts: [2, 3, 1], sum: 4.25 }] },
    ]);
    const [h] = parsePrometheus(text);
    expect(h!.type).toBe('HISTOGRAM');
    expect(h!.metrics).toEqual([{ buckets: { '0.1': '2', '1': '5', '+Inf': '6' }, sum: '4.25', count: '6' }]);
  });
});

describe('GatewayMetrics', () => {
  const NO_TX = { singleShard: 0, twoPhaseCommitted: 0, twoPhaseRolledBack: 0, twoPhaseUnknown: 0, aborted: 0 };
  const family = (m: GatewayMetrics, name: string) => parsePrometheus(formatPrometheus(m.families(NO_TX))).find((f) => f.name === name)!;

  it('counts statements by keyspace, plan and outcome, with latency, rows and who served them', () => {
    const m = new GatewayMetrics();
    m.query({ keyspace: 'main', plan: 'scatter', outcome: 'ok', seconds: 0.004, rows: 10, affected: 0, role: 'replica' });
    m.query({ keyspace: 'main', plan: 'scatter', outcome: 'ok', seconds: 30, rows: 2, affected: 0, role: 'primary' });
    m.query({ keyspace: 'main', outcome: 'SYNTAX', seconds: 0.0001, rows: 0, affected: 0 });
    m.query({ keyspace: 'pg', plan: 'single-shard', outcome: 'ok', seconds: 0.02, rows: 0, affected: 3, role: 'primary' });
    const iso = m.isolate;
    expect(family(m, 'vitess_queries_total').metrics).toEqual([
      { labels: { isolate: iso, keyspace: 'main', plan: 'scatter', outcome: 'ok' }, value: '2' },
      { labels: { isolate: iso, keyspace: 'main', plan: 'none', outcome: 'SYNTAX' }, value: '1' },
      { labels: { isolate: iso, keyspace: 'pg', plan: 'single-shard', outcome: 'ok' }, value: '1' },
    ]);
    expect(family(m, 'vitess_query_duration_seconds').type).toBe('HISTOGRAM');
    // The parser folds labelled histogram series together: read the scatter series' lines.
    const text = formatPrometheus(m.families(NO_TX));
    const line = (suffix: string, le?: string) => {
      const labels = `isolate="${iso}",keyspace="main",plan="scatter"${le ? `,le="${le}"` : ''}`;
      const prefix = `vitess_query_duration_seconds_${suffix}{${labels}} `;
      return Number(
        text
          .split('\n')
          .find((l) => l.startsWith(prefix))
          ?.slice(prefix.length),
      );
    };
    expect(line('count')).toBe(2);
    expect(line('sum')).toBeCloseTo(30.004);
    expect(line('bucket', '0.0025')).toBe(0);
    expect(line('bucket', '0.005')).toBe(1);
    expect(line('bucket', String(LATENCY_BUCKETS.at(-1)))).toBe(1); // 30 s is above every bound
    expect(line('bucket', '+Inf')).toBe(2);
    expect(family(m, 'vitess_rows_returned_total').metrics).toEqual([{ labels: { isolate: iso, keyspace: 'main', plan: 'scatter' }, value: '12' }]);
    expect(family(m, 'vitess_rows_affected_total').metrics).toEqual([{ labels: { isolate: iso, keyspace: 'pg', plan: 'single-shard' }, value: '3' }]);
    expect(family(m, 'vitess_statements_served_total').metrics.map((s) => [s.labels!.keyspace, s.labels!.role, s.value])).toEqual([
      ['main', 'replica', '1'],
      ['main', 'primary', '1'],
      ['pg', 'primary', '1'],
    ]);
  });

  it('counts stream pages, events and open pulls, and shows transaction outcomes', () => {
    const m = new GatewayMetrics();
    m.polling('main', 1);
    m.polling('main', 1);
    m.polling('main', -1);
    m.streamPage('main', 5);
    m.streamPage('main', 0);
    expect(family(m, 'vitess_stream_subscribers').metrics[0]!.value).toBe('1');
    expect(family(m, 'vitess_stream_pages_total').metrics[0]!.value).toBe('2');
    expect(family(m, 'vitess_stream_events_total').metrics[0]!.value).toBe('5');
    const tx = { singleShard: 4, twoPhaseCommitted: 2, twoPhaseRolledBack: 1, twoPhaseUnknown: 0, aborted: 3 };
    const parsed = parsePrometheus(formatPrometheus(m.families(tx)));
    const outcomes = (name: string) => parsed.find((f) => f.name === name)!.metrics.map((s) => [s.labels!.outcome, s.value]);
    expect(outcomes('vitess_transactions_total')).toEqual([
      ['single_shard_committed', '4'],
      ['aborted', '3'],
    ]);
    expect(outcomes('vitess_2pc_transactions_total')).toEqual([
      ['committed', '2'],
      ['rolled_back', '1'],
      ['unknown', '0'],
    ]);
  });

  it(`keeps the newest ${RECENT_ERRORS} errors, newest first`, () => {
    const m = new GatewayMetrics();
    for (let i = 0; i < RECENT_ERRORS + 5; i++) m.error({ at: i, keyspace: 'main', code: 'SYNTAX', message: `e${i}`, sql: 'x' });
    const errors = m.recentErrors();
    expect(errors).toHaveLength(RECENT_ERRORS);
    expect(errors[0]!.message).toBe(`e${RECENT_ERRORS + 4}`);
    expect(errors.at(-1)!.message).toBe('e5');
  });
});

describe('statusFamilies', () => {
  it('turns a status into per-shard LSN and per-replica lag gauges', () => {
    const status: GatewayStatus = {
      keyspaces: [
        {
          name: 'main',
          engine: 'sqlite',
          regions: ['wnam', 'weur'],
          shards: [
            {
              shard: '-80',
              start: '',
              end: '80',
              engine: 'do-sqlite',
              lsn: 12,
              firstLsn: 3,
              prepared: 1,
              replicas: [
                { region: 'wnam', state: 'streaming', appliedLsn: 12, lagRecords: 0, lagMs: 0 },
                { region: 'weur', state: 'behind', appliedLsn: 9, lagRecords: 3, lagMs: 1500 },
              ],
            },
            {
              shard: '80-',
              start: '80',
              end: '',
              engine: 'do-sqlite',
              lsn: 4,
              firstLsn: 1,
              prepared: 0,
              replicas: [
                { region: 'wnam', state: 'not started', error: 'replica not started' },
                { region: 'weur', state: 'not started', error: 'replica not started' },
              ],
            },
          ],
        },
      ],
    };
    const parsed = parsePrometheus(formatPrometheus(statusFamilies(status)));
    const values = (name: string) => parsed.find((f) => f.name === name)!.metrics.map((s) => [Object.values(s.labels ?? {}).join('/'), s.value]);
    expect(values('vitess_shard_lsn')).toEqual([
      ['main/-80', '12'],
      ['main/80-', '4'],
    ]);
    expect(values('vitess_shard_first_lsn')).toEqual([
      ['main/-80', '3'],
      ['main/80-', '1'],
    ]);
    expect(values('vitess_shard_prepared_transactions')).toEqual([
      ['main/-80', '1'],
      ['main/80-', '0'],
    ]);
    expect(values('vitess_replica_applied_lsn')).toEqual([
      ['main/-80/wnam', '12'],
      ['main/-80/weur', '9'],
    ]);
    expect(values('vitess_replica_lag_records')).toEqual([
      ['main/-80/wnam', '0'],
      ['main/-80/weur', '3'],
    ]);
    expect(values('vitess_replica_lag_seconds')).toEqual([
      ['main/-80/wnam', '0'],
      ['main/-80/weur', '1.5'],
    ]);
    expect(values('vitess_replica_state')).toEqual([
      ['main/-80/wnam/streaming', '1'],
      ['main/-80/weur/behind', '1'],
      ['main/80-/wnam/not started', '1'],
      ['main/80-/weur/not started', '1'],
    ]);
  });
});
