import type { TaskView } from '../state/reader.ts'
import type { ProviderBlobs } from './blobs.ts'

/** Checks held at once; past it a new bid goes unchecked (the agent holds far fewer open bids: its capacity). */
const MAX_CHECKS = 4096
/** Requesters remembered as serving their inputs; past it the oldest is forgotten (and checked again). */
const MAX_SERVING = 1024

interface Check { missing?: string }

export interface InputChecksInit {
  /**
   * How long a requester whose task's inputs were all found served is taken to serve its next tasks' too, unchecked.
   * At saturation a check of every bid's inputs (a manifest request to up to four peers per input, per bidder) cost
   * more than the bids themselves. @default 30000
   */
  servingMs?: number
  /** Clock (tests). @default Date.now */
  now?: () => number
}

/**
 * Whether the inputs of a task this provider committed to are served, asked while its bid is sealed (between the
 * commit and the reveal, so the reveal waits for nothing). A winner that cannot fetch its inputs misses its deadline
 * and is slashed late, whoever's fault it is; a task whose inputs no peer serves (a requester's node gone, or one
 * that never served them) is not revealed on, so it expires and is refunded instead. Asked of the same peers the
 * winner's fetch asks (ProviderBlobs.available), and only a "no" from every peer asked counts: a check not done by
 * the reveal, one a busy or silent peer left open, or one of a private task (sealed only after the award) holds
 * nothing back. A requester found serving all of a task's inputs is not checked again for `servingMs`.
 */
export class InputChecks {
  private readonly blobs: Pick<ProviderBlobs, 'available'>
  private readonly servingMs: number
  private readonly now: () => number
  private readonly checks = new Map<string, Check>()
  /** requester → until when it is taken to serve its inputs (insertion order: oldest first) */
  private readonly serving = new Map<string, number>()

  constructor (blobs: Pick<ProviderBlobs, 'available'>, init: InputChecksInit = {}) {
    this.blobs = blobs
    this.servingMs = init.servingMs ?? 30_000
    this.now = init.now ?? Date.now
  }

  /** Starts the check of `view`'s inputs, one at a time, given up when `signal` aborts. */
  start (view: Pick<TaskView, 'taskId' | 'private' | 'inputs' | 'requester'>, signal: AbortSignal): void {
    if (view.private || this.checks.has(view.taskId) || this.checks.size >= MAX_CHECKS) return
    if ((this.serving.get(view.requester) ?? 0) > this.now()) return
    const check: Check = {}
    this.checks.set(view.taskId, check)
    void (async () => {
      let served = true
      for (const id of view.inputs) {
        if (signal.aborted || this.checks.get(view.taskId) !== check) return
        const available = await this.blobs.available(view, id, signal)
        if (signal.aborted) return
        if (available === false) {
          check.missing = `no peer serves input ${id}`
          return
        }
        served &&= available === true
      }
      if (served) this.served(view.requester)
    })().catch(() => {
      // a check that failed (not a "no": a stream error, a stop) holds nothing back
    })
  }

  /** Why the task's inputs cannot be fetched, once its check found one no peer serves; else undefined. */
  missing (taskId: string): string | undefined { return this.checks.get(taskId)?.missing }

  /** Drops the task's check (its bid revealed or given up). */
  forget (taskId: string): void { this.checks.delete(taskId) }

  private served (requester: string): void {
    this.serving.delete(requester)
    this.serving.set(requester, this.now() + this.servingMs)
    if (this.serving.size > MAX_SERVING) this.serving.delete(this.serving.keys().next().value as string)
  }
}
