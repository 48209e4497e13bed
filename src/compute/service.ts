import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { type GpuBenchOptions, type GpuBenchReport, runGpuBench } from './bench.ts'
import { createExecutor } from './device.ts'
import type { WorkerExecutor } from './sandbox.ts'
import { ComputeError, type ExecutorChoice, type ExecutorInfo, type TaskLimits } from './types.ts'

export interface ComputeServiceInit {
  /** `--executor`. @default 'auto' */
  executor?: ExecutorChoice
  /** Limits for every task. @default DEFAULT_LIMITS */
  limits?: Partial<TaskLimits>
  /** Tasks waiting behind the running one. @default 32 */
  maxQueue?: number
}

export interface ComputeServiceComponents {
  logger: Logger
  registry?: Registry
}

/**
 * The node's compute service: selects and starts the executor (in its worker process) on start, stops it on
 * stop. `info()` is what `node_info.executor` reports; `executor()` is what the market runs tasks on.
 */
export class ComputeService implements Startable {
  private readonly components: ComputeServiceComponents
  private readonly init: ComputeServiceInit
  private running: WorkerExecutor | undefined

  constructor (components: ComputeServiceComponents, init: ComputeServiceInit = {}) {
    this.components = components
    this.init = init
  }

  async start (): Promise<void> {
    this.running = await createExecutor({
      executor: this.init.executor ?? 'auto',
      logger: this.components.logger,
      registry: this.components.registry,
      limits: this.init.limits,
      maxQueue: this.init.maxQueue
    })
  }

  async stop (): Promise<void> {
    const running = this.running
    this.running = undefined
    await running?.close()
  }

  executor (): WorkerExecutor {
    if (this.running === undefined) throw new ComputeError('CLOSED', 'compute service is not running')
    return this.running
  }

  info (): ExecutorInfo {
    return this.executor().info()
  }

  /** The capability benchmark on the running executor (tasks queue behind it while it runs). */
  async bench (options: Omit<GpuBenchOptions, 'running' | 'executor' | 'logger'> = {}): Promise<GpuBenchReport> {
    return await runGpuBench({ ...options, running: this.executor(), logger: this.components.logger })
  }
}
