/**
 * Private tasks (docs/market.md, "Private tasks"): how an awarded provider finds its sealed copy of the inputs, and
 * the contexts every sealed payload of a task is bound to.
 *
 * The announce names each input by sha256 of its plaintext. The requester's node holds the plaintext (never in the
 * blob store, which serves anything to anyone) and, once an award is final, seals each input to each awarded
 * provider's ML-KEM-768 key, stores the envelopes in its blob store and publishes a notice on `harmony/1/inputs`:
 * (task, round, provider, the node's peer id, the envelope ids). The provider fetches the envelopes from that peer
 * over `/harmony/blob/1.0.0`, opens them with `inputContext` and checks each plaintext against the announced id.
 * A forged notice costs a fetch and a failed open, nothing more: the envelope is bound to the task, the provider
 * and the input's position.
 */
import { Reader, toHex, utf8, Writer } from '../core/codec.ts'
import { ADDRESS_BYTES, formatAddress, parseAddress } from '../core/address.ts'

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

const INPUT_CONTEXT = 'HARMONY/market/input/v1'
const NOTICE_VERSION = 1
/** A libp2p peer id string is ≤ 64 characters (base58 of an Ed25519 identity multihash is 52). */
const MAX_PEER_ID_BYTES = 128
const MAX_INPUTS = 8
const ID_BYTES = 32
/** Largest notice: version, task, round, provider, peer id, count and 8 envelope ids. */
export const MAX_NOTICE_BYTES = 1 + ID_BYTES + 1 + ADDRESS_BYTES + 4 + MAX_PEER_ID_BYTES + 4 + MAX_INPUTS * ID_BYTES

/** The context input `index` of `taskId` is sealed to `provider` under (m2's `seal` options.context). */
export function inputContext (taskIdHex: string, provider: string, index: number): Uint8Array {
  return new Writer(128).raw(utf8.encode(INPUT_CONTEXT)).fixed(Buffer.from(taskIdHex, 'hex'), ID_BYTES).fixed(parseAddress(provider), ADDRESS_BYTES).u8(index).finish()
}

/** The context a private task's output is sealed to the requester's key under: the task id (provider/blobs.ts). */
export function outputContext (taskIdHex: string): Uint8Array {
  return new Writer(ID_BYTES).fixed(Buffer.from(taskIdHex, 'hex'), ID_BYTES).finish()
}

export interface SealedInputsNotice {
  /** hex, no 0x */
  taskId: string
  round: number
  /** hmy1… address of the provider the envelopes are sealed to */
  provider: string
  /** The libp2p peer that holds the envelopes. */
  holder: string
  /** Envelope blob ids (hex), in the announce's input order. */
  envelopes: string[]
}

export function encodeNotice (n: SealedInputsNotice): Uint8Array {
  const w = new Writer(MAX_NOTICE_BYTES).u8(NOTICE_VERSION).fixed(Buffer.from(n.taskId, 'hex'), ID_BYTES).u8(n.round)
    .fixed(parseAddress(n.provider), ADDRESS_BYTES)
  w.varBytes(utf8.encode(n.holder)).u32(n.envelopes.length)
  for (const id of n.envelopes) w.fixed(Buffer.from(id, 'hex'), ID_BYTES)
  return w.finish()
}

/** Strict decode; throws on anything malformed (the gossip registry rejects it). */
export function decodeNotice (bytes: Uint8Array): SealedInputsNotice {
  const r = new Reader(bytes, 'sealed-inputs notice')
  if (r.u8() !== NOTICE_VERSION) r.fail('unknown notice version')
  const taskId = toHex(r.fixed(ID_BYTES))
  const round = r.u8()
  const provider = formatAddress(r.fixed(ADDRESS_BYTES))
  const holderBytes = r.varBytes(MAX_PEER_ID_BYTES)
  if (holderBytes.length === 0) r.fail('empty holder peer id')
  let holder = ''
  try {
    holder = utf8Decoder.decode(holderBytes)
  } catch {
    r.fail('holder peer id is not UTF-8')
  }
  const count = r.u32()
  if (count === 0 || count > MAX_INPUTS) r.fail(`1..${MAX_INPUTS} envelopes`)
  const envelopes: string[] = []
  for (let i = 0; i < count; i++) envelopes.push(toHex(r.fixed(ID_BYTES)))
  r.end()
  return { taskId, round, provider, holder, envelopes }
}

/** Notices kept for this node's provider (one per task; a new round or holder replaces it). */
const MAX_BOARD_ENTRIES = 1024

/**
 * The notices addressed to this node's provider, newest kept, bounded. The provider agent asks `lookup` (or waits
 * with `wait`) when it must fetch a private task's inputs.
 */
export class SealedInputsBoard {
  private readonly entries = new Map<string, SealedInputsNotice>()
  private readonly waiters = new Map<string, Array<(n: SealedInputsNotice) => void>>()
  private readonly localProvider: () => string | undefined

  /** @param localProvider this node's provider address, when it runs one */
  constructor (localProvider: () => string | undefined) {
    this.localProvider = localProvider
  }

  /** Keeps the notice when it is addressed to this node's provider; true when kept. */
  offer (notice: SealedInputsNotice): boolean {
    if (notice.provider !== this.localProvider()) return false
    this.entries.delete(notice.taskId)
    this.entries.set(notice.taskId, notice)
    while (this.entries.size > MAX_BOARD_ENTRIES) this.entries.delete(this.entries.keys().next().value as string)
    const waiting = this.waiters.get(notice.taskId)
    this.waiters.delete(notice.taskId)
    for (const resolve of waiting ?? []) resolve(notice)
    return true
  }

  lookup (taskId: string): SealedInputsNotice | undefined {
    return this.entries.get(taskId)
  }

  /** Resolves with the notice for `taskId` (at once when known); rejects when `signal` aborts. */
  async wait (taskId: string, signal: AbortSignal): Promise<SealedInputsNotice> {
    const known = this.entries.get(taskId)
    if (known !== undefined) return known
    signal.throwIfAborted()
    return await new Promise<SealedInputsNotice>((resolve, reject) => {
      const list = this.waiters.get(taskId) ?? []
      const onAbort = (): void => {
        const rest = (this.waiters.get(taskId) ?? []).filter(w => w !== done)
        if (rest.length === 0) this.waiters.delete(taskId)
        else this.waiters.set(taskId, rest)
        reject(signal.reason as Error)
      }
      const done = (n: SealedInputsNotice): void => { signal.removeEventListener('abort', onAbort); resolve(n) }
      list.push(done)
      this.waiters.set(taskId, list)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}
