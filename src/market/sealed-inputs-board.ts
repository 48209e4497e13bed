/**
 * The sealed-inputs notices this node keeps (docs/market.md "Private tasks"): a provider's own, so that a forged one
 * cannot hide the real one (a few distinct notices per task, each tried until one opens and matches the announced
 * ids), and on a validator every provider's, so that it can check a private task's input claim (input-checker.ts:
 * it fetches the envelopes the notices name).
 *
 * Every notice here was signed by its holder (sealed-inputs.ts `verifyNotice`), so a forger can only name itself,
 * and each forged notice costs it a peer id. When a provider's set for a task is full, a new notice takes the place
 * of one whose envelopes did not open, else of one whose envelopes could not be fetched, else of one whose holder
 * this node cannot reach, else it is dropped: a forger must hold that many live connections to this node, and serve
 * envelopes that open, to crowd out the requester's node.
 */
import { GossipValidationError, type GossipTopicHandler } from '../network/gossip.ts'
import { GOSSIP_TOPICS } from '../network/protocols.ts'
import { decodeNotice, MAX_NOTICE_BYTES, noticeKey, type SealedInputsNotice, type SignedNotice, verifyNotice } from './sealed-inputs.ts'

/** Distinct notices kept per task and provider (the real one plus a few forgeries). */
export const MAX_NOTICES_PER_TASK = 4
/** (task, provider) pairs with notices kept; the oldest pair's notices go first. */
const MAX_BOARD_KEYS = 4096

interface Entry {
  notice: SealedInputsNotice
  key: string
  /** `bad`: its envelopes did not open or match (never tried again); `unfetched`: not fetched (tried again later). */
  failed: false | 'unfetched' | 'bad'
}

export interface SealedInputsBoardOptions {
  /** Whether this notice is kept here (to this node's own provider; on a validator, to any provider of an open task). */
  keeps: (notice: SealedInputsNotice) => boolean
  /** Whether this node can fetch from `holder` now (a connected peer). @default every holder */
  reachable?: (holder: string) => boolean
}

/**
 * A notice's envelopes could not be fetched (its holder is gone or busy): not a proof that it is forged, so the board
 * marks it `unfetched`, not `bad`, and a later try (another call of `firstThatOpens`) may fetch them, from a validator
 * that has since fetched them to check a claim. It still gives way to a new notice when the set is full.
 */
export class NoticeNotFetched extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'NoticeNotFetched'
  }
}

/** The board's key of a provider's notices for one task. */
function slot (taskId: string, provider: string): string { return `${taskId}/${provider}` }

export class SealedInputsBoard {
  private readonly slots = new Map<string, Entry[]>()
  private readonly waiters = new Map<string, Set<() => void>>()
  private readonly keeps: (notice: SealedInputsNotice) => boolean
  private readonly reachable: (holder: string) => boolean
  /** Notices dropped because their task's set was full of live, untried ones. */
  dropped = 0

  constructor (options: SealedInputsBoardOptions) {
    this.keeps = options.keeps
    this.reachable = options.reachable ?? (() => true)
  }

  /** Keeps the notice when its provider's notices are kept here and there is room; true when kept. */
  offer (notice: SealedInputsNotice): boolean {
    if (!this.keeps(notice)) return false
    const key = noticeKey(notice)
    const at = slot(notice.taskId, notice.provider)
    const list = this.slots.get(at) ?? []
    if (list.some(e => e.key === key)) return false
    const entry: Entry = { notice, key, failed: false }
    // the same holder sealing again (its node restarted and re-sealed): the new envelopes replace the old
    const same = list.findIndex(e => e.notice.round === notice.round && e.notice.holder === notice.holder)
    if (same >= 0) list[same] = entry
    else if (list.length < MAX_NOTICES_PER_TASK) list.push(entry)
    else {
      let victim = list.findIndex(e => e.failed === 'bad')
      if (victim < 0) victim = list.findIndex(e => e.failed === 'unfetched')
      if (victim < 0) victim = list.findIndex(e => !this.reachable(e.notice.holder))
      if (victim < 0) { this.dropped++; return false }
      list.splice(victim, 1)
      list.push(entry)
    }
    this.slots.delete(at)
    this.slots.set(at, list)
    while (this.slots.size > MAX_BOARD_KEYS) this.slots.delete(this.slots.keys().next().value as string)
    for (const wake of [...(this.waiters.get(at) ?? [])]) wake()
    return true
  }

  /** The notices of `taskId` sealed to `provider` not known to be bad, in arrival order. */
  candidates (taskId: string, provider: string): SealedInputsNotice[] {
    return (this.slots.get(slot(taskId, provider)) ?? []).filter(e => e.failed !== 'bad').map(e => e.notice)
  }

