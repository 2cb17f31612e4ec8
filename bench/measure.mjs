// Timing helpers shared by the benchmarks: run a loop for a count, report ops/s and percentiles.

/** Runs `op(i)` `n` times in sequence; returns ops/s and latency percentiles in ms. */
export async function measure(n, op) {
  const lat = new Float64Array(n);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    lat[i] = performance.now() - t;
  }
  const total = performance.now() - start;
  lat.sort();
  const pct = (p) => lat[Math.min(n - 1, Math.floor((p / 100) * n))];
  return { ops: n / (total / 1000), p50: pct(50), p99: pct(99), n };
}

export const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** One markdown table from rows of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
