import type { CommandModule } from 'yargs'
import { formatBenchTable, parseExecutorChoice, runGpuBench } from '../compute/index.ts'
import { createLogger } from '../core/logger.ts'
import { isInitialized, resolveDatadir } from '../node/datadir.ts'
import { writeCapability } from '../node/capability.ts'
import type { GlobalArgs } from './common.ts'

interface BenchGpuArgs extends GlobalArgs {
  executor: string
  sizes: string
  'peak-gflops'?: number
}

const benchGpuCommand: CommandModule<GlobalArgs, BenchGpuArgs> = {
  command: 'gpu',
  describe: 'Measure matmul GFLOP/s, memory bandwidth and dispatch rate; an initialised datadir advertises the result',
  builder: (y) => y
    .option('executor', { type: 'string', default: 'auto', choices: ['auto', 'gpu', 'software', 'cpu'], describe: 'executor to measure' })
    .option('sizes', { type: 'string', default: '256,512,1024', describe: 'matmul sizes' })
    .option('peak-gflops', { type: 'number', describe: "the device's datasheet fp32 peak, for the fraction-of-peak figure" }) as never,
  handler: async (args) => {
    const logger = createLogger({ level: 'warn' })
    const sizes = args.sizes.split(',').map(s => Number.parseInt(s, 10))
    if (sizes.some(n => !Number.isSafeInteger(n) || n < 1 || n > 4096)) throw new Error(`--sizes must be integers from 1 to 4096, got ${args.sizes}`)
    const report = await runGpuBench({
      executor: parseExecutorChoice(args.executor),
      logger,
      sizes,
      peakGflops: args['peak-gflops'],
      onProgress: args.json === true ? undefined : (line: string) => process.stderr.write(`${line}\n`)
    })
    if (args.json === true) for (const row of report.rows) process.stdout.write(`${JSON.stringify(row)}\n`)
    else process.stdout.write(`${formatBenchTable(report)}\n`)
    const datadir = resolveDatadir(args.datadir)
    if (await isInitialized(datadir)) {
      await writeCapability(datadir, report.capability)
      if (args.json !== true) process.stdout.write(`capability saved to ${datadir}; the node advertises it from its next start\n`)
    }
  }
}

export const benchCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'bench <what>',
  describe: 'Benchmarks of this machine',
  builder: (y) => y.command(benchGpuCommand as never).demandCommand(1),
  handler: () => {}
}
