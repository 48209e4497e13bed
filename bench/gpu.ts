// npm run bench:gpu [-- --json] [--executor auto|gpu|software|cpu] [--sizes 256,512,1024] [--peak-gflops N] [--min-ms 200]
//
// Capability of the compute executor: square matmul GFLOP/s against the TypeScript CPU reference in the same run,
// device copy bandwidth against a CPU memory copy, and dispatch rate (tiny kernels per second on the device)
// against end-to-end tiny tasks through the worker process. On a real GPU, pass its fp32 peak to get the fraction.
import { parseArgs } from 'node:util'
import { runGpuBench } from '../src/compute/bench.ts'
import { parseExecutorChoice } from '../src/compute/device.ts'
import { silentLogger } from '../src/core/logger.ts'
import { printResults } from './report.ts'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    executor: { type: 'string', default: 'auto' },
    sizes: { type: 'string', default: '256,512,1024' },
    'peak-gflops': { type: 'string' },
    'min-ms': { type: 'string', default: '200' }
  }
})

const minMs = Number(values['min-ms'])
if (!Number.isFinite(minMs) || minMs < 0) throw new Error(`--min-ms must be a number of milliseconds ≥ 0; got ${JSON.stringify(values['min-ms'])}`)

const report = await runGpuBench({
  executor: parseExecutorChoice(values.executor),
  logger: silentLogger(),
  sizes: values.sizes.split(',').map(Number),
  peakGflops: values['peak-gflops'] === undefined ? undefined : Number(values['peak-gflops']),
  minMs,
  onProgress: line => { if (!values.json) process.stderr.write(`… ${line}\n`) }
})
if (!values.json) {
  const { kind, adapter } = report.executor
  process.stdout.write(`executor: ${kind}: ${adapter.description} (backend ${adapter.backend}, feature level ${adapter.featureLevel})\n`)
}
printResults(report.rows, values.json)
