// The ledger's consensus timing from the Prometheus files bench:ledger --metrics-dir writes (one per devnet node):
// every harmony_dag_* histogram as count, mean and p50/p90 (interpolated in its buckets), its nodes merged, and the
// poll counters. The figures of docs/ledger-profile.md "Where the finality time goes".
//   npx node bench/lib/metrics-summary.ts <file.prom>... [--json]
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'

interface Hist { buckets: Map<number, number>, sum: number, count: number }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean', default: false } } })
const hists = new Map<string, Hist>()
const counters = new Map<string, number>()
const LINE = /^(harmony_dag_[a-z_]+)(?:\{([^}]*)\})? ([0-9.eE+-]+|\+Inf|NaN)$/
for (const file of positionals) {
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const m = LINE.exec(line)
    if (m === null) continue
    const [, name, labelText = '', valueText] = m
    const value = Number(valueText)
    const labels = labelText.split(',').filter(l => l !== '' && !l.startsWith('le='))
    const le = /le="([^"]+)"/.exec(labelText)?.[1]
    const base = name.replace(/_(bucket|sum|count)$/, '')
    const key = `${base}${labels.length > 0 ? `{${labels.join(',')}}` : ''}`
    if (name.endsWith('_bucket') || name.endsWith('_sum') || name.endsWith('_count')) {
      const h = hists.get(key) ?? { buckets: new Map(), sum: 0, count: 0 }
      hists.set(key, h)
      if (name.endsWith('_sum')) h.sum += value
      else if (name.endsWith('_count')) h.count += value
      else if (le !== undefined) { const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le); h.buckets.set(bound, (h.buckets.get(bound) ?? 0) + value) }
    } else if (name.endsWith('_total')) counters.set(key, (counters.get(key) ?? 0) + value)
  }
}

/** The q-quantile of a cumulative-bucket histogram, linear within the bucket it falls in. */
function quantile (h: Hist, q: number): number {
  const bounds = [...h.buckets.keys()].sort((a, b) => a - b)
  const target = q * h.count
  let prevBound = 0
  let prevCount = 0
  for (const b of bounds) {
    const c = h.buckets.get(b) ?? 0
    if (c >= target) {
      if (!Number.isFinite(b)) return prevBound
      return prevBound + (b - prevBound) * (c === prevCount ? 0 : (target - prevCount) / (c - prevCount))
    }
    prevBound = b
    prevCount = c
  }
  return prevBound
}

const rows = [...hists.entries()].filter(([, h]) => h.count > 0).map(([key, h]) => ({ key, count: h.count, mean: h.sum / h.count, p50: quantile(h, 0.5), p90: quantile(h, 0.9) }))
if (values.json) {
  for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`)
  for (const [key, value] of counters) process.stdout.write(`${JSON.stringify({ key, value })}\n`)
} else {
  const ms = (x: number, key: string): string => key.endsWith('_seconds') || key.includes('_seconds{') ? `${(x * 1000).toFixed(1)} ms` : x.toFixed(1)
  for (const r of rows) process.stdout.write(`${r.key.padEnd(60)} n=${String(r.count).padStart(7)}  mean ${ms(r.mean, r.key).padStart(10)}  p50 ${ms(r.p50, r.key).padStart(10)}  p90 ${ms(r.p90, r.key).padStart(10)}\n`)
  for (const [key, value] of counters) if (/polls|answers|busy|vertices_(inserted|accepted|rejected)|transactions_final/.test(key)) process.stdout.write(`${key.padEnd(60)} ${value}\n`)
}
