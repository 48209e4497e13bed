/**
 * A node serving its requesters (docs/market.md, Rooms): `task_submit` hands it a client-signed task-announce and
 * the input blobs; it checks that the blobs are the ones the announce names, stores them in the blob store (before
 * the announce is gossiped, so a winner can always fetch them), then submits the announce to the DAG. The spending
 * key never reaches the node: the announce is signed by the client, and so is a cancel.
 *
 * For a private task the node holds the plaintext inputs for its own requester and never serves them; once an
 * award of the task is final it seals each input to every awarded provider's ML-KEM-768 key (winners and the
 * spot-checker), so only they can read it. The sealing is stateless (what to seal comes from the award and the
 * announce on the DAG, the plaintext from the blob store), so a restart between announce and award loses nothing.
 */
import { createHash } from 'node:crypto'
import { HarmonyError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Startable } from '../core/lifecycle.ts'

/** Inputs per announce (docs/market.md, kind 34). */
export const MAX_TASK_INPUTS = 8
/** Bytes of all inputs of one submit; task_submit's schema bounds each input (src/api/market-definitions.ts). */
export const MAX_SUBMIT_INPUT_BYTES = 640 * 1024
/** Awards being sealed at once; more wait (each seals ≤ 8 inputs for ≤ 6 providers). */
const MAX_SEALS_IN_FLIGHT = 4
/** Awards waiting to be sealed; beyond this the oldest is dropped (logged) and a restart re-seals from the DAG. */
const MAX_SEAL_QUEUE = 1024

export type RequesterErrorCode =
  | 'TASK_ANNOUNCE_INVALID'
  | 'TASK_INPUTS_MISMATCH'
  | 'TASK_INPUTS_TOO_LARGE'
  | 'TASK_CANCEL_INVALID'

/** A submit refused before anything was stored or sent. */
export class RequesterError extends HarmonyError<RequesterErrorCode> {
  constructor (code: RequesterErrorCode, message: string, meta: Record<string, unknown> = {}) {
    super(code, message, meta)
    this.name = 'RequesterError'
  }
}

/** What the requester reads from a signed task-announce (the market's kinds decode it). */
export interface AnnounceSummary {
  /** hex, no 0x */
  taskId: string
  /** Input blob ids in the announce's order: sha256 of each input's plaintext, hex. */
  inputs: string[]
  private: boolean
}

/** An award of a private task as the requester needs it: who may read the inputs. */
export interface FinalAward {
  taskId: string
  round: number
  /** Each awarded provider (winners and the spot-checker) with its registered ML-KEM-768 public key. */
  recipients: Array<{ provider: string, kemPublicKey: Uint8Array }>
}

/** The blob store as the requester uses it (src/market/blobs/). */
export interface RequesterBlobStore {
  /**
   * Stores `bytes` under their sha256 id. A private blob is held for its requester and never served as it is;
   * only envelopes sealed from it are.
   */
  put: (bytes: Uint8Array, options: { private: boolean, taskId: string }) => Promise<string>
  /** True when this store holds the plaintext of `id` (a private input of one of this node's requesters). */
  hasPlaintext: (id: string) => Promise<boolean>
  /** Seals the stored plaintext `id` to `kemPublicKey` and serves the envelope to `provider` for `taskId`. */
  sealFor: (id: string, taskId: string, provider: string, kemPublicKey: Uint8Array) => Promise<void>
}

export interface RequesterComponents {
  blobs: RequesterBlobStore
  /** Decodes a signed task-announce; throws when the bytes are not one. */
  parseAnnounce: (encoded: Uint8Array) => AnnounceSummary
  /** Decodes a signed task-cancel and returns its task id; throws when the bytes are not one. */
  parseCancel: (encoded: Uint8Array) => string
  /** Admits a signed transaction to the DAG; resolves with its 0x id (DagService.submitTransaction). */
  submitTransaction: (encoded: Uint8Array) => Promise<string>
  /** The announce of a task as it is final on the DAG; undefined when unknown. */
  announceOf: (taskId: string) => Promise<AnnounceSummary | undefined>
  /** Subscribes to final awards; returns the unsubscribe. */
  onAward: (listener: (award: FinalAward) => void) => () => void
  logger: Logger
}

