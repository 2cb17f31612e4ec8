/**
 * The Prometheus text exposition format (version 0.0.4), pure: metric families in, text out.
 * Collection lives in router/ops/metrics.ts.
 */

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface HistogramSample {
  labels: Labels;
  /** Upper bounds, ascending, without +Inf. */
  bounds: readonly number[];
  /** Observations per bucket (not cumulative); one more than `bounds`: the last is > every bound. */
  counts: readonly number[];
  sum: number;
}

export type MetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: Sample[] }
  | { name: string; help: string; type: 'histogram'; samples: HistogramSample[] };

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const escapeHelp = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function histogramLines(name: string, s: HistogramSample): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  s.bounds.forEach((bound, i) => {
    cumulative += s.counts[i] ?? 0;
    lines.push(`${name}_bucket${labelText({ ...s.labels, le: number(bound) })} ${cumulative}`);
  });
  const count = s.counts.reduce((a, b) => a + b, 0);
  lines.push(`${name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${count}`);
  lines.push(`${name}_sum${labelText(s.labels)} ${number(s.sum)}`);
  lines.push(`${name}_count${labelText(s.labels)} ${count}`);
  return lines;
}

/** One text document: `# HELP`, `# TYPE`, then the samples of each family. */
export function formatPrometheus(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type === 'histogram') {
      for (const s of f.samples) out.push(...histogramLines(f.name, s));
    } else {
      for (const s of f.samples) out.push(`${f.name}${labelText(s.labels)} ${number(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
