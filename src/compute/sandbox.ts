import { type ChildProcess, fork } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { type ComputeMetrics, createComputeMetrics } from './metrics.ts'
import { checkTask, effectiveLimits } from './task.ts'
import {
  ComputeError, type ComputeTask, DEFAULT_LIMITS, type Executor, type ExecutorInfo, type ExecutorKind,
  type TaskLimits, type TaskResult
} from './types.ts'
import type { MicrobenchKind, MicrobenchResult, ParentMessage, WorkerMessage } from './worker-protocol.ts'

// Child output is Dawn's and Mesa's diagnostics: logged at debug, each line cut to this length.
const MAX_LOG_LINE = 500

export interface WorkerExecutorInit {
  /** Which engine the worker runs. */
  kind: ExecutorKind
  /** Limits for every task (a task may tighten them, never loosen). @default DEFAULT_LIMITS */
  limits?: Partial<TaskLimits>
  /** Tasks waiting behind the running one; more are refused with BUSY. @default 32 */
  maxQueue?: number
  /** Time for a worker to start and open its device. @default 60000 */
  startTimeoutMs?: number
}

export interface WorkerExecutorComponents {
  logger: Logger
  /** prom-client registry for the compute metrics. */
  registry?: Registry
}

interface Job {
  message: (id: number) => ParentMessage
  timeoutMs: number
  resolve: (message: WorkerMessage) => void
  reject: (err: ComputeError) => void
  signal?: AbortSignal
  onAbort?: () => void
}

interface Worker {
  child: ChildProcess
  ready: Promise<ExecutorInfo>
  exited: boolean
}


function workerPath (): string {
  // Under type stripping (dev, tests) this module is a .ts file; in dist/ it is .js.
  const file = import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js'
  return fileURLToPath(new URL(file, import.meta.url))
}

/**
 * An executor whose kernels run in a child process. A task that passes its wall-clock limit, a hung dispatch
 * or a crashed driver kills only the child: the task is reported failed (TIMEOUT, WORKER_CRASHED) and a new
 * child is started for the next task. One task runs at a time; the queue is bounded.
 */
export class WorkerExecutor implements Executor, Startable {
  readonly kind: ExecutorKind
  private readonly logger: Logger
  private readonly limits: TaskLimits
  private readonly maxQueue: number
  private readonly startTimeoutMs: number
  private readonly metrics: ComputeMetrics
  private worker: Worker | undefined
  private lastInfo: ExecutorInfo | undefined
  private readonly queue: Job[] = []
  private inFlight: { id: number, job: Job, timer?: NodeJS.Timeout, worker?: Worker } | undefined
  private nextId = 1
  private spawned = 0
  private closed = false
  /** Device generation reported by the last task: grows after every device loss. */
  deviceGeneration = 0

  constructor (components: WorkerExecutorComponents, init: WorkerExecutorInit) {
    this.kind = init.kind
    this.logger = components.logger.child({ module: 'compute', executor: init.kind })
    this.limits = { ...DEFAULT_LIMITS, ...init.limits }
    this.maxQueue = init.maxQueue ?? 32
    this.startTimeoutMs = init.startTimeoutMs ?? 60_000
    this.metrics = createComputeMetrics(components.registry)
  }

  /** Starts the worker and opens its device; NO_ADAPTER if this kind is not available here. */
  async start (): Promise<void> {
    this.closed = false
    const worker = this.spawn()
    this.lastInfo = await worker.ready
  }

  async stop (): Promise<void> {
    await this.close()
  }

  info (): ExecutorInfo {
    if (this.lastInfo === undefined) throw new ComputeError('CLOSED', 'executor not started')
    return this.lastInfo
  }

  /** The worker's process id (for operators and tests), or undefined when none is running. */
  workerPid (): number | undefined {
    return this.worker?.exited === false ? this.worker.child.pid : undefined
  }

  /** The pid of the worker a task has been handed to, while it runs (operators, tests). */
  runningTaskPid (): number | undefined {
    const worker = this.inFlight?.worker
    return worker !== undefined && !worker.exited ? worker.child.pid : undefined
  }

  /** Destroys the worker's GPU device as a driver reset would; the next task re-acquires one. */
  destroyDevice (): void {
    if (this.worker !== undefined && !this.worker.exited) this.send(this.worker, { type: 'destroy-device' })
  }

