import type { Logger } from '../../core/logger.ts'
import type { MarketReader, TaskView } from '../state/reader.ts'
import type { Job } from './job-queue.ts'

// How often a provider that claimed its inputs unavailable reads the task for the validators' verdict.
const VERDICT_POLL_MS = 500
// How long the wait lasts while the claim is not in the task's view here yet (once it is, its holdsSlashUntilMs, the
// end of the late slash's wait for a verdict, ends it): twice the market's INPUT_VERDICT_WAIT_MS (60 s).
const CLAIM_SEEN_WAIT_MS = 120_000

/** The validators' verdict on this provider's input claim, and the deadline it leaves for the result. */
export interface InputVerdict { outcome: 'available' | 'unavailable', dueAtMs: number }

export interface InputClaimsComponents {
  /** This provider's `hmy1…` address: its claims are the ones naming it. */
  address: string
  market: Pick<MarketReader, 'task'>
  /** Submits this provider's `input-claim` of a task's round; its id, or undefined when it was not admitted. */
  submit: (taskId: string, round: number) => Promise<string | undefined>
  log: Logger
}

/**
 * A provider's side of "Inputs no peer serves" (docs/market.md): a winner that could not fetch a public task's inputs
 * claims them unavailable and waits for a validator's verdict, and its claims (final, so found again after a restart)
 * say until when an award is worth working on.
 */
export class InputClaims {
  private readonly c: InputClaimsComponents

  constructor (components: InputClaimsComponents) {
    this.c = components
  }

  /**
   * Sends this provider's input-claim for the job's round (unless `send` is false: it is final already) and waits for
   * the validators' verdict on it (until the late rule stops waiting for one, or `signal` aborts). Returns the verdict
   * and the deadline it leaves; undefined when the claim was not admitted or no verdict came.
   */
  async claim (job: Pick<Job, 'taskId' | 'round'>, why: string, signal: AbortSignal, send = true): Promise<InputVerdict | undefined> {
    if (send) {
      this.c.log.warn({ taskId: job.taskId, round: job.round, why }, 'the task\'s inputs could not be fetched: input claim sent')
      const claimTx = await this.c.submit(job.taskId, job.round)
      if (claimTx === undefined) return undefined
    }
    let holdUntil = Date.now() + CLAIM_SEEN_WAIT_MS
    while (!signal.aborted && Date.now() < holdUntil) {
      await new Promise(resolve => setTimeout(resolve, VERDICT_POLL_MS))
      const view = await this.c.market.task(job.taskId)
      const claim = view === undefined ? undefined : this.mine(view, job.round)
      if (claim === undefined) continue
      if (claim.verdict !== undefined) {
        this.c.log.info({ taskId: job.taskId, round: job.round, verdict: claim.verdict.outcome, validator: claim.verdict.validator, dueAtMs: claim.dueAtMs }, 'input claim answered')
        return { outcome: claim.verdict.outcome, dueAtMs: claim.dueAtMs }
      }
      if (claim.holdsSlashUntilMs !== undefined) holdUntil = claim.holdsSlashUntilMs
    }
    this.c.log.warn({ taskId: job.taskId, round: job.round }, 'no verdict on the input claim')
    return undefined
  }

  /** This provider's input claim of `round` in the task's view, if any. */
  mine (view: TaskView, round: number): TaskView['inputClaims'][number] | undefined {
    return view.inputClaims.find(c => c.provider === this.c.address && c.round === round)
  }

  /**
   * Until when an award of `round` is worth working on: its deadline; after this provider's input claim, the
   * extended deadline of an `available` verdict, or the end of the wait for a verdict (never, after `unavailable`).
   */
  workUntil (view: TaskView, round: number, deadlineMs: number): number {
    const claim = this.mine(view, round)
    if (claim === undefined) return deadlineMs
    if (claim.verdict === undefined) return claim.holdsSlashUntilMs ?? deadlineMs
    return claim.verdict.outcome === 'available' ? claim.dueAtMs : -Infinity
  }
}
