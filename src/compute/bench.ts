import type { Logger } from '../core/logger.ts'
import { f32Blob } from './blob.ts'
import { createExecutor } from './device.ts'
import { matmulReference } from './kernels/matmul.ts'
import { cpuPeakGflops, MAX_PEAK_WORKGROUPS, peakFlops } from './kernels/peak.ts'
import type { WorkerExecutor } from './sandbox.ts'
import type { ExecutorChoice, ExecutorInfo } from './types.ts'

/**
 * The capability benchmark behind `harmonyd bench gpu` and the figures a node advertises: matmul GFLOP/s at
 * several sizes, device memory bandwidth, and dispatch rate. Every figure comes with a baseline measured in the
 * same run (DESIGN.md §7): the CPU reference for matmul, a CPU memory copy for bandwidth, and end-to-end tiny
 * tasks through the worker for dispatch overhead.
 */
export interface BenchRow {
  bench: 'gpu'
  metric: string
  value: number
  unit: string
  baseline: string
  baseline_value: number
  ratio: number
}

export interface GpuBenchReport {
  executor: ExecutorInfo
  rows: BenchRow[]
  /** What a node advertises to the market: the figures of its own executor. */
  capability: GpuCapability
}

export interface GpuCapability {
  kind: ExecutorInfo['kind']
  adapter: string
  /** Best matmul throughput measured, GFLOP/s. */
  matmulGflops: number
  /** Device copy bandwidth (read + write), GB/s; 0 for the CPU executor. */
  memoryBandwidthGBps: number
  /** Achievable fp32 rate of an ALU-bound kernel, GFLOP/s; 0 for the CPU executor. */
  fp32PeakGflops: number
  measuredAt: string
}

export interface GpuBenchOptions {
  /** Which executor to measure. @default 'auto' */
  executor?: ExecutorChoice
  /** An executor that is already running (the daemon's); `executor` is ignored then. */
  running?: WorkerExecutor
  logger: Logger
  /** Square matmul sizes. @default [256, 512, 1024] */
  sizes?: number[]
  /** Floats in the bandwidth kernel's buffers. @default 8388608 (32 MiB per buffer) */
  bandwidthFloats?: number
  /** Tiny dispatches timed for the dispatch rate. @default 200 */
  dispatches?: number
  /** The device's fp32 peak, GFLOP/s, when known (real GPUs); otherwise the measured ALU-bound peak is used. */
  peakGflops?: number
  /** Workgroups (of 64 invocations) in the ALU-bound peak kernel. @default 1024 */
  peakWorkgroups?: number
  /**
   * Least time each device figure is measured over (repeating the kernel), so a fast GPU is timed past its idle
   * clock and the submit round trip. @default 200
   */
  minMs?: number
  /** Progress lines (for the CLI). */
  onProgress?: (line: string) => void
}

// Repetitions: enough to smooth noise on a shared 2-core machine, few enough that a software GPU finishes.
function repsFor (size: number): number {
  return size <= 256 ? 5 : size <= 512 ? 2 : 1
}

function row (metric: string, value: number, unit: string, baseline: string, baselineValue: number): BenchRow {
  const round = (v: number): number => Number(v.toPrecision(4))
  return { bench: 'gpu', metric, value: round(value), unit, baseline, baseline_value: round(baselineValue), ratio: baselineValue > 0 ? round(value / baselineValue) : 0 }
}