  async run (task: ComputeTask, options: { signal?: AbortSignal } = {}): Promise<TaskResult> {
    const limits = effectiveLimits(this.info().taskLimits, task.spec?.limits)
    const kernel = typeof task.spec?.kernel === 'string' ? task.spec.kernel : 'invalid'
    try {
      // Refuse malformed and oversized tasks here, before they cost the worker anything.
      checkTask(task, limits)
      const reply = await this.enqueue(id => ({ type: 'run', id, task, limits }), limits.timeoutMs, options.signal)
      if (reply.type !== 'result') throw new ComputeError('GPU_ERROR', `unexpected worker reply ${reply.type}`)
      this.deviceGeneration = reply.generation
      this.metrics.tasks.inc({ kernel, outcome: 'ok' })
      this.metrics.duration.observe({ kernel }, reply.result.durationMs / 1000)
      return reply.result
    } catch (err) {
      const e = err instanceof ComputeError ? err : new ComputeError('INVALID_TASK', err instanceof Error ? err.message : String(err))
      this.metrics.tasks.inc({ kernel: KERNEL_LABELS.has(kernel) ? kernel : 'invalid', outcome: e.code.toLowerCase() })
      throw e
    }
  }

  /** Times a kernel inside the worker (bench.ts): at least `reps` repetitions, on a GPU more until `minMs` passed. */
  async microbench (what: MicrobenchKind, size: number, reps: number, minMs = 0, timeoutMs = 300_000): Promise<MicrobenchResult> {
    const reply = await this.enqueue(id => ({ type: 'microbench', id, what, size, reps, minMs }), timeoutMs)
    if (reply.type !== 'microbench-result') throw new ComputeError('GPU_ERROR', `unexpected worker reply ${reply.type}`)
    return reply.result
  }

  async close (): Promise<void> {
    this.closed = true
    const closedError = (): ComputeError => new ComputeError('CLOSED', 'executor closed')
    for (const job of this.queue.splice(0)) this.settle(job, closedError())
    this.metrics.queue.set(0)
    if (this.inFlight !== undefined) {
      clearTimeout(this.inFlight.timer)
      this.settle(this.inFlight.job, closedError())
      this.inFlight = undefined
    }
    const worker = this.worker
    this.worker = undefined
    if (worker !== undefined && !worker.exited) {
      const exited = new Promise<void>(resolve => worker.child.once('exit', () => { resolve() }))
      worker.child.kill('SIGKILL')
      await exited
    }
  }

