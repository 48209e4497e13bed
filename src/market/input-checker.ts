/**
 * The validators' side of input claims (docs/market.md "Inputs no peer serves"): every input claim without a verdict
 * has one judge (rules/input-judge.ts: the validators but the claimant, sorted by key and rotated by the task id; rank
 * 0 for the provider's first claim of the round, rank n for its n-th appeal). The judge acts as soon as the claim is
 * final here: it tries to fetch the task's inputs itself, within `fetchTimeoutMs`, into its blob store tagged with the
 * task (so it keeps and serves them until the task's blobs are collected), and records `input-verdict`: `available`
 * when it holds every input (the claimant can now fetch them from it), `unavailable` when no peer served one. A
 * private task's inputs are sealed to the claimant: the validator fetches instead the envelopes of a sealed-inputs
 * notice addressed to the claimant and keeps them the same way (serving them only to the validators and the task's
 * providers: envelope-access.ts); no notice to the claimant within 6 s, or none whose envelopes all fetch within the
 * time, is `unavailable`. A claim that revealed the claimant's task key (its seed: envelopes it fetched did not open)
 * is judged on envelopes that open too: `available` only when a notice's envelopes all fetch, open under that key and
 * hash to the announced inputs. A verdict counts only from the judge and within INPUT_JUDGE_WINDOW_MS of its claim; a
 * judge that lied or stayed silent is covered by the claimant's appeal, which the next validator in turn judges.
 */
import { addressBytesFromPublicKey, formatAddress } from '../core/address.ts'
import { fromHex, toHex } from '../core/codec.ts'
import { errorMessage } from '../core/errors.ts'
import type { Startable } from '../core/lifecycle.ts'
import type { Logger } from '../core/logger.ts'
import type { LedgerReader } from '../dag/reader.ts'
import type { Transaction, TxInfo } from '../dag/tx.ts'
import { buildInputVerdict, type InputVerdict, type SignerKeys, TX_KIND_INPUT_CLAIM } from './kinds/index.ts'
import { INPUT_JUDGE_WINDOW_MS } from './rules/constants.ts'
import { isInputJudge } from './rules/input-judge.ts'
import type { ApplyListener } from './state/market-state.ts'
import type { InputClaimRecord, TaskRecord } from './state/records.ts'

export interface InputCheckerInit {
  /** Period of the walk over the claims without a verdict. @default 1000 */
  tickMs?: number
  /** The most one check spends fetching a task's inputs (less than INPUT_JUDGE_WINDOW_MS). @default 15000 */
  fetchTimeoutMs?: number
  /** A verdict not final this long after it was submitted is submitted again (its vertex may have lost). @default 10000 */
  resubmitMs?: number
}

export interface InputCheckerComponents {
  state: {
    onApplied: (fn: ApplyListener) => () => void
    openTaskIds: () => string[]
    taskRecord: (taskId: string) => Promise<TaskRecord | undefined>
  }
  ledger: Pick<LedgerReader, 'validatorKeys'>
  /** Fetches one input of a public task into this node's blob store, tagged with the task (provider/blobs.ts `input`). */
  fetchInput: (taskId: string, id: string, signal: AbortSignal) => Promise<unknown>
  /**
   * Fetches the envelopes of a private task's inputs sealed to `provider` (`hmy1…`; those of one notice) into
   * this node's blob store, tagged with the task (sealed-input-fetch.ts `fetchAll`); with the claim's `keySeed` (the
   * claimant's task key) they must also open to the announced inputs `ids`. Rejects when no notice's did.
   */
  fetchSealed: (taskId: string, provider: string, signal: AbortSignal, opens?: { keySeed: Uint8Array, ids: string[] }) => Promise<unknown>
  submit: (tx: Transaction) => Promise<string>
  chainId: string
  keys: SignerKeys
  logger: Logger
  /** Counts this validator's checks by outcome (metrics). */
  onChecked?: (outcome: InputVerdict) => void
  /**
   * Devnet fault injection (`provider.faultInjection: 'false-input-verdict'`): this judge fetches as any judge does and
   * answers the opposite of what it found (`available` when nobody served the inputs, `unavailable` when it holds
   * them), so the tests can show that an appeal reaches an honest judge either way. @default false
   */
  lie?: boolean
  now?: () => number
}

/** Claims watched at once (each leaves once answered, or once its hold ran out). */
const MAX_WATCHED = 4096

export class InputChecker implements Startable {
  private readonly c: InputCheckerComponents
  private readonly tickMs: number
  private readonly fetchTimeoutMs: number
  private readonly resubmitMs: number
  private readonly log: Logger
  /** task id → claims of it this node has seen without a verdict */
  private readonly watched = new Map<string, Set<string>>()
  /** claim key → when this node submitted a verdict for it */
  private readonly submitted = new Map<string, number>()
  private readonly checking = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private detach: (() => void) | undefined
  private abort = new AbortController()
  private walking = false

