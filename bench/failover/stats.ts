// Percentiles and table cells for the benchmarks and the soak.

/** The nearest-rank percentile of `samples` (p in 0..100); NaN when there are none. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function median(samples: number[]): number {
  return percentile(samples, 50);
}

/** The median as the mean of the two middle values when the count is even; NaN when there are none. */
export function midpointMedian(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

/** `median (min-max)` of samples, with `digits` decimals. */
export function rangeCell(samples: number[], digits: number): string {
  return `${midpointMedian(samples).toFixed(digits)} (${Math.min(...samples).toFixed(digits)}-${Math.max(...samples).toFixed(digits)})`;
}

/** Whole milliseconds, or '-' for a missing figure. */
export function ms(n: number | undefined): string {
  return n === undefined || Number.isNaN(n) ? '-' : n.toFixed(0);
}

/** Fixed-width columns: the first left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