  private enqueue (message: Job['message'], timeoutMs: number, signal?: AbortSignal): Promise<WorkerMessage> {
    if (this.closed) return Promise.reject(new ComputeError('CLOSED', 'executor closed'))
    if (signal?.aborted === true) return Promise.reject(new ComputeError('ABORTED', 'task aborted'))
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new ComputeError('BUSY', `compute queue is full (${this.maxQueue} tasks waiting); retry later`))
    }
    return new Promise<WorkerMessage>((resolve, reject) => {
      const job: Job = { message, timeoutMs, resolve, reject, signal }
      if (signal !== undefined) {
        job.onAbort = () => { this.abort(job) }
        signal.addEventListener('abort', job.onAbort, { once: true })
      }
      this.queue.push(job)
      this.metrics.queue.set(this.queue.length)
      void this.pump()
    })
  }

  private settle (job: Job, outcome: WorkerMessage | ComputeError): void {
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort)
    if (outcome instanceof ComputeError) job.reject(outcome)
    else job.resolve(outcome)
  }

  private abort (job: Job): void {
    const index = this.queue.indexOf(job)
    if (index >= 0) {
      this.queue.splice(index, 1)
      this.metrics.queue.set(this.queue.length)
      this.settle(job, new ComputeError('ABORTED', 'task aborted'))
      return
    }
    if (this.inFlight?.job === job) {
      // A dispatch cannot be interrupted in-process: the only way to stop it is to end the worker.
      this.failInFlight(new ComputeError('ABORTED', 'task aborted'), true)
    }
  }

  private async pump (): Promise<void> {
    if (this.inFlight !== undefined || this.queue.length === 0 || this.closed) return
    const job = this.queue.shift() as Job
    this.metrics.queue.set(this.queue.length)
    const id = this.nextId++
    // Reserve the slot before awaiting the worker so a second pump does not start another job.
    this.inFlight = { id, job }
    let worker: Worker
    try {
      worker = this.worker !== undefined && !this.worker.exited ? this.worker : this.spawn()
      this.lastInfo = await worker.ready
    } catch (err) {
      this.inFlight = undefined
      this.settle(job, err instanceof ComputeError ? err : new ComputeError('WORKER_CRASHED', String(err)))
      void this.pump()
      return
    }
    if (this.inFlight?.id !== id) return // closed or aborted while the worker started
    this.inFlight.worker = worker
    this.inFlight.timer = setTimeout(() => {
      this.failInFlight(new ComputeError('TIMEOUT', `task ran past its wall-clock limit of ${job.timeoutMs} ms; the worker was killed`, { timeoutMs: job.timeoutMs }), true)
    }, job.timeoutMs)
    this.send(worker, job.message(id))
  }

  private failInFlight (err: ComputeError, kill: boolean): void {
    const inFlight = this.inFlight
    if (inFlight === undefined) return
    clearTimeout(inFlight.timer)
    this.inFlight = undefined
    this.settle(inFlight.job, err)
    const worker = inFlight.worker
    if (kill && worker !== undefined && !worker.exited) {
      this.logger.warn({ code: err.code, pid: worker.child.pid }, 'killing compute worker')
      // Detach first: the next job must not be sent to a process that is being killed.
      if (this.worker === worker) this.worker = undefined
      worker.child.kill('SIGKILL')
    }
    void this.pump()
  }

  private send (worker: Worker, message: ParentMessage): void {
    try {
      worker.child.send(message)
    } catch (err) {
      this.logger.warn({ err }, 'could not send to compute worker')
    }
  }

  private spawn (): Worker {
    if (this.spawned++ > 0) this.metrics.restarts.inc()
    const child = fork(workerPath(), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
      env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' }
    })
    const ready = Promise.withResolvers<ExecutorInfo>()
    const worker: Worker = { child, ready: ready.promise, exited: false }
    this.worker = worker
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue
      createInterface({ input: stream }).on('line', line => {
        this.logger.debug({ pid: child.pid, line: line.slice(0, MAX_LOG_LINE) }, 'compute worker output')
      })
    }
    const { resolve, reject } = ready
    const timer = setTimeout(() => {
        reject(new ComputeError('WORKER_CRASHED', `compute worker did not start within ${this.startTimeoutMs} ms`))
        child.kill('SIGKILL')
      }, this.startTimeoutMs)
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') { clearTimeout(timer); resolve(message.info); return }
        if (message.type === 'init-failed') {
          clearTimeout(timer)
          reject(new ComputeError(message.code, message.message))
          child.kill('SIGKILL')
          return
        }
        this.onWorkerMessage(worker, message)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        worker.exited = true
        reject(new ComputeError('WORKER_CRASHED', `compute worker exited during start (code ${code}, signal ${signal})`))
        if (this.worker === worker) this.worker = undefined
        if (this.inFlight?.worker === worker) {
          this.failInFlight(new ComputeError('WORKER_CRASHED', `compute worker exited during the task (code ${code}, signal ${signal}); the daemon is unaffected`, { code, signal }), false)
        } else {
          void this.pump()
        }
      })
      child.on('error', err => { this.logger.warn({ err }, 'compute worker error') })
    worker.ready.catch(() => {})
    // The init message goes first; `ready` resolves when the worker has opened its device.
    child.send({ type: 'init', kind: this.kind, limits: this.limits } satisfies ParentMessage)
    return worker
  }

  private onWorkerMessage (worker: Worker, message: WorkerMessage): void {
    if (message.type === 'device-lost') {
      this.metrics.deviceLost.inc()
      this.logger.warn({ reason: message.reason, message: message.message.slice(0, MAX_LOG_LINE) }, 'GPU device lost; re-acquiring')
      return
    }
    if (!('id' in message)) return
    const inFlight = this.inFlight
    if (inFlight === undefined || inFlight.id !== message.id || inFlight.worker !== worker) return // a late reply
    clearTimeout(inFlight.timer)
    this.inFlight = undefined
    if (message.type === 'error') {
      this.settle(inFlight.job, new ComputeError(message.code, message.message, message.meta))
    } else {
      this.settle(inFlight.job, message)
    }
    void this.pump()
  }
}

const KERNEL_LABELS = new Set<string>(['matmul', 'conv2d', 'elementwise', 'reduce', 'softmax', 'layernorm', 'mlp', 'custom'])
