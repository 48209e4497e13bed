import type { TaskView } from '../state/reader.ts'
import type { ProviderBlobs } from './blobs.ts'

/** Checks held at once; past it a new bid goes unchecked (the agent holds far fewer open bids: its capacity). */
const MAX_CHECKS = 4096

interface Check { missing?: string }

/**
 * Whether the inputs of a task this provider committed to are served, asked while its bid is sealed (between the
 * commit and the reveal, so the reveal waits for nothing). A winner that cannot fetch its inputs misses its deadline
 * and is slashed late, whoever's fault it is; a task whose inputs no peer serves (a requester's node gone, or one
 * that never served them) is not revealed on, so it expires and is refunded instead. Asked of the same peers the
 * winner's fetch asks (ProviderBlobs.available), and only a "no" from every peer asked counts: a check not done by
 * the reveal, one a busy or silent peer left open, or one of a private task (sealed only after the award) holds
 * nothing back. Every bid is checked: a requester that served one task's inputs can withhold the next one's.
 */
export class InputChecks {
  private readonly blobs: Pick<ProviderBlobs, 'available'>
  private readonly checks = new Map<string, Check>()

  constructor (blobs: Pick<ProviderBlobs, 'available'>) {
    this.blobs = blobs
  }

  /**
   * Starts the check of `view`'s inputs, given up when `signal` aborts. `first`: a node likely to
   * hold them (the author of the vertex that carried the announce), asked before the others.
   */
  start (view: Pick<TaskView, 'taskId' | 'private' | 'inputs'>, signal: AbortSignal, first?: string): void {
    if (view.private || this.checks.has(view.taskId) || this.checks.size >= MAX_CHECKS) return
    const check: Check = {}
    this.checks.set(view.taskId, check)
    void (async () => {
      const available = await this.blobs.available(view, view.inputs, signal, first)
      if (signal.aborted || this.checks.get(view.taskId) !== check) return
      const missing = view.inputs.find((_, i) => available[i] === false)
      if (missing !== undefined) check.missing = `no peer serves input ${missing}`
    })().catch(() => {
      // a check that failed (not a "no": a stream error, a stop) holds nothing back
    })
  }

  /** Why the task's inputs cannot be fetched, once its check found one no peer serves; else undefined. */
  missing (taskId: string): string | undefined { return this.checks.get(taskId)?.missing }

  /** Drops the task's check (its bid revealed or given up). */
  forget (taskId: string): void { this.checks.delete(taskId) }
}