export async function runGpuBench (options: GpuBenchOptions): Promise<GpuBenchReport> {
  const executor = options.running ?? await createExecutor({ executor: options.executor ?? 'auto', logger: options.logger })
  const progress = options.onProgress ?? (() => {})
  try {
    const info = executor.info()
    const rows: BenchRow[] = []
    let best = 0
    const minMs = options.minMs ?? 200
    for (const size of options.sizes ?? [256, 512, 1024]) {
      const reps = repsFor(size)
      const flops = 2 * size * size * size
      progress(`matmul ${size}: executor (${reps} reps)`)
      const device = await executor.microbench('matmul', size, reps, minMs)
      progress(`matmul ${size}: CPU reference`)
      const a = new Float32Array(size * size).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5)
      const started = performance.now()
      for (let i = 0; i < reps; i++) matmulReference(a, a, size, size, size)
      const cpuMs = (performance.now() - started) / reps
      const gflops = flops / device.msPerRep / 1e6
      best = Math.max(best, gflops)
      rows.push(row(`matmul_${size}_gflops`, gflops, 'GFLOP/s', `CPU reference matmul ${size} (TypeScript, same run)`, flops / cpuMs / 1e6))
    }
    let bandwidth = 0
    if (info.kind !== 'cpu') {
      const floats = options.bandwidthFloats ?? 8 * 1024 * 1024
      progress('memory bandwidth')
      const copy = await executor.microbench('bandwidth', floats, 5, minMs)
      bandwidth = (floats * 8) / copy.msPerRep / 1e6
      const host = new Float32Array(floats)
      const dest = new Float32Array(floats)
      const hostStarted = performance.now()
      for (let i = 0; i < 5; i++) dest.set(host)
      const hostMs = (performance.now() - hostStarted) / 5
      rows.push(row('memory_bandwidth', bandwidth, 'GB/s', 'CPU memory copy (TypedArray.set, same run)', (floats * 8) / hostMs / 1e6))

      const dispatches = options.dispatches ?? 200
      progress('dispatch overhead')
      const tiny = await executor.microbench('dispatch', 64, dispatches)
      const tasks = 50
      const x = f32Blob(new Float32Array(64))
      const taskStarted = performance.now()
      for (let i = 0; i < tasks; i++) {
        await executor.run({ spec: { v: 1, kernel: 'elementwise', params: { op: 'neg', n: 64 }, inputs: [x.id] }, inputs: [x] })
      }
      const taskRate = tasks / ((performance.now() - taskStarted) / 1000)
      rows.push(row('dispatch_rate', 1000 / tiny.msPerRep, 'dispatch/s', 'end-to-end tiny tasks/s through the worker (IPC, upload, readback, hashing)', taskRate))
    }
    let peak = 0
    if (info.kind !== 'cpu') {
      progress('fp32 peak (ALU-bound kernel)')
      // Unless told, grow the grid until one dispatch is long enough (20 ms) to hide the submit round trip.
      let groups = options.peakWorkgroups ?? 1024
      let alu = await executor.microbench('peak', groups, 3, minMs)
      while (options.peakWorkgroups === undefined && alu.msPerRep < 20 && groups < MAX_PEAK_WORKGROUPS) {
        groups = Math.min(MAX_PEAK_WORKGROUPS, groups * 4)
        alu = await executor.microbench('peak', groups, 3, minMs)
      }
      peak = peakFlops(groups) / alu.msPerRep / 1e6
      rows.push(row('fp32_peak_gflops', peak, 'GFLOP/s', 'the same multiply-add chains in TypeScript on one CPU core', cpuPeakGflops()))
    }
    const reference = options.peakGflops !== undefined && options.peakGflops > 0 ? options.peakGflops : peak
    if (reference > 0) {
      const source = reference === peak ? 'measured with the ALU-bound kernel' : 'given by --peak-gflops'
      rows.push(row('matmul_best_gflops', best, 'GFLOP/s', `device fp32 peak (${source})`, reference))
    }
    return {
      executor: info,
      rows,
      capability: {
        kind: info.kind,
        adapter: info.adapter.description,
        matmulGflops: Number(best.toPrecision(4)),
        memoryBandwidthGBps: Number(bandwidth.toPrecision(4)),
        fp32PeakGflops: Number(peak.toPrecision(4)),
        measuredAt: new Date().toISOString()
      }
    }
  } finally {
    if (options.running === undefined) await executor.close()
  }
}

/** The report as a readable table. */
export function formatBenchTable (report: GpuBenchReport): string {
  const header = ['metric', 'value', 'unit', 'baseline', 'baseline value', 'ratio']
  const lines = report.rows.map(r => [r.metric, String(r.value), r.unit, r.baseline, String(r.baseline_value), `${r.ratio}x`])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map(l => l[i].length)))
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ')
  return [
    `executor: ${report.executor.kind} — ${report.executor.adapter.description} (${report.executor.adapter.backend})`,
    fmt(header),
    widths.map(w => '-'.repeat(w)).join('  '),
    ...lines.map(fmt)
  ].join('\n')
}