function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The requester side of a node: submit, cancel, and sealing a private task's inputs to its winners. */
export class Requester implements Startable {
  private readonly components: RequesterComponents
  private readonly queue: FinalAward[] = []
  private inFlight = 0
  private unsubscribe?: () => void
  private running = false

  constructor (components: RequesterComponents) {
    this.components = components
  }

  async start (): Promise<void> {
    this.running = true
    this.unsubscribe = this.components.onAward((award) => { this.enqueue(award) })
  }

  async stop (): Promise<void> {
    this.running = false
    this.unsubscribe?.()
    this.queue.length = 0
  }

  /**
   * Checks the inputs against the announce, stores them, then submits the announce. Resolves with the task id and
   * the transaction id (both 0x hex). Throws a RequesterError (nothing stored) or the DAG's admission error.
   */
  async submit (announce: Uint8Array, inputs: Uint8Array[]): Promise<{ taskId: string, txId: string }> {
    let summary: AnnounceSummary
    try {
      summary = this.components.parseAnnounce(announce)
    } catch (err) {
      throw new RequesterError('TASK_ANNOUNCE_INVALID', `not a signed task-announce: ${(err as Error).message}`)
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
    // stored before the announce can be final: a winner never looks for an input this node does not hold yet
    for (const bytes of inputs) await this.components.blobs.put(bytes, { private: summary.private, taskId: summary.taskId })
    const txId = await this.components.submitTransaction(announce)
    this.components.logger.debug({ taskId: summary.taskId, inputs: inputs.length, private: summary.private }, 'task announce submitted')
    return { taskId: `0x${summary.taskId}`, txId }
  }

  /** Submits a client-signed task-cancel; resolves with its transaction id. */
  async cancel (encoded: Uint8Array): Promise<string> {
    try {
      this.components.parseCancel(encoded)
    } catch (err) {
      throw new RequesterError('TASK_CANCEL_INVALID', `not a signed task-cancel: ${(err as Error).message}`)
    }
    return await this.components.submitTransaction(encoded)
  }

  private enqueue (award: FinalAward): void {
    if (!this.running) return
    if (this.queue.length >= MAX_SEAL_QUEUE) {
      const dropped = this.queue.shift()
      this.components.logger.warn({ taskId: dropped?.taskId }, 'seal queue full: dropped the oldest award (its winner cannot read the inputs until a restart re-seals them)')
    }
    this.queue.push(award)
    this.drain()
  }

  private drain (): void {
    while (this.running && this.inFlight < MAX_SEALS_IN_FLIGHT && this.queue.length > 0) {
      const award = this.queue.shift() as FinalAward
      this.inFlight++
      this.seal(award)
        .catch((err: unknown) => { this.components.logger.warn({ taskId: award.taskId, err: (err as Error).message }, 'sealing private inputs failed') })
        .finally(() => { this.inFlight--; this.drain() })
    }
  }

  /** Seals a private task's inputs to each awarded provider, when this node holds their plaintext. */
  private async seal (award: FinalAward): Promise<void> {
    const announce = await this.components.announceOf(award.taskId)
    if (announce === undefined || !announce.private) return
    for (const id of announce.inputs) {
      // another node's requester: that node seals, this one holds no plaintext
      if (!(await this.components.blobs.hasPlaintext(id))) return
    }
    for (const { provider, kemPublicKey } of award.recipients) {
      for (const id of announce.inputs) await this.components.blobs.sealFor(id, award.taskId, provider, kemPublicKey)
    }
    this.components.logger.info({ taskId: award.taskId, round: award.round, providers: award.recipients.length }, 'private inputs sealed to the awarded providers')
  }
}