  /** Whether a notice of `taskId` sealed to `provider` was found `bad` here (its envelopes fetched but did not open or match). */
  hasBad (taskId: string, provider: string): boolean {
    return (this.slots.get(slot(taskId, provider)) ?? []).some(e => e.failed === 'bad')
  }

  /**
   * Marks a notice that did not give the inputs: `bad` when its envelopes did not open or not to the announced ids
   * (never a candidate again), `unfetched` when they could not be fetched (still a candidate).
   */
  fail (notice: SealedInputsNotice, how: 'unfetched' | 'bad' = 'bad'): void {
    const key = noticeKey(notice)
    const e = this.slots.get(slot(notice.taskId, notice.provider))?.find(x => x.key === key)
    if (e !== undefined && e.failed !== 'bad') e.failed = how
  }

  /**
   * The first notice of `taskId` sealed to `provider` not in `tried` and not known to fail, waiting for one to arrive
   * when there is none; rejects when `signal` aborts.
   */
  async next (taskId: string, provider: string, tried: ReadonlySet<string>, signal: AbortSignal): Promise<SealedInputsNotice> {
    const at = slot(taskId, provider)
    for (;;) {
      const found = this.candidates(taskId, provider).find(n => !tried.has(noticeKey(n)))
      if (found !== undefined) return found
      signal.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const set = this.waiters.get(at) ?? new Set()
        const done = (): void => {
          set.delete(wake)
          if (set.size === 0 && this.waiters.get(at) === set) this.waiters.delete(at)
          signal.removeEventListener('abort', onAbort)
        }
        function wake (): void { done(); resolve() }
        const onAbort = (): void => { done(); reject(signal.reason as Error) }
        set.add(wake)
        this.waiters.set(at, set)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  /**
   * Runs `attempt` on each notice of `taskId` sealed to `provider` in turn (waiting for more while none is left
   * untried) and returns the first result; a notice whose attempt throws is reported to `onFailed` and marked failed
   * (`unfetched` when the attempt threw `NoticeNotFetched`, else `bad`). Rejects when `signal` aborts (while waiting,
   * or when an attempt failed because of it), or when a wait for another notice lasts `waitMs` (whole milliseconds
   * are taken; default: as long as `signal` allows).
   */
  async firstThatOpens<T> (taskId: string, provider: string, signal: AbortSignal, attempt: (notice: SealedInputsNotice) => Promise<T>, onFailed?: (notice: SealedInputsNotice, err: unknown) => void, waitMs?: number): Promise<T> {
    const tried = new Set<string>()
    for (;;) {
      const notice = await this.next(taskId, provider, tried, waitMs === undefined ? signal : AbortSignal.any([signal, AbortSignal.timeout(Math.max(0, Math.floor(waitMs)))]))
      tried.add(noticeKey(notice))
      try {
        return await attempt(notice)
      } catch (err) {
        signal.throwIfAborted()
        this.fail(notice, err instanceof NoticeNotFetched ? 'unfetched' : 'bad')
        onFailed?.(notice, err)
      }
    }
  }
}

/** The awards of a task as the market state holds them (state/reader.ts `AwardView`). */
export interface AwardedTo { awards: ReadonlyArray<{ winners: readonly string[], checker?: string }> }

/**
 * A validator's offer of a notice addressed to another provider: kept only when the task here names that provider
 * among a round's winners or as its checker (or has no award applied here yet: the notice can come first), so that
 * a flood of signed notices to made-up providers cannot push the real ones out of the bounded board. Returns whether
 * it was kept.
 */
export async function offerIfAssigned (board: Pick<SealedInputsBoard, 'offer'>, notice: SealedInputsNotice, task: (taskId: string) => Promise<AwardedTo | undefined>): Promise<boolean> {
  const t = await task(notice.taskId)
  if (t === undefined) return false
  if (t.awards.length > 0 && !t.awards.some(a => a.winners.includes(notice.provider) || a.checker === notice.provider)) return false
  return board.offer(notice)
}

/**
 * The `harmony/1/inputs` topic handler: a notice whose holder did not sign it is rejected (its sender's score
 * drops); a signed one is relayed and handed to `board` (which keeps it or not).
 */
export function sealedInputsTopic (chainId: string, board: { offer: (notice: SealedInputsNotice) => unknown }): GossipTopicHandler<SignedNotice> {
  return {
    topic: GOSSIP_TOPICS.inputs,
    maxBytes: MAX_NOTICE_BYTES,
    decode: decodeNotice,
    validate: async (notice): Promise<'accept'> => {
      const fault = await verifyNotice(notice, chainId)
      if (fault !== undefined) throw new GossipValidationError('reject', fault)
      return 'accept'
    },
    onAccepted: (notice) => { board.offer(notice) }
  }
}
