/** One benchmark figure in the format of DESIGN.md §7. `ratio` is value / baseline_value. */
export interface BenchResult {
  bench: string
  metric: string
  value: number
  unit: string
  baseline: string
  baseline_value: number
  ratio?: number
}

/** The q-quantile (0..1) of an ascending array, nearest-rank; NaN when empty. */
export function percentile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

function round (x: number): number {
  return Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000
}

/** A readable table on stdout, or one JSON object per line with `json`. */
export function printResults (results: BenchResult[], json: boolean): void {
  const rows = results.map(r => ({ ...r, value: round(r.value), baseline_value: round(r.baseline_value), ratio: round(r.ratio ?? r.value / r.baseline_value) }))
  if (json) {
    for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`)
    return
  }
  const header = ['bench', 'metric', 'value', 'unit', 'baseline', 'baseline value', 'ratio']
  const table = [header, ...rows.map(r => [r.bench, r.metric, String(r.value), r.unit, r.baseline, String(r.baseline_value), String(r.ratio)])]
  const widths = header.map((_, c) => Math.max(...table.map(row => row[c].length)))
  for (const row of table) process.stdout.write(`${row.map((cell, c) => cell.padEnd(widths[c])).join('  ')}\n`)
}
