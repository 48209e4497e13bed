import type { Logger } from '../../core/logger.ts'
import { INPUT_JUDGE_WINDOW_MS, MAX_INPUT_CLAIMS } from '../rules/constants.ts'
import type { MarketReader, TaskView } from '../state/reader.ts'
import { ProviderBlobError } from './blobs.ts'
import type { Job } from './job-queue.ts'

// How often a provider that claimed its inputs unavailable reads the task for the validators' verdict.
const VERDICT_POLL_MS = 500
// How long the wait lasts while the claim is not in the task's view here yet (once it is, its judge window, then its
// holdsSlashUntilMs, end it): twice the market's INPUT_VERDICT_WAIT_MS (60 s).
const CLAIM_SEEN_WAIT_MS = 120_000
// Past a claim's judge window, how long a verdict stamped inside it may still take to become final here.
const VERDICT_FINAL_MARGIN_MS = 5000

/**
 * The validators' verdict on this provider's latest input claim, the deadline it leaves for the result, and whether
 * the claims of the round now excuse the provider (`unavailable` from enough judges).
 */
export interface InputVerdict { outcome: 'available' | 'unavailable', dueAtMs: number, excused: boolean }

/** How a provider's claims of a round ended: the output of a run after `available`, or no output. */
export type ClaimsOutcome<T> = { out: T } | { excused: boolean }

type ClaimView = TaskView['inputClaims'][number]

export interface InputClaimsComponents {
  /** This provider's `hmy1…` address: its claims are the ones naming it. */
  address: string
  market: Pick<MarketReader, 'task'>
  /** Submits this provider's `input-claim` number `attempt` of a task's round; its id, or undefined when it was not admitted. */
  submit: (claim: { taskId: string, round: number, attempt: number, keySeed?: Uint8Array }) => Promise<string | undefined>
  /**
   * The seed of this provider's key for a private task once envelopes it fetched for it did not open (ProviderTaskKeys):
   * the claim reveals it, so that the judge can open them too (docs/market.md "Private tasks"). @default none
   */
  seedToReveal?: (taskId: string) => Uint8Array | undefined
  log: Logger
}

/**
 * A provider's side of "Inputs no peer serves" (docs/market.md): a winner that could not fetch a task's inputs claims
 * them unavailable and waits for its judge's verdict; after `available` it fetches again, and when it still cannot (a
 * judge that lied, or lost them), when no verdict came in the judge's window, or after an `unavailable` that does not
 * excuse it alone (a second judge must confirm it), it appeals: claims again, judged by the next validator in turn,
 * up to MAX_INPUT_CLAIMS claims. Its claims (final, so found again after a restart) say
 * until when an award is worth working on.
 */
export class InputClaims {
  private readonly c: InputClaimsComponents

  constructor (components: InputClaimsComponents) {
    this.c = components
  }

  /**
   * Claims (unless `send` is false: a claim of the round is final already) and appeals while the rules let it:
   * `run(dueAtMs)` after each `available` verdict, again after an appeal when it fails for want of inputs. Resolves
   * with its output, or `{ excused }`: true after an `unavailable` verdict, false when no verdict came and no appeal
   * is left. An `unavailable` verdict that does not excuse alone is appealed for a second judge's.
   */
  async resolve<T> (job: Pick<Job, 'taskId' | 'round'>, why: string, signal: AbortSignal, send: boolean, run: (dueAtMs: number) => Promise<T>): Promise<ClaimsOutcome<T>> {
    // each pass sends at most one claim (one not admitted counts too): at most MAX_INPUT_CLAIMS passes
    for (let pass = 0; pass < MAX_INPUT_CLAIMS && !signal.aborted; pass++) {
      const verdict = await this.claim(job, why, signal, send)
      if (verdict?.outcome === 'unavailable') {
        if (verdict.excused) return { excused: true }
        if (!await this.mayAppeal(job)) return { excused: false }
        why = 'an unavailable verdict a second judge must confirm'
      } else if (verdict === undefined) {
        if (!await this.mayAppeal(job)) return { excused: false }
        why = 'no verdict within the judge window'
      } else {
        try {
          return { out: await run(verdict.dueAtMs) }
        } catch (err) {
          if (!(err instanceof ProviderBlobError) || err.code !== 'INPUT_UNAVAILABLE' || !await this.mayAppeal(job)) throw err
          why = `the inputs found available could not be fetched: ${err.message}`
        }
      }
      send = true
    }
    return { excused: false }
  }

