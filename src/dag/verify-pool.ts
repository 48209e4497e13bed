import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Registry } from 'prom-client'
import { Counter, Gauge } from 'prom-client'
import type { Startable } from '../core/lifecycle.ts'
import { type Logger, silentLogger } from '../core/logger.ts'
import { verify } from '../core/crypto.ts'
import { DagError } from './errors.ts'
import { packJob, type VerifyAnswer, VERIFY_WORKER_DATA, type VerifyJob } from './verify-worker.ts'

export interface VerifyItem {
  sig: Uint8Array
  msg: Uint8Array
  publicKey: Uint8Array
}

/** Anything that checks ML-DSA-65 signatures in bulk (the pool, or an in-thread verifier in tests and tools). */
export interface SignatureVerifier {
  verifyBatch (items: VerifyItem[]): Promise<boolean[]>
}

export interface VerifyPoolInit {
  /** Worker threads. @default os.availableParallelism() */
  workers?: number
  /** Signatures waiting or in flight before `verifyBatch` refuses with QUEUE_FULL. @default 20000 */
  maxQueued?: number
  /** Signatures per message to a worker: large enough to amortise the message, small enough to spread. @default 32 */
  chunkSize?: number
  /** A job a worker has not answered after this long is rejected with VERIFY_TIMEOUT and its worker is replaced
   *  (a job is a chunk, milliseconds of work; a worker holds at most four, so this only fires on a stuck thread).
   *  @default 30000 */
  jobTimeoutMs?: number
  /** Worker replacements (crash, exit, timeout, bad answer) allowed within `restartWindowMs`; one more trips the
   *  pool: every job fails with VERIFIER_FAILED until `tripCooldownMs` has passed. @default 3 × workers */
  maxRestarts?: number
  /** Sliding window over which `maxRestarts` is counted. @default 60000 */
  restartWindowMs?: number
  /** How long a tripped pool refuses work before it starts fresh workers again. @default 60000 */
  tripCooldownMs?: number
  /** Where worker crashes, timeouts and trips are reported. @default a silent logger */
  logger?: Logger
}

/** A thread of the pool as tests and diagnostics may see it: its id, and a way to kill it (the pool replaces it). */
export type VerifyThread = Pick<Worker, 'threadId' | 'terminate'>

type RestartReason = 'crash' | 'timeout' | 'protocol'

// Four jobs per worker: one running, the next ones already posted so the thread never idles while the main thread
// is busy. The rest wait in the pool, so a job's timeout measures a few jobs of work, never a long queue.
const JOBS_PER_WORKER = 4
// A job whose worker died runs once more on another worker; a second death fails it (a poison input must not
// kill every worker in turn).
const MAX_ATTEMPTS = 2
const WORKER_URL = new URL('./verify-worker.ts', import.meta.url)

interface Job {
  readonly id: number
  readonly items: VerifyItem[]
  readonly resolve: (r: Uint8Array) => void
  readonly reject: (e: Error) => void
  attempts: number
  worker: PoolWorker | undefined
  timer: NodeJS.Timeout | undefined
}

interface PoolWorker {
  readonly worker: Worker
  /** Posted and unanswered, by job id (at most JOBS_PER_WORKER). */
  readonly jobs: Map<number, Job>
  /** Signatures posted and not answered. */
  inflight: number
  /** Set once the pool has let go of this worker (crash, recycle, stop): later events from it are ignored. */
  gone: boolean
}

function createPoolMetrics (registry: Registry): { verified: Counter, depth: Gauge, restarts: Counter, timeouts: Counter, trips: Counter } {
  const registers = [registry]
  return {
    verified: new Counter({ name: 'harmony_dag_signatures_verified_total', help: 'ML-DSA-65 signatures verified by the pool', labelNames: ['result'], registers }),
    depth: new Gauge({ name: 'harmony_dag_verify_queue_depth', help: 'signatures queued or in flight in the verifier pool', registers }),
    restarts: new Counter({ name: 'harmony_dag_verify_worker_restarts_total', help: 'verifier workers replaced, by why the old one went', labelNames: ['reason'], registers }),
    timeouts: new Counter({ name: 'harmony_dag_verify_job_timeouts_total', help: 'verifier jobs rejected because their worker did not answer in time', registers }),
    trips: new Counter({ name: 'harmony_dag_verify_pool_trips_total', help: 'times the verifier pool gave up after too many worker restarts', registers })
  }
}

/** Verifies on the calling thread; for small tools and for comparing against the pool. */
export class InlineVerifier implements SignatureVerifier {
  async verifyBatch (items: VerifyItem[]): Promise<boolean[]> {
    return items.map(i => verify(i.sig, i.msg, i.publicKey))
  }
}

