import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { concatBytes, utf8 } from '../../core/codec.ts'
import type { TxInfo } from '../tx.ts'

/** First byte of a held transaction stored with its validator (an encoded transaction starts with its version, 1). */
const STORED_WITH_PEER = 0xff

/**
 * A held transaction as stored (the `dag-f` sublevel, under its id): `0xff ‖ u8 n ‖ the validator's peer id (n bytes
 * of its base58 text) ‖ the encoding`, so a restarted node sends it again to the validator that took it; s40 stored
 * the encoding alone, still read.
 */
export function storedHeld (encoded: Uint8Array, peer: PeerId | undefined): Uint8Array {
  const id = peer === undefined ? new Uint8Array(0) : utf8.encode(peer.toString())
  if (id.length > 255) return encoded
  return concatBytes(new Uint8Array([STORED_WITH_PEER, id.length]), id, encoded)
}

/** Reads a stored held transaction: its encoding and the validator that took it (when stored). Throws on a bad one. */
export function readStoredHeld (value: Uint8Array): { encoded: Uint8Array, peer?: PeerId } {
  if (value[0] !== STORED_WITH_PEER) return { encoded: value }
  if (value.length < 2 || value.length < 2 + value[1]) throw new Error('stored held transaction cut short')
  const n = value[1]
  const encoded = value.subarray(2 + n)
  return n === 0 ? { encoded } : { encoded, peer: peerIdFromString(new TextDecoder().decode(value.subarray(2, 2 + n))) }
}

export interface ForwardedInit {
  /** Time a forwarded transaction may stay out of every vertex this node holds before it is sent again; it doubles
   *  after each send. @default 5000 */
  resendAfterMs?: number
  /** Longest wait between two sends of one transaction. @default 60000 */
  maxResendIntervalMs?: number
  /** Sends again at most this many times, then the transaction is given up (its client still holds it). @default 8 */
  maxResends?: number
  /** Transactions held at once; past it the oldest is given up. @default 4096 */
  maxHeld?: number
}

/** A forwarded transaction that no vertex here holds yet. */
export interface HeldTx {
  info: TxInfo
  /** The validator that last took it: the account's next transactions go there first (after a restart, the one stored). */
  peer?: PeerId
  dueMs: number
  resends: number
}

/**
 * What a node outside the validator set forwarded, kept until one of the vertices it receives holds it. A validator
 * keeps admitted transactions only in memory, so one that dies (or restarts) before its next vertex loses them, and
 * the account's next transactions then meet a nonce gap at every validator. The forwarding node holds the bytes and
 * sends them again; each send carries the same bytes (the same id), so a validator that still holds it answers
 * TX_KNOWN and nothing is paid twice. Bounded by count; a held transaction's memory is its encoding (≤ 64 KiB, most
 * ~5 KiB).
 */
export class ForwardedTxs {
  /** Called for each transaction that leaves (carried by a vertex, given up, replaced): its stored copy can go. */
  onDrop: ((held: HeldTx) => void) | undefined
  private readonly byId = new Map<string, HeldTx>()
  /** account -> nonce -> held transaction (each account's entries leave with their last one) */
  private readonly byAccount = new Map<string, Map<bigint, HeldTx>>()
  private readonly resendAfterMs: number
  private readonly maxIntervalMs: number
  private readonly maxResends: number
  readonly maxHeld: number

  constructor (init: ForwardedInit = {}) {
    this.resendAfterMs = init.resendAfterMs ?? 5000
    this.maxIntervalMs = init.maxResendIntervalMs ?? 60_000
    this.maxResends = init.maxResends ?? 8
    this.maxHeld = init.maxHeld ?? 4096
  }

  get size (): number { return this.byId.size }

