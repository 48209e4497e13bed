import { ADDRESS_BYTES, formatAddress } from '../core/address.ts'
import { Reader, Writer } from '../core/codec.ts'
import { DagError } from './errors.ts'
import type { SublevelName } from '../core/storage.ts'

/** What a transaction does to balances; the ledger applies effects the same way for every kind. */
export interface TxEffects {
  /** Taken from the sender on top of the fee. */
  debit: bigint
  /** Added to other accounts. */
  credits: Array<{ to: Uint8Array, amount: bigint }>
}

/**
 * A transaction kind: its wire id, payload codec and effects. Later issues (deposit credit, withdrawal burn,
 * market kinds) add kinds with `registerTxKind`; ids are never reused.
 */
export interface TxKind<P = unknown> {
  id: number
  name: string
  /** Upper bound on the encoded payload. */
  maxPayloadBytes: number
  encode (payload: P): Uint8Array
  /** Strict decode; throws ENCODING_INVALID. */
  decode (bytes: Uint8Array): P
  /**
   * What the transaction does to balances. `tx` is the acting account (`account` below, else the signer's) and
   * the transaction's nonce: a kind may derive the account it credits from them (the market's escrow of a task).
   */
  effects (payload: P, tx: TxContext): TxEffects
  /** JSON view for RPC. */
  toJSON (payload: P): Record<string, unknown>
  /**
   * The account a transaction of this kind acts for, when it is not its signer's (a system account such as a
   * deposit's or the epoch chain's). Its (account, nonce) is the conflict key, so consensus lets exactly one
   * transaction per (account, nonce) become final. @default the signer's address
   */
  account?: (payload: P, signer: { publicKey: Uint8Array }) => Uint8Array
  /** Stateless checks of the signed fields (nonce, fee) against the payload; throws DagError. */
  validate?: (payload: P, tx: { nonce: bigint, fee: bigint }) => void
  /** Only genesis validators may sign it. Fee-exempt kinds must set this (they cost the network, not the signer). */
  validatorOnly?: boolean
  /** Fee 0 is allowed (system transactions whose account holds nothing). */
  feeExempt?: boolean
  /**
   * Each node checks the transaction against an outside view (the EVM chain) before it prefers or votes for a
   * vertex holding it; see DagLedger.external. @default false
   */
  externalCheck?: boolean
  /**
   * Under the commit rule, where the order is the same at every node and no vertex can be held back: the check that
   * replaces `externalCheck`, run against the state the order reached when the sequence reaches the transaction
   * (before its nonce is consumed). Returns a reject reason, or undefined when valid. A kind with `externalCheck`
   * and no `orderCheck` is checked by the checker its part registers with the ledger (order-checkers.ts), against
   * that part's state as of the same point of the order. @default none
   */
  orderCheck?: (payload: P, ctx: OrderCheckContext) => Promise<'unattested' | 'order-check' | undefined>
  /**
   * Records other parts keep about a final transaction of this kind (the bridge: "this withdraw still needs an
   * epoch"). The ledger writes them in the batch that commits the decision, so they exist exactly when the
   * transaction is final, whatever moment a kill -9 hits. Keys must come from the storage table.
   */
  finalRecords?: (tx: FinalTxContext) => FinalRecord[]
}

/** What `orderCheck` reads: the signer, the validators' stake and the quorum, and the state the order reached. */
export interface OrderCheckContext {
  /** The signer's ML-DSA public key. */
  signer: Uint8Array
  /** The genesis validators: address (20 bytes, of the public key) and stake. */
  validators: ReadonlyArray<{ address: Uint8Array, stake: number }>
  /** The quorum of stake (genesis.ts quorumOf). */
  quorum: number
  /** An account's nonce in the state the order reached (earlier transactions of the same vertex included). */
  nonceOf: (address: Uint8Array) => Promise<bigint>
}

/** The acting account and nonce of a transaction, as `effects` sees them. */
export interface TxContext {
  account: Uint8Array
  nonce: bigint
}

/** Where a final transaction sits, as `finalRecords` sees it (enough to key records in finality order). */
export interface FinalTxContext {
  idHex: string
  /** The vertex holding it. */
  vertexIdHex: string
  /** The vertex's signed timestamp. */
  vertexTimeMs: bigint
  /** This node's acceptance order of the vertex (1, 2, ...; local: concurrent vertices may be in another order elsewhere). */
  seq: bigint
  /** Position of the transaction in its vertex. */
  position: number
  /** The signed transaction's encoding (a part may keep it: decoding it again is cheaper than reading the vertex). */
  encoded: Uint8Array
  /** Its payload (a view into `encoded`), checked by the kind's decode at admission. */
  payload: Uint8Array
}

/** Where a final transaction sits in this node's finality order (the `tx:final` event carries it). */
export type FinalPlace = Pick<FinalTxContext, 'vertexTimeMs' | 'seq' | 'position'>

/** One write of `finalRecords`. */
export interface FinalRecord {
  sublevel: SublevelName
  key: Uint8Array
  value: Uint8Array
}

const kinds = new Map<number, TxKind>()

export function registerTxKind<P> (kind: TxKind<P>): void {
  if (!Number.isInteger(kind.id) || kind.id < 0 || kind.id > 0xffff) throw new RangeError('kind id must be a u16')
  if (kinds.has(kind.id)) throw new Error(`transaction kind ${kind.id} registered twice`)
  kinds.set(kind.id, kind as unknown as TxKind)
}

export function getTxKind (id: number): TxKind | undefined {
  return kinds.get(id)
}

export function requireTxKind (id: number): TxKind {
  const k = kinds.get(id)
  if (k === undefined) throw new DagError('KIND_UNKNOWN', `unknown transaction kind ${id}`, { kind: id })
  return k
}

export const TX_KIND_TRANSFER = 1

export interface TransferPayload {
  to: Uint8Array
  amount: bigint
}

export const transferKind: TxKind<TransferPayload> = {
  id: TX_KIND_TRANSFER,
  name: 'transfer',
  maxPayloadBytes: ADDRESS_BYTES + 16,
  encode (p) { return new Writer(36).fixed(p.to, ADDRESS_BYTES).u128(p.amount).finish() },
  decode (bytes) {
    const r = new Reader(bytes, 'transfer payload')
    const to = r.fixed(ADDRESS_BYTES)
    const amount = r.u128()
    r.end()
    if (amount === 0n) r.fail('amount must be positive')
    return { to, amount }
  },
  effects (p) { return { debit: p.amount, credits: [{ to: p.to, amount: p.amount }] } },
  toJSON (p) { return { to: formatAddress(p.to), amount: p.amount.toString() } }
}

registerTxKind(transferKind)
