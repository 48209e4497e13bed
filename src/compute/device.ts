import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.ts'
import { WorkerExecutor } from './sandbox.ts'
import { ComputeError, EXECUTOR_CHOICES, type ExecutorChoice, type ExecutorKind, type TaskLimits } from './types.ts'

export interface CreateExecutorOptions {
  /** `--executor`: auto tries gpu, then software, then cpu. @default 'auto' */
  executor?: ExecutorChoice
  logger: Logger
  registry?: Registry
  /** Task limits (see TaskLimits). @default DEFAULT_LIMITS */
  limits?: Partial<TaskLimits>
  /** Tasks waiting behind the running one. @default 32 */
  maxQueue?: number
}

// Order of `auto`: a hardware GPU through Dawn (Vulkan, core), else Dawn's OpenGL ES backend on Mesa llvmpipe
// (compatibility), else the CPU reference. Each attempt runs in its own worker process: Dawn's backend is chosen
// when its instance is created, and a process may only create one instance.
const AUTO_ORDER: readonly ExecutorKind[] = ['gpu', 'software', 'cpu']

export function parseExecutorChoice (value: string): ExecutorChoice {
  if ((EXECUTOR_CHOICES as readonly string[]).includes(value)) return value as ExecutorChoice
  throw new ComputeError('INVALID_TASK', `--executor must be one of ${EXECUTOR_CHOICES.join(', ')}; got ${JSON.stringify(value)}`)
}

/**
 * Creates and starts the executor for `--executor`. An explicit choice that is unavailable fails with
 * NO_ADAPTER (and says what to install); `auto` falls back and logs why.
 */
export async function createExecutor (options: CreateExecutorOptions): Promise<WorkerExecutor> {
  const choice = options.executor ?? 'auto'
  const logger = options.logger.child({ module: 'compute' })
  const kinds = choice === 'auto' ? AUTO_ORDER : [choice]
  let lastError: unknown
  for (const kind of kinds) {
    const executor = new WorkerExecutor({ logger: options.logger, registry: options.registry }, { kind, limits: options.limits, maxQueue: options.maxQueue })
    try {
      await executor.start()
      const info = executor.info()
      logger.info({ executor: info.kind, adapter: info.adapter.description, backend: info.adapter.backend }, 'compute executor ready')
      return executor
    } catch (err) {
      await executor.close()
      lastError = err
      if (choice !== 'auto') break
      logger.info({ executor: kind, reason: err instanceof Error ? err.message : String(err) }, 'compute executor unavailable, trying the next')
    }
  }
  if (lastError instanceof ComputeError) throw lastError
  throw new ComputeError('NO_ADAPTER', `no executor available: ${String(lastError)}`)
}