  constructor (components: InputCheckerComponents, init: InputCheckerInit = {}) {
    this.c = components
    this.tickMs = init.tickMs ?? 1000
    this.fetchTimeoutMs = init.fetchTimeoutMs ?? 15_000
    this.resubmitMs = init.resubmitMs ?? 10_000
    this.log = components.logger.child({ module: 'input-checker' })
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    this.detach = this.c.state.onApplied((tx: TxInfo, outcome) => {
      if (tx.tx.kind !== TX_KIND_INPUT_CLAIM || outcome.status !== 'applied' || outcome.taskId === undefined) return
      this.watch(outcome.taskId, outcome.provider ?? '')
    })
    // claims final before a restart: found on the open tasks once
    for (const id of this.c.state.openTaskIds()) {
      const t = await this.c.state.taskRecord(id)
      for (const claim of t?.inputClaims ?? []) if (claim.verdict === undefined) this.watch(id, claim.provider)
    }
    this.timer = setInterval(() => { void this.walk() }, this.tickMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.abort.abort()
    clearInterval(this.timer)
    this.detach?.()
    this.detach = undefined
  }

  private watch (taskId: string, provider: string): void {
    if (this.watched.size >= MAX_WATCHED && !this.watched.has(taskId)) return
    const set = this.watched.get(taskId) ?? new Set<string>()
    set.add(provider)
    this.watched.set(taskId, set)
  }

  /** One walk over the watched claims: each one this validator judges is checked (in the background). */
  async walk (): Promise<void> {
    if (this.walking || this.abort.signal.aborted) return
    this.walking = true
    try {
      const now = (this.c.now ?? Date.now)()
      for (const [taskId, providers] of this.watched) {
        const t = await this.c.state.taskRecord(taskId)
        for (const provider of [...providers]) {
          // claims a verdict can still answer (an appeal made later is watched again when it applies)
          const open = t === undefined || t.settlement !== undefined
            ? []
            : (t.inputClaims ?? []).filter(c => c.provider === provider && c.verdict === undefined && now <= c.timeMs + INPUT_JUDGE_WINDOW_MS)
          if (open.length === 0) {
            providers.delete(provider)
            continue
          }
          for (const claim of open) if (t !== undefined && this.due(t, claim, now)) void this.check(t, claim)
        }
        if (providers.size === 0) this.watched.delete(taskId)
      }
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'input claim walk failed')
    } finally {
      this.walking = false
    }
  }

  private key (t: TaskRecord, claim: InputClaimRecord): string { return `${t.taskId}:${claim.provider}:${claim.round}:${claim.attempt ?? 0}` }

  /** This validator judges the claim (never its own) and is not checking it or just submitted its verdict. */
  private due (t: TaskRecord, claim: InputClaimRecord, now: number): boolean {
    const key = this.key(t, claim)
    if (claim.provider === toHex(addressBytesFromPublicKey(this.c.keys.publicKey))) return false
    if (this.checking.has(key)) return false
    const last = this.submitted.get(key)
    if (last !== undefined && now < last + this.resubmitMs) return false
    return isInputJudge(this.c.ledger.validatorKeys(), this.c.keys.publicKey, t.taskId, claim.provider, claim.attempt ?? 0)
  }

  /** Fetches every input, or a private task's envelopes (bounded by fetchTimeoutMs), and submits the verdict. */
  private async check (t: TaskRecord, claim: InputClaimRecord): Promise<void> {
    const key = this.key(t, claim)
    this.checking.add(key)
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.fetchTimeoutMs)])
      let outcome: InputVerdict = 'available'
      let missing: string | undefined
      if (t.announce.private) {
        try {
          const opens = claim.keySeed === undefined ? undefined : { keySeed: fromHex(claim.keySeed), ids: t.announce.inputs.map(i => toHex(i)) }
          await this.c.fetchSealed(t.taskId, formatAddress(fromHex(claim.provider)), signal, opens)
        } catch (err) {
          outcome = 'unavailable'
          missing = `no sealed-inputs notice to the claimant whose envelopes ${claim.keySeed === undefined ? 'fetched' : 'fetched and opened to the inputs'}: ${errorMessage(err)}`
        }
      } else {
        for (const id of t.announce.inputs.map(i => toHex(i))) {
          try {
            await this.c.fetchInput(t.taskId, id, signal)
          } catch (err) {
            outcome = 'unavailable'
            missing = `${id}: ${errorMessage(err)}`
            break
          }
        }
      }
      if (this.abort.signal.aborted) return
      if (this.c.lie === true) {
        outcome = outcome === 'available' ? 'unavailable' : 'available'
        this.log.warn({ taskId: t.taskId, provider: claim.provider, outcome }, 'fault injection: input claim answered the opposite of what the fetch found')
      }
      if ((this.c.now ?? Date.now)() > claim.timeMs + INPUT_JUDGE_WINDOW_MS) {
        // every node would refuse it (VERDICT_LATE): the claimant appeals to the next judge instead
        this.log.warn({ taskId: t.taskId, provider: claim.provider, attempt: claim.attempt ?? 0, outcome }, 'input claim checked past its judge window: no verdict sent')
        return
      }
      this.c.onChecked?.(outcome)
      this.log.info({ taskId: t.taskId, provider: claim.provider, round: claim.round, attempt: claim.attempt ?? 0, outcome, missing }, 'input claim checked')
      this.submitted.set(key, (this.c.now ?? Date.now)())
      if (this.submitted.size > MAX_WATCHED) this.submitted.delete(this.submitted.keys().next().value as string)
      const tx = buildInputVerdict(this.c.chainId, this.c.keys, { taskId: fromHex(t.taskId), round: claim.round, provider: fromHex(claim.provider), attempt: claim.attempt ?? 0, outcome })
      const id = await this.c.submit(tx)
      this.log.info({ taskId: t.taskId, provider: claim.provider, outcome, tx: id }, 'input verdict submitted')
    } catch (err) {
      // sent already (TX_KNOWN), or refused: the walk sees the claim answered, or tries again after resubmitMs while
      // the claim's judge window runs
      this.log.debug({ taskId: t.taskId, provider: claim.provider, err: errorMessage(err) }, 'input verdict not admitted')
    } finally {
      this.checking.delete(key)
    }
  }
}