/**
 * A `worker_threads` pool verifying ML-DSA-65 signatures on every core (node:crypto where the runtime has ML-DSA,
 * noble otherwise). Batches are split into chunks (jobs) handed to the least busy worker. Bounded queue.
 *
 * It heals: a worker that crashes, exits or stops answering is replaced and its jobs run once more elsewhere;
 * every job has a timeout; every count is released exactly once on every path (answer, error, timeout, death,
 * stop). Replacements are rate-limited: past `maxRestarts` within `restartWindowMs` the pool trips, fails its jobs
 * with VERIFIER_FAILED (callers treat that as "could not verify", never as an invalid signature) and tries again
 * after `tripCooldownMs`.
 */
export class VerifyPool implements SignatureVerifier, Startable {
  private readonly opts: Required<Omit<VerifyPoolInit, 'logger'>>
  private readonly log: Logger
  private readonly metrics?: ReturnType<typeof createPoolMetrics>
  private readonly workers: PoolWorker[] = []
  /** Jobs waiting for a worker with room, oldest first. Bounded: each holds ≥ 1 of at most maxQueued signatures. */
  private readonly ready: Job[] = []
  private nextId = 1
  private queued = 0
  private running = false
  private restarts: number[] = []
  private cooldown: NodeJS.Timeout | undefined
  private readonly waiting: Array<{ items: VerifyItem[], resolve: (r: boolean[]) => void, reject: (e: Error) => void }> = []
  private waitingCount = 0
  private flushTimer: NodeJS.Immediate | undefined