  /**
   * Sends this provider's next input-claim of the job's round (unless `send` is false: it is final already) and waits
   * for its judge's verdict (until the judge's window is over, or `signal` aborts). Returns the verdict and the
   * deadline it leaves; undefined when the claim was not admitted or no verdict came in time.
   */
  async claim (job: Pick<Job, 'taskId' | 'round'>, why: string, signal: AbortSignal, send = true): Promise<InputVerdict | undefined> {
    let attempt = this.mine(await this.c.market.task(job.taskId), job.round).length - 1
    if (send) {
      attempt++
      this.c.log.warn({ taskId: job.taskId, round: job.round, attempt, why }, attempt === 0 ? 'the task\'s inputs could not be fetched: input claim sent' : 'input claim appealed')
      const keySeed = this.c.seedToReveal?.(job.taskId)
      const claimTx = await this.c.submit({ taskId: job.taskId, round: job.round, attempt, ...(keySeed === undefined ? {} : { keySeed }) })
      if (claimTx === undefined) return undefined
    }
    let waitUntil = Date.now() + CLAIM_SEEN_WAIT_MS
    while (!signal.aborted && Date.now() < waitUntil) {
      await new Promise(resolve => setTimeout(resolve, VERDICT_POLL_MS))
      const claim = this.mine(await this.c.market.task(job.taskId), job.round)[attempt]
      if (claim === undefined) continue
      if (claim.verdict !== undefined) {
        this.c.log.info({ taskId: job.taskId, round: job.round, attempt, verdict: claim.verdict.outcome, validator: claim.verdict.validator, dueAtMs: claim.dueAtMs }, 'input claim answered')
        return { outcome: claim.verdict.outcome, dueAtMs: claim.dueAtMs, excused: claim.excused }
      }
      waitUntil = claim.timeMs + INPUT_JUDGE_WINDOW_MS + VERDICT_FINAL_MARGIN_MS
    }
    this.c.log.warn({ taskId: job.taskId, round: job.round, attempt }, 'no verdict on the input claim')
    return undefined
  }

  /**
   * Whether another claim of the round would stand now (apply-inputs.ts): claims left, not excused, and the latest
   * claim's hold still runs (or the deadline its `available` verdict gave).
   */
  private async mayAppeal (job: Pick<Job, 'taskId' | 'round'>): Promise<boolean> {
    const claims = this.mine(await this.c.market.task(job.taskId), job.round)
    const last = claims.at(-1)
    if (last === undefined || claims.length >= MAX_INPUT_CLAIMS) return false
    const until = last.excused ? 0 : last.verdict?.outcome === 'available' ? last.dueAtMs : last.holdsSlashUntilMs ?? 0
    return Date.now() < until
  }

  /** This provider's input claims of `round` in the task's view, first claim first. */
  mine (view: TaskView | undefined, round: number): ClaimView[] {
    return view?.inputClaims.filter(c => c.provider === this.c.address && c.round === round) ?? []
  }

  /**
   * Until when an award of `round` is worth working on: its deadline; after this provider's input claims, never once
   * they excuse it, else the extended deadline of an `available` verdict or the end of the latest claim's hold (its
   * wait for a verdict, or for a second judge's `unavailable`).
   */
  workUntil (view: TaskView, round: number, deadlineMs: number): number {
    const claims = this.mine(view, round)
    const last = claims.at(-1)
    if (last === undefined) return deadlineMs
    if (claims.some(c => c.excused)) return -Infinity
    if (last.verdict?.outcome === 'available') return last.dueAtMs
    return Math.max(last.dueAtMs, last.holdsSlashUntilMs ?? deadlineMs)
  }
}