  /**
   * Holds a transaction a validator took. Returns the one given up to make room, if any. A second transaction of the
   * same account and nonce (signed again after a refusal) replaces the first: only one of them can become final.
   */
  add (info: TxInfo, peer: PeerId | undefined, nowMs: number): HeldTx | undefined {
    const same = this.byAccount.get(info.accountHex)?.get(info.tx.nonce)
    if (same !== undefined && same.info.idHex !== info.idHex) this.drop(same.info.idHex)
    const held: HeldTx = { info, ...(peer === undefined ? {} : { peer }), dueMs: nowMs + this.resendAfterMs, resends: 0 }
    let evicted: HeldTx | undefined
    if (!this.byId.has(info.idHex) && this.byId.size >= this.maxHeld) {
      const oldest = this.byId.keys().next().value
      if (oldest !== undefined) evicted = this.drop(oldest)
    }
    this.byId.delete(info.idHex)
    this.byId.set(info.idHex, held)
    let m = this.byAccount.get(info.accountHex)
    if (m === undefined) { m = new Map(); this.byAccount.set(info.accountHex, m) }
    m.set(info.tx.nonce, held)
    return evicted
  }

  drop (idHex: string): HeldTx | undefined {
    const held = this.byId.get(idHex)
    if (held === undefined) return undefined
    this.byId.delete(idHex)
    const m = this.byAccount.get(held.info.accountHex)
    if (m !== undefined && m.get(held.info.tx.nonce) === held) {
      m.delete(held.info.tx.nonce)
      if (m.size === 0) this.byAccount.delete(held.info.accountHex)
    }
    this.onDrop?.(held)
    return held
  }

  /** The held transaction of this account and nonce, if any. */
  at (accountHex: string, nonce: bigint): HeldTx | undefined { return this.byAccount.get(accountHex)?.get(nonce) }

  /** One past the account's highest held nonce (undefined when none is held). */
  nextNonce (accountHex: string): bigint | undefined {
    let next: bigint | undefined
    for (const n of this.byAccount.get(accountHex)?.keys() ?? []) if (next === undefined || n >= next) next = n + 1n
    return next
  }

  /** The validator that took the account's latest held transaction (its mempool has the ones before it). */
  peerOf (accountHex: string): PeerId | undefined {
    let best: HeldTx | undefined
    for (const held of this.byAccount.get(accountHex)?.values() ?? []) if (held.peer !== undefined && (best === undefined || held.info.tx.nonce > best.info.tx.nonce)) best = held
    return best?.peer
  }

  /**
   * The account's held transactions with nonces from `from` up to (not including) `to`, in nonce order, when they
   * fill that whole range; otherwise undefined (a gap this node cannot fill).
   */
  range (accountHex: string, from: bigint, to: bigint): HeldTx[] | undefined {
    if (to - from > BigInt(this.maxHeld)) return undefined
    const m = this.byAccount.get(accountHex)
    const out: HeldTx[] = []
    for (let n = from; n < to; n++) {
      const held = m?.get(n)
      if (held === undefined) return undefined
      out.push(held)
    }
    return out
  }

  /** Held transactions whose time has come, in account and nonce order (an account's lower nonces go first). */
  due (nowMs: number): HeldTx[] {
    const out: HeldTx[] = []
    for (const held of this.byId.values()) if (held.dueMs <= nowMs) out.push(held)
    return out.sort((a, b) => a.info.accountHex < b.info.accountHex ? -1 : a.info.accountHex > b.info.accountHex ? 1 : a.info.tx.nonce < b.info.tx.nonce ? -1 : a.info.tx.nonce > b.info.tx.nonce ? 1 : 0)
  }

  /**
   * After an attempt to send it again (whatever the answer): the next waits twice as long. Returns false, and drops
   * it, once its attempts are spent.
   */
  attempted (held: HeldTx, nowMs: number, peer?: PeerId): boolean {
    if (this.byId.get(held.info.idHex) !== held) return false
    held.resends++
    if (held.resends >= this.maxResends) {
      this.drop(held.info.idHex)
      return false
    }
    if (peer !== undefined) held.peer = peer
    held.dueMs = nowMs + Math.min(this.maxIntervalMs, this.resendAfterMs * 2 ** held.resends)
    return true
  }

  has (idHex: string): boolean { return this.byId.has(idHex) }
}
