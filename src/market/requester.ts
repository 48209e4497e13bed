/**
 * A node serving its requesters (docs/market.md, Rooms and "Private tasks"): `task_submit` hands it a
 * client-signed task-announce and the input blobs; it checks that the blobs are the ones the announce names, stores
 * them (before the announce can be final, so a winner never asks for an input the node lacks), then submits the
 * announce to the DAG. The spending key never reaches the node: the announce and a cancel are signed by the client.
 *
 * A public task's inputs go to the blob store (served to anyone, tagged with the task). A private task's plaintext
 * is held in the `market` sublevel (`KEY_PREFIXES.market.requesterInput`), never served; once an award round is
 * final the node seals each input to each awarded provider's ML-KEM-768 key (winners and spot-checker), stores the
 * envelopes in the blob store and publishes a notice (src/market/sealed-inputs.ts). The plaintext is dropped when
 * the task is final. Sealing is driven by the market state, so a restart re-seals whatever is still open.
 */
import { BoundedSet } from '../core/bounded-set.ts'
import { createHash } from 'node:crypto'
import { addressBytesFromPublicKey } from '../core/address.ts'
import { fromHex, toHex } from '../core/codec.ts'
import { HarmonyError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'
import { KEY_PREFIXES, keyBytes, type BinarySublevel } from '../core/storage.ts'
import { decodeTx } from '../dag/tx.ts'
import { taskIdHexOf } from './accounts.ts'
import { generateKemKeyPair, seal } from './blobs/seal.ts'
import { TX_KIND_TASK_ANNOUNCE, TX_KIND_TASK_CANCEL } from './kinds/ids.ts'
import { type TaskAnnouncePayload, taskAnnounceKind, taskCancelKind } from './kinds/task.ts'
import { announcedInputFault, computeSpec } from './provider/job.ts'
import { inputContext } from './seal-contexts.ts'
import type { SealedInputsNotice } from './sealed-inputs.ts'
import { TERMINAL_PHASES, type MarketReader, type TaskView } from './state/reader.ts'

/** Inputs per announce (docs/market.md, kind 34). */
export const MAX_TASK_INPUTS = 8
/** Bytes of all inputs of one submit; task_submit's schema bounds each input (src/api/market-definitions.ts). */
export const MAX_SUBMIT_INPUT_BYTES = 640 * 1024
/** Private tasks whose plaintext one node holds at once (≤ 640 KiB each: ≤ 640 MiB). */
export const MAX_HELD_PRIVATE_TASKS = 1024
/** Task ids being submitted at once (each task's submits run one at a time). */
const MAX_CONCURRENT_SUBMITS = 256
/** Award rounds being sealed at once; more wait their turn. */
const MAX_SEALS_IN_FLIGHT = 4
/** Sealed rounds remembered, so a repeated task:changed does not seal twice. */
const MAX_SEALED_MEMORY = 4096
/** Notices published again at once (one per provider of an open round); past it the oldest stops repeating. */
const MAX_REPEATED_NOTICES = 1024

export type RequesterErrorCode =
  | 'TASK_ANNOUNCE_INVALID'
  | 'TASK_INPUTS_MISMATCH'
  | 'TASK_INPUTS_TOO_LARGE'
  | 'TASK_CANCEL_INVALID'
  | 'REQUESTER_BUSY'

/** A submit refused before anything was stored or sent. */
export class RequesterError extends HarmonyError<RequesterErrorCode> {
  constructor (code: RequesterErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'RequesterError'
  }
}

/** What the requester reads from a signed task-announce. */
export interface AnnounceSummary {
  /** hex, no 0x */
  taskId: string
  /** Input ids in the announce's order: sha256 of each input's plaintext, hex. */
  inputs: string[]
  private: boolean
}

/** Decodes a signed task-announce (kind, payload rules, task id); throws on anything else. */
export function parseAnnounce (encoded: Uint8Array): AnnounceSummary & { payload: TaskAnnouncePayload } {
  const tx = decodeTx(encoded)
  if (tx.kind !== TX_KIND_TASK_ANNOUNCE) throw new Error(`kind ${tx.kind} is not task-announce (${TX_KIND_TASK_ANNOUNCE})`)
  const payload = taskAnnounceKind.decode(tx.payload)
  return {
    taskId: taskIdHexOf(addressBytesFromPublicKey(tx.publicKey), tx.nonce),
    inputs: payload.inputs.map(i => toHex(i)),
    private: payload.private,
    payload
  }
}

/** Decodes a signed task-cancel; returns its task id (hex). */
export function parseCancel (encoded: Uint8Array): string {
  const tx = decodeTx(encoded)
  if (tx.kind !== TX_KIND_TASK_CANCEL) throw new Error(`kind ${tx.kind} is not task-cancel (${TX_KIND_TASK_CANCEL})`)
  return toHex(taskCancelKind.decode(tx.payload).taskId)
}

export interface RequesterInit {
  /**
   * A notice is published again this often until its provider's result for the round is final, so a provider whose
   * notice set was full of forgeries when the first one came (sealed-inputs-board.ts) gets it once a forgery has
   * failed. 0: only by `republish()` (tests). @default 2000
   */
  republishMs?: number
  /** Publications of one notice every `republishMs` after the first. @default 15 */
  maxRepublish?: number
  /**
   * After those, a notice is published again this often until its provider's result is final or the task ends: a
   * provider that restarted has lost the notices it held, and waits for the next one. @default 10000
   */
  slowRepublishMs?: number
}

export interface RequesterComponents {
  /** The `market` sublevel: private plaintext under KEY_PREFIXES.market.requesterInput. */
  db: BinarySublevel
  /** The blob store (src/market/blobs/store.ts). */
  blobs: { put: (bytes: Uint8Array, options: { tags: readonly string[] }) => Promise<string>, release: (taskId: string) => Promise<number>, unrelease: (taskId: string) => void, hasTag: (id: string, tag: string) => Promise<boolean> }
  /** Admits a signed transaction to the DAG; resolves with its 0x id (DagService.submitTransaction). */
  submitTransaction: (encoded: Uint8Array) => Promise<string>
  reader: Pick<MarketReader, 'task' | 'bids' | 'on' | 'off'>
  /**
   * Devnet fault injection (`provider.faultInjection: 'bad-envelopes'`): seal each input to a fresh key of no provider's,
   * so that the envelopes fetch but never open: the tests show that the winner's claim, with its task key revealed,
   * is found `unavailable` instead of the winner being slashed. @default false
   */
  badEnvelopes?: boolean
  /** Signs (as the holder) and publishes a sealed-inputs notice on `harmony/1/inputs`. */
  publishNotice: (notice: SealedInputsNotice) => Promise<unknown>
  /** This node's libp2p peer id (where the envelopes are fetched from). */
  peerId: string
  logger: Logger
}

function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

const PREFIX = KEY_PREFIXES.market.requesterInput

/** `i/<task id hex>/<index>` */
function inputKey (taskId: string, index: number): Uint8Array {
  return keyBytes(PREFIX, `${taskId}/${index}`)
}

function taskRange (taskId: string): { gte: Uint8Array, lt: Uint8Array } {
  return { gte: keyBytes(PREFIX, `${taskId}/`), lt: keyBytes(PREFIX, `${taskId}0`) }
}

/** The requester side of a node: submit, cancel, and sealing a private task's inputs to its providers. */
export class Requester implements Startable {
  private readonly c: RequesterComponents
  private readonly held = new Set<string>()
  /** task id -> the end of its submit under way */
  private readonly submitting = new Map<string, Promise<void>>()
  private readonly sealed = new BoundedSet(MAX_SEALED_MEMORY)
  private readonly queue: TaskView[] = []
  private inFlight = 0
  private running = false
  private readonly onChanged = (task: TaskView): void => { this.changed(task) }
  /** Notices of open rounds, published again by `republish` (`<task>/<round>/<provider>`). */
  private readonly repeats = new Map<string, { notice: Required<SealedInputsNotice>, atMs: number }>()
  private readonly republishMs: number
  private readonly maxRepublish: number
  private readonly slowRepublishMs: number
  private timer: NodeJS.Timeout | undefined
  private republishing: Promise<number> | undefined

  constructor (components: RequesterComponents, init: RequesterInit = {}) {
    this.c = components
    this.republishMs = init.republishMs ?? 2000
    this.maxRepublish = init.maxRepublish ?? 15
    this.slowRepublishMs = init.slowRepublishMs ?? 10_000
  }

  async start (): Promise<void> {
    this.running = true
    this.c.reader.on('task:changed', this.onChanged)
    if (this.republishMs > 0) {
      this.timer = setInterval(() => { this.republish().catch((err: unknown) => { this.c.logger.debug({ err }, 'notices not published again') }) }, this.republishMs)
      this.timer.unref()
    }
    // private tasks held across a restart: seal what was awarded meanwhile, drop what is over
    const range = { gte: keyBytes(PREFIX), lt: keyBytes(String.fromCharCode(PREFIX.charCodeAt(0) + 1)) }
    for await (const key of this.c.db.keys(range)) {
      const taskId = new TextDecoder().decode(key).slice(PREFIX.length).split('/')[0]
      this.held.add(taskId)
    }
    for (const taskId of this.held) {
      const task = await this.c.reader.task(taskId)
      if (task !== undefined) this.changed(task)
    }
  }

  async stop (): Promise<void> {
    this.running = false
    this.c.reader.off('task:changed', this.onChanged)
    clearInterval(this.timer)
    this.timer = undefined
    this.queue.length = 0
    await this.republishing
    this.repeats.clear()
  }

  /**
   * Publishes each notice of an open round again (its next issue) until the task has ended or the provider's result
   * for the round is final: at each call for its first `maxRepublish` repeats, then once `slowRepublishMs` has passed
   * since the last. Returns how many were published.
   */
  async republish (nowMs = Date.now()): Promise<number> {
    if (this.republishing !== undefined) return 0
    this.republishing = (async () => {
      let published = 0
      for (const [key, entry] of [...this.repeats]) {
        if (!this.running) break
        const { notice } = entry
        const task = await this.c.reader.task(notice.taskId)
        const answered = task?.results.some(r => r.round === notice.round && r.provider === notice.provider) ?? false
        if (task === undefined || TERMINAL_PHASES.has(task.phase) || answered) {
          this.repeats.delete(key)
          continue
        }
        if (notice.issue >= this.maxRepublish && nowMs < entry.atMs + this.slowRepublishMs) continue
        entry.atMs = nowMs
        notice.issue++
        await this.c.publishNotice({ ...notice })
        published++
      }
      return published
    })()
    try {
      return await this.republishing
    } finally {
      this.republishing = undefined
    }
  }

  /** Private tasks whose plaintext this node holds. */
  get heldTasks (): number { return this.held.size }

  /**
   * Checks the inputs against the announce, stores them, then submits the announce. Resolves with the task and
   * transaction ids (0x hex). Throws a RequesterError (nothing kept) or the DAG's admission error (inputs dropped,
   * unless this node held the task's inputs before the call: the same announce sent again after a submit that went
   * through, refused TX_KNOWN or NONCE_TOO_LOW, leaves the task its inputs).
   */
  async submit (announce: Uint8Array, inputs: Uint8Array[]): Promise<{ taskId: string, txId: string }> {
    let summary: ReturnType<typeof parseAnnounce>
    try {
      summary = parseAnnounce(announce)
    } catch (err) {
      throw new RequesterError('TASK_ANNOUNCE_INVALID', `not a valid signed task-announce: ${(err as Error).message}`)
    }
    if (inputs.length > MAX_TASK_INPUTS) {
      throw new RequesterError('TASK_INPUTS_TOO_LARGE', `at most ${MAX_TASK_INPUTS} inputs per task, got ${inputs.length}`)
    }
    const total = inputs.reduce((sum, b) => sum + b.byteLength, 0)
    if (total > MAX_SUBMIT_INPUT_BYTES) {
      throw new RequesterError('TASK_INPUTS_TOO_LARGE', `inputs total ${total} bytes; at most ${MAX_SUBMIT_INPUT_BYTES} per task_submit`, { bytes: total })
    }
    if (inputs.length !== summary.inputs.length) {
      throw new RequesterError('TASK_INPUTS_MISMATCH', `the announce names ${summary.inputs.length} inputs, ${inputs.length} were sent`)
    }
    for (let i = 0; i < inputs.length; i++) {
      const id = sha256Hex(inputs[i])
      if (id !== summary.inputs[i]) {
        throw new RequesterError('TASK_INPUTS_MISMATCH', `input ${i} hashes to ${id}, the announce names ${summary.inputs[i]}`, { index: i })
      }
    }
    const { taskId } = summary
    // inputs that cannot be this task's are refused here, before anything is locked or sent: a provider would
    // only report an input fault for them (provider/job.ts), paid from the escrow
    const { spec, outputLimitBytes } = summary.payload
    const fault = announcedInputFault(computeSpec({ taskId, kernel: spec.kernel, params: JSON.parse(spec.paramsJson), inputs: summary.inputs, outputLimitBytes }, summary.inputs), inputs)
    if (fault !== undefined) throw new RequesterError('TASK_INPUTS_MISMATCH', `the inputs do not fit the task: ${fault}`, { fault })
    if (summary.private && this.held.size >= MAX_HELD_PRIVATE_TASKS && !this.held.has(taskId)) {
      throw new RequesterError('REQUESTER_BUSY', `this node already holds ${MAX_HELD_PRIVATE_TASKS} open private tasks; retry when some are settled`)
    }
    // one submit of a task id at a time: a refusal of one must not take the inputs another just gave the task
    const previous = this.submitting.get(taskId)
    if (previous === undefined && this.submitting.size >= MAX_CONCURRENT_SUBMITS) {
      throw new RequesterError('REQUESTER_BUSY', `this node is already submitting ${MAX_CONCURRENT_SUBMITS} tasks; retry`)
    }
    const turn = (previous ?? Promise.resolve()).then(async () => await this.store(taskId, summary, inputs, announce))
    const tail = turn.then(() => undefined, () => undefined)
    this.submitting.set(taskId, tail)
    void tail.then(() => { if (this.submitting.get(taskId) === tail) this.submitting.delete(taskId) })
    return await turn
  }

  /** Stores the task's inputs and submits its announce (one at a time per task id: `submit`). */
  private async store (taskId: string, summary: ReturnType<typeof parseAnnounce>, inputs: Uint8Array[], announce: Uint8Array): Promise<{ taskId: string, txId: string }> {
    // an earlier submit of this task stored its inputs here (a client's resend, as `harmonyd task
    // submit --wait` sends one): a refusal of this one must not take them from the task, whose winners fetch them here
    const heldBefore = summary.private ? this.held.has(taskId) : await this.holdsAny(taskId, summary.inputs)
    const putPrivate = async (): Promise<void> => {
      await this.c.db.batch(inputs.map((bytes, i) => ({ type: 'put' as const, key: inputKey(taskId, i), value: bytes })))
      this.held.add(taskId)
    }
    // a private task's plaintext already held is replaced only once this announce is admitted: another announce of
    // the same task id (the account's nonce) that the ledger refuses must not overwrite the live task's inputs
    if (summary.private && !heldBefore) await putPrivate()
    if (!summary.private) {
      // a submit refused earlier (BUSY) released the task: this one's inputs hold for it again
      this.c.blobs.unrelease(taskId)
      for (const bytes of inputs) await this.c.blobs.put(bytes, { tags: [taskId] })
    }
    let txId: string
    try {
      txId = await this.c.submitTransaction(announce)
    } catch (err) {
      if (!heldBefore) await this.drop(taskId, summary.private)
      throw err
    }
    if (summary.private && heldBefore) await putPrivate()
    this.c.logger.debug({ taskId, inputs: inputs.length, private: summary.private }, 'task announce submitted')
    return { taskId: `0x${taskId}`, txId }
  }

  /** Checks that the bytes are a signed task-cancel and submits them; resolves with the transaction id. */
  async cancel (encoded: Uint8Array): Promise<string> {
    try {
      parseCancel(encoded)
    } catch (err) {
      throw new RequesterError('TASK_CANCEL_INVALID', `not a valid signed task-cancel: ${(err as Error).message}`)
    }
    return await this.c.submitTransaction(encoded)
  }

  /** Whether the blob store holds one of `inputs` for the task (tagged with it). */
  private async holdsAny (taskId: string, inputs: readonly string[]): Promise<boolean> {
    for (const id of inputs) if (await this.c.blobs.hasTag(id, taskId)) return true
    return false
  }

  private async drop (taskId: string, isPrivate: boolean): Promise<void> {
    if (isPrivate) {
      await this.c.db.clear(taskRange(taskId))
      this.held.delete(taskId)
    } else {
      await this.c.blobs.release(taskId)
    }
  }

  private changed (task: TaskView): void {
    if (!this.running || !this.held.has(task.taskId)) return
    this.queue.push(task)
    this.drain()
  }

  private drain (): void {
    while (this.running && this.inFlight < MAX_SEALS_IN_FLIGHT && this.queue.length > 0) {
      const task = this.queue.shift() as TaskView
      this.inFlight++
      this.handle(task)
        .catch((err: unknown) => { this.c.logger.warn({ taskId: task.taskId, err: (err as Error).message }, 'sealing private inputs failed') })
        .finally(() => { this.inFlight--; this.drain() })
    }
  }

  private async handle (task: TaskView): Promise<void> {
    if (TERMINAL_PHASES.has(task.phase)) {
      await this.drop(task.taskId, true)
      return
    }
    for (const award of task.awards) {
      const key = `${task.taskId}/${award.round}`
      if (this.sealed.has(key)) continue
      await this.sealRound(task, award.round, [...award.winners, ...(award.checker === undefined ? [] : [award.checker])])
      this.sealed.add(key)
    }
  }

  /** Seals every input to each provider of one award round, stores the envelopes and publishes a notice each. */
  private async sealRound (task: TaskView, round: number, providers: string[]): Promise<void> {
    const plain: Uint8Array[] = []
    for (let i = 0; i < task.inputs.length; i++) {
      const bytes = await this.c.db.get(inputKey(task.taskId, i)).catch(() => undefined)
      if (bytes === undefined) return // not ours after all (or already dropped)
      plain.push(bytes)
    }
    // each provider's inputs are sealed to the key its bid revealed for this task (s44): a claim can reveal its seed
    const keys = new Map((await this.c.reader.bids(task.taskId)).map(b => [b.provider, b.taskKey]))
    for (const provider of providers) {
      const taskKey = keys.get(provider)
      if (taskKey === undefined) continue // every valid bid on a private task reveals one (REVEAL_KEY_INVALID)
      const kem = this.c.badEnvelopes === true ? generateKemKeyPair().publicKey : fromHex(taskKey, 'task key')
      const envelopes: string[] = []
      for (let i = 0; i < plain.length; i++) {
        envelopes.push(await this.c.blobs.put(seal(plain[i], kem, { context: inputContext(task.taskId, provider, i) }), { tags: [task.taskId] }))
      }
      const notice = { taskId: task.taskId, round, provider, holder: this.c.peerId, envelopes, issue: 0 }
      await this.c.publishNotice({ ...notice })
      this.repeats.set(`${task.taskId}/${round}/${provider}`, { notice, atMs: Date.now() })
      if (this.repeats.size > MAX_REPEATED_NOTICES) this.repeats.delete(this.repeats.keys().next().value as string)
    }
    this.c.logger.info({ taskId: task.taskId, round, providers: providers.length }, 'private inputs sealed to the awarded providers')
  }
}
