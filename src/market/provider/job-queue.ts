/** One awarded run: a task's award round, and when this provider saw the award. */
export interface Job { taskId: string, round: number, seenAtMs: number }

export interface JobQueueInit {
  /** Jobs waiting to run; past it a job is refused (and the provider will be replaced). */
  maxQueued: number
  /** Jobs handled at once. */
  maxRunning: number
  /** Handles one job; a rejection is the job's failure (`onError`), never the queue's. */
  run: (job: Job) => Promise<void>
  onError: (job: Job, err: unknown) => void
}

/**
 * The provider's awarded jobs: queued in award order, up to `maxRunning` handled at once, each (task, round) held once
 * from its queueing to its end, so an event or a sweep that sees the award again does not queue it twice.
 */
export class JobQueue {
  private readonly init: JobQueueInit
  private readonly queued: Job[] = []
  private readonly held = new Set<string>()
  private running = 0

  constructor (init: JobQueueInit) {
    this.init = init
  }

  /** Queued or running. */
  has (taskId: string, round: number): boolean { return this.held.has(`${taskId}/${round}`) }

  get full (): boolean { return this.queued.length >= this.init.maxQueued }

  /** Queues a job not held yet and starts what may start; false when it was held already or the queue is full. */
  push (job: Job): boolean {
    if (this.has(job.taskId, job.round) || this.full) return false
    this.held.add(`${job.taskId}/${job.round}`)
    this.queued.push(job)
    this.pump()
    return true
  }

  private pump (): void {
    while (this.running < this.init.maxRunning && this.queued.length > 0) {
      const job = this.queued.shift() as Job
      this.running++
      this.init.run(job)
        .catch(err => { this.init.onError(job, err) })
        .finally(() => {
          this.running--
          this.held.delete(`${job.taskId}/${job.round}`)
          this.pump()
        })
    }
  }
}