  constructor (init: VerifyPoolInit = {}, registry?: Registry) {
    const workers = Math.max(1, init.workers ?? availableParallelism())
    this.opts = {
      workers,
      maxQueued: init.maxQueued ?? 20000,
      chunkSize: Math.max(1, init.chunkSize ?? 32),
      jobTimeoutMs: init.jobTimeoutMs ?? 30_000,
      maxRestarts: init.maxRestarts ?? 3 * workers,
      restartWindowMs: init.restartWindowMs ?? 60_000,
      tripCooldownMs: init.tripCooldownMs ?? 60_000
    }
    this.log = (init.logger ?? silentLogger()).child({ module: 'verify-pool' })
    if (registry !== undefined) this.metrics = createPoolMetrics(registry)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.fill()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.cooldown !== undefined) { clearTimeout(this.cooldown); this.cooldown = undefined }
    this.restarts = []
    const ws = this.failAll(new DagError('NOT_RUNNING', 'verifier pool stopped'))
    await Promise.all(ws.map(async w => await w.worker.terminate()))
  }

  /** Signatures accepted by `verifyBatch` and not yet answered (waiting, queued or on a worker). */
  get queueDepth (): number { return this.queued }
  /** Configured worker threads. */
  get workerCount (): number { return this.opts.workers }
  /** Signatures posted to workers and not yet answered. */
  get inFlight (): number { return this.workers.reduce((n, w) => n + w.inflight, 0) }

  /**
   * The live worker threads (fewer than `workerCount` only while tripped). Killing one with `terminate()` is how
   * tests and operators exercise the healing path: the pool sees an exit it did not ask for and replaces it.
   */
  get threads (): readonly VerifyThread[] { return this.workers.map(w => w.worker) }

  async verifyBatch (items: VerifyItem[]): Promise<boolean[]> {
    if (items.length === 0) return []
    if (!this.running) throw new DagError('NOT_RUNNING', 'verifier pool is not started')
    if (this.cooldown !== undefined) throw this.trippedError()
    if (items.length > this.opts.maxQueued) throw new DagError('QUEUE_FULL', `verifier queue full: a batch of ${items.length} signatures exceeds its bound of ${this.opts.maxQueued}`)
    if (this.queued + items.length > this.opts.maxQueued) throw new DagError('QUEUE_FULL', `verifier queue full (${this.queued} signatures waiting)`)
    // Counted here and released in `finally`: exactly once, whatever settles the batch.
    this.queued += items.length
    this.metrics?.depth.set(this.queued)
    try {
      let out: boolean[]
      if (items.length < this.opts.chunkSize) {
        out = await this.coalesce(items)
      } else {
        const chunks: Array<Promise<Uint8Array>> = []
        for (let i = 0; i < items.length; i += this.opts.chunkSize) chunks.push(this.submit(items.slice(i, i + this.opts.chunkSize)))
        const results = await Promise.all(chunks)
        out = []
        for (const r of results) for (const b of r) out.push(b === 1)
      }
      const valid = out.filter(ok => ok).length
      this.metrics?.verified.inc({ result: 'valid' }, valid)
      this.metrics?.verified.inc({ result: 'invalid' }, out.length - valid)
      return out
    } finally {
      this.queued -= items.length
      this.metrics?.depth.set(this.queued)
    }
  }

  /**
   * Small batches (single client transactions) arriving in the same turn of the event loop travel to a worker
   * together: one message per chunk instead of one per signature.
   */
  private async coalesce (items: VerifyItem[]): Promise<boolean[]> {
    return await new Promise<boolean[]>((resolve, reject) => {
      this.waiting.push({ items, resolve, reject })
      this.waitingCount += items.length
      if (this.waitingCount >= this.opts.chunkSize) this.flush()
      else if (this.flushTimer === undefined) this.flushTimer = setImmediate(() => { this.flush() })
    })
  }

  private flush (): void {
    if (this.flushTimer !== undefined) { clearImmediate(this.flushTimer); this.flushTimer = undefined }
    const batch = this.waiting.splice(0)
    this.waitingCount = 0
    if (batch.length === 0) return
    const all: VerifyItem[] = []
    for (const b of batch) all.push(...b.items)
    this.submit(all).then(res => {
      let o = 0
      for (const b of batch) {
        b.resolve(Array.from(res.subarray(o, o + b.items.length), x => x === 1))
        o += b.items.length
      }
    }, (err: Error) => { for (const b of batch) b.reject(err) })
  }

  private async submit (items: VerifyItem[]): Promise<Uint8Array> {
    return await new Promise<Uint8Array>((resolve, reject) => {
      if (!this.running) { reject(new DagError('NOT_RUNNING', 'verifier pool stopped')); return }
      if (this.cooldown !== undefined) { reject(this.trippedError()); return }
      this.ready.push({ id: this.nextId++, items, resolve, reject, attempts: 0, worker: undefined, timer: undefined })
      this.pump()
    })
  }

  /** Hands waiting jobs to the least busy workers with room. Runs whenever room or a job appears. */
  private pump (): void {
    while (this.ready.length > 0) {
      let best: PoolWorker | undefined
      for (const w of this.workers) if (w.jobs.size < JOBS_PER_WORKER && (best === undefined || w.inflight < best.inflight)) best = w
      if (best === undefined) return
      const job = this.ready.shift() as Job
      this.post(job, best)
    }
  }

  private post (job: Job, w: PoolWorker): void {
    job.attempts++
    job.worker = w
    w.jobs.set(job.id, job)
    w.inflight += job.items.length
    job.timer = setTimeout(() => { this.onTimeout(job) }, this.opts.jobTimeoutMs)
    job.timer.unref()
    try {
      const packed = packJob(job.items)
      const message: VerifyJob = { id: job.id, count: job.items.length, packed }
      w.worker.postMessage(message, [packed])
    } catch (err) {
      // Nothing reached the worker: the worker is not at fault, the job is (or the runtime is out of memory).
      // Rejected without pumping: the caller's pump loop goes on with the next job (no recursion per failure).
      this.detach(job)
      job.reject(new DagError('VERIFIER_FAILED', 'could not hand a job to a verifier worker', { threadId: w.worker.threadId }, { cause: err }))
    }
  }

  /** Releases the job's hold on its worker (room, signature count) and its timer. Idempotent. */
  private detach (job: Job): void {
    const w = job.worker
    if (w === undefined) return
    job.worker = undefined
    if (job.timer !== undefined) { clearTimeout(job.timer); job.timer = undefined }
    w.jobs.delete(job.id)
    w.inflight -= job.items.length
  }

  /** Settles a posted job and gives its room to the next waiting job. */
  private settle (job: Job, result: Uint8Array | Error): void {
    this.detach(job)
    if (result instanceof Error) job.reject(result)
    else job.resolve(result)
    this.pump()
  }

  private onMessage (w: PoolWorker, m: unknown): void {
    if (w.gone) return
    const answer = m as Partial<VerifyAnswer> | null
    const job = typeof answer?.id === 'number' ? w.jobs.get(answer.id) : undefined
    // A job leaves a live worker only once answered (or never delivered), so an unknown id means a confused
    // worker: the job it should have answered would only time out, so replace it now.
    if (job === undefined) { this.replace(w, 'protocol', new Error('answer for an unknown job')); return }
    const results = answer?.results
    if (typeof answer?.error === 'string') this.settle(job, new DagError('VERIFIER_FAILED', 'the verifier worker could not read a job', { threadId: w.worker.threadId, reason: answer.error }))
    else if (results instanceof Uint8Array && results.length === job.items.length) this.settle(job, results)
    else this.replace(w, 'protocol', new Error('malformed answer'))
  }

  private onTimeout (job: Job): void {
    const w = job.worker
    if (w === undefined) return
    this.metrics?.timeouts.inc()
    this.log.warn({ threadId: w.worker.threadId, signatures: job.items.length, timeoutMs: this.opts.jobTimeoutMs }, 'verifier job timed out; replacing its worker')
    this.settle(job, new DagError('VERIFY_TIMEOUT', `signature verification did not answer within ${this.opts.jobTimeoutMs} ms`, { threadId: w.worker.threadId }))
    this.replace(w, 'timeout', new Error('job timed out'))
  }

  /**
   * Lets go of a worker that crashed, exited, timed out or answered nonsense: its jobs run once more elsewhere
   * (or fail with VERIFIER_FAILED on their second loss), a fresh worker takes its place, unless too many were
   * replaced lately, in which case the pool trips.
   */
  private replace (w: PoolWorker, reason: RestartReason, err: unknown): void {
    if (w.gone) return
    w.gone = true
    const i = this.workers.indexOf(w)
    if (i >= 0) this.workers.splice(i, 1)
    void w.worker.terminate().catch(() => {})
    const orphans = [...w.jobs.values()]
    for (const job of orphans) this.detach(job)
    const tooMany = this.countRestart(reason)
    this.log.warn({ threadId: w.worker.threadId, reason, err, jobs: orphans.length }, 'verifier worker lost; replacing it')
    // Lost jobs are the oldest: they go back to the front, in order.
    for (const job of orphans) if (job.attempts >= MAX_ATTEMPTS) job.reject(new DagError('VERIFIER_FAILED', 'signature verification failed twice: its verifier workers died', { reason }))
    this.ready.unshift(...orphans.filter(job => job.attempts < MAX_ATTEMPTS))
    if (tooMany) { this.trip(); return }
    this.fill()
  }

  /** Records one replacement; true when that makes more than `maxRestarts` within the window. */
  private countRestart (reason: RestartReason): boolean {
    this.metrics?.restarts.inc({ reason })
    const now = Date.now()
    // Bounded: the pool trips (and this resets after the cool-down) once it holds more than maxRestarts.
    this.restarts = this.restarts.filter(t => now - t < this.opts.restartWindowMs)
    this.restarts.push(now)
    return this.restarts.length > this.opts.maxRestarts
  }

  /** Too many replacements: stop spinning. Fail everything, refuse work, start afresh after the cool-down. */
  private trip (): void {
    this.metrics?.trips.inc()
    this.log.error({ restarts: this.restarts.length, windowMs: this.opts.restartWindowMs, cooldownMs: this.opts.tripCooldownMs },
      'verifier workers keep dying; refusing signature checks until the cool-down ends')
    for (const w of this.failAll(this.trippedError())) void w.worker.terminate().catch(() => {})
    this.cooldown = setTimeout(() => {
      this.cooldown = undefined
      this.restarts = []
      if (!this.running) return
      this.log.info({ workers: this.opts.workers }, 'verifier pool cool-down over; starting workers again')
      this.fill()
    }, this.opts.tripCooldownMs)
    this.cooldown.unref()
  }

  /**
   * Lets go of every worker (returned, for the caller to terminate) and rejects every job and waiting batch; the
   * counts are released by `detach` and by `verifyBatch`'s finally.
   */
  private failAll (err: DagError): PoolWorker[] {
    if (this.flushTimer !== undefined) { clearImmediate(this.flushTimer); this.flushTimer = undefined }
    this.waitingCount = 0
    for (const b of this.waiting.splice(0)) b.reject(err)
    for (const job of this.ready.splice(0)) job.reject(err)
    const ws = this.workers.splice(0)
    for (const w of ws) {
      w.gone = true
      for (const job of [...w.jobs.values()]) { this.detach(job); job.reject(err) }
    }
    return ws
  }

  private trippedError (): DagError {
    return new DagError('VERIFIER_FAILED', 'signature verification is unavailable: verifier workers kept crashing', { restartWindowMs: this.opts.restartWindowMs })
  }

  /** Starts workers up to the configured count, then hands them the waiting jobs. */
  private fill (): void {
    while (this.running && this.cooldown === undefined && this.workers.length < this.opts.workers) {
      try {
        this.workers.push(this.spawn())
      } catch (err) {
        // A thread that cannot even be created counts as a crash, so the trip rule bounds this loop.
        this.log.warn({ err }, 'could not start a verifier worker')
        if (this.countRestart('crash')) this.trip()
      }
    }
    this.pump()
  }

  private spawn (): PoolWorker {
    const worker = new Worker(WORKER_URL, { workerData: VERIFY_WORKER_DATA })
    // The pool must not keep a finished process alive; jobs in flight hold it through their callers.
    worker.unref()
    const w: PoolWorker = { worker, jobs: new Map(), inflight: 0, gone: false }
    worker.on('message', (m: unknown) => { this.onMessage(w, m) })
    worker.on('messageerror', (err) => { this.replace(w, 'protocol', err) })
    worker.on('error', (err) => { this.replace(w, 'crash', err) })
    worker.on('exit', (code) => { this.replace(w, 'crash', new Error(`verifier worker exited with code ${code}`)) })
    return w
  }
}
