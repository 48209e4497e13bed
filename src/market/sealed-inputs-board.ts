/**
 * The sealed-inputs notices addressed to this node's provider (docs/market.md "Private tasks"), kept so that a
 * forged one cannot hide the real one: a few distinct notices per task, each tried until one opens and matches the
 * announced ids.
 *
 * Every notice here was signed by its holder (sealed-inputs.ts `verifyNotice`), so a forger can only name itself,
 * and each forged notice costs it a peer id. When a task's set is full, a new notice takes the place of one that
 * failed, else of one whose holder this node cannot reach (it could not be fetched from anyway), else it is
 * dropped: a forger must hold that many live connections to this node to crowd out the requester's node.
 */
import { GossipValidationError, type GossipTopicHandler } from '../network/gossip.ts'
import { GOSSIP_TOPICS } from '../network/protocols.ts'
import { decodeNotice, MAX_NOTICE_BYTES, noticeKey, type SealedInputsNotice, type SignedNotice, verifyNotice } from './sealed-inputs.ts'

/** Distinct notices kept per task (the real one plus a few forgeries). */
export const MAX_NOTICES_PER_TASK = 4
/** Tasks with notices kept; the oldest task's notices go first. */
const MAX_BOARD_TASKS = 1024

interface Entry {
  notice: SealedInputsNotice
  key: string
  failed: boolean
}

export interface SealedInputsBoardOptions {
  /** This node's provider address, when it runs one (notices to others are not kept). */
  localProvider: () => string | undefined
  /** Whether this node can fetch from `holder` now (a connected peer). @default every holder */
  reachable?: (holder: string) => boolean
}

export class SealedInputsBoard {
  private readonly tasks = new Map<string, Entry[]>()
  private readonly waiters = new Map<string, Set<() => void>>()
  private readonly localProvider: () => string | undefined
  private readonly reachable: (holder: string) => boolean
  /** Notices dropped because their task's set was full of live, untried ones. */
  dropped = 0

  constructor (options: SealedInputsBoardOptions) {
    this.localProvider = options.localProvider
    this.reachable = options.reachable ?? (() => true)
  }

  /** Keeps the notice when it is addressed to this node's provider and there is room; true when kept. */
  offer (notice: SealedInputsNotice): boolean {
    if (notice.provider !== this.localProvider()) return false
    const key = noticeKey(notice)
    const list = this.tasks.get(notice.taskId) ?? []
    if (list.some(e => e.key === key)) return false
    const entry: Entry = { notice, key, failed: false }
    // the same holder sealing again (its node restarted and re-sealed): the new envelopes replace the old
    const same = list.findIndex(e => e.notice.round === notice.round && e.notice.holder === notice.holder)
    if (same >= 0) list[same] = entry
    else if (list.length < MAX_NOTICES_PER_TASK) list.push(entry)
    else {
      let victim = list.findIndex(e => e.failed)
      if (victim < 0) victim = list.findIndex(e => !this.reachable(e.notice.holder))
      if (victim < 0) { this.dropped++; return false }
      list.splice(victim, 1)
      list.push(entry)
    }
    this.tasks.delete(notice.taskId)
    this.tasks.set(notice.taskId, list)
    while (this.tasks.size > MAX_BOARD_TASKS) this.tasks.delete(this.tasks.keys().next().value as string)
    for (const wake of [...(this.waiters.get(notice.taskId) ?? [])]) wake()
    return true
  }

  /** The notices of `taskId` not known to fail, in arrival order. */
  candidates (taskId: string): SealedInputsNotice[] {
    return (this.tasks.get(taskId) ?? []).filter(e => !e.failed).map(e => e.notice)
  }

  /** Marks a notice that did not give the inputs (its holder did not serve them, or they did not open or match). */
  fail (notice: SealedInputsNotice): void {
    const key = noticeKey(notice)
    const e = this.tasks.get(notice.taskId)?.find(x => x.key === key)
    if (e !== undefined) e.failed = true
  }

  /**
   * The first notice of `taskId` not in `tried` and not known to fail, waiting for one to arrive when there is
   * none; rejects when `signal` aborts.
   */
  async next (taskId: string, tried: ReadonlySet<string>, signal: AbortSignal): Promise<SealedInputsNotice> {
    for (;;) {
      const found = this.candidates(taskId).find(n => !tried.has(noticeKey(n)))
      if (found !== undefined) return found
      signal.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const set = this.waiters.get(taskId) ?? new Set()
        const done = (): void => {
          set.delete(wake)
          if (set.size === 0 && this.waiters.get(taskId) === set) this.waiters.delete(taskId)
          signal.removeEventListener('abort', onAbort)
        }
        function wake (): void { done(); resolve() }
        const onAbort = (): void => { done(); reject(signal.reason as Error) }
        set.add(wake)
        this.waiters.set(taskId, set)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  /**
   * Runs `attempt` on each notice of `taskId` in turn (waiting for more while none is left untried) and returns
   * the first result; a notice whose attempt throws is marked failed and reported to `onFailed`. Rejects when
   * `signal` aborts (while waiting, or when an attempt failed because of it).
   */
  async firstThatOpens<T> (taskId: string, signal: AbortSignal, attempt: (notice: SealedInputsNotice) => Promise<T>, onFailed?: (notice: SealedInputsNotice, err: unknown) => void): Promise<T> {
    const tried = new Set<string>()
    for (;;) {
      const notice = await this.next(taskId, tried, signal)
      tried.add(noticeKey(notice))
      try {
        return await attempt(notice)
      } catch (err) {
        signal.throwIfAborted()
        this.fail(notice)
        onFailed?.(notice, err)
      }
    }
  }
}

/**
 * The `harmony/1/inputs` topic handler: a notice whose holder did not sign it is rejected (its sender's score
 * drops); a signed one is relayed, and kept by `board` when it is addressed to this node's provider.
 */
export function sealedInputsTopic (chainId: string, board: SealedInputsBoard): GossipTopicHandler<SignedNotice> {
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
