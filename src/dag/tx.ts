import { ADDRESS_BYTES, addressBytesFromPublicKey, formatAddress } from '../core/address.ts'
import { Reader, toHex, Writer } from '../core/codec.ts'
import {
  HASH_BYTES, ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES, sha256, sign, signingMessage, verify
} from '../core/crypto.ts'
import { DagError, type DagErrorCode } from './errors.ts'
import { requireTxKind, type TransferPayload, TX_KIND_TRANSFER, transferKind } from './tx-kinds.ts'

export const TX_VERSION = 1
/** Largest payload of any kind we accept on the wire (a kind may set a lower bound). */
export const MAX_TX_PAYLOAD_BYTES = 4096
/** version + kind + pubkey + nonce + fee + payload length + payload + signature */
export const MAX_TX_BYTES = 1 + 2 + ML_DSA65_PUBLIC_KEY_BYTES + 8 + 16 + 4 + MAX_TX_PAYLOAD_BYTES + ML_DSA65_SIGNATURE_BYTES
const TX_SIGNING_TAG = 'HARMONY/tx/v1'
/** A transaction's nonce is a u64; its fee, and the amounts its kinds carry, u128s of base units. */
export const MAX_TX_NONCE = (1n << 64n) - 1n
export const MAX_TX_AMOUNT = (1n << 128n) - 1n

/** A signed transaction. The account is derived from `publicKey`; `payload` is the kind's encoding. */
export interface Transaction {
  version: number
  kind: number
  publicKey: Uint8Array
  nonce: bigint
  fee: bigint
  payload: Uint8Array
  signature: Uint8Array
}

export type UnsignedTransaction = Omit<Transaction, 'signature'>

function writeUnsigned (w: Writer, tx: UnsignedTransaction): void {
  w.u8(tx.version).u16(tx.kind).fixed(tx.publicKey, ML_DSA65_PUBLIC_KEY_BYTES).u64(tx.nonce).u128(tx.fee).varBytes(tx.payload)
}

export function encodeUnsignedTx (tx: UnsignedTransaction): Uint8Array {
  const w = new Writer(2048 + tx.payload.length)
  writeUnsigned(w, tx)
  return w.finish()
}

export function encodeTx (tx: Transaction): Uint8Array {
  const w = new Writer(5400 + tx.payload.length)
  writeUnsigned(w, tx)
  w.fixed(tx.signature, ML_DSA65_SIGNATURE_BYTES)
  return w.finish()
}

/**
 * Strict decode: version, known kind, payload valid for its kind, no trailing bytes. The key, payload and signature
 * are views into `bytes` (never changed by the ledger; a caller that reuses its buffer passes a copy).
 */
export function decodeTx (bytes: Uint8Array): Transaction {
  if (bytes.length > MAX_TX_BYTES) throw new DagError('TOO_LARGE', `transaction of ${bytes.length} bytes exceeds ${MAX_TX_BYTES}`)
  const r = new Reader(bytes, 'transaction')
  const version = r.u8()
  if (version !== TX_VERSION) r.fail(`unsupported version ${version}`)
  const kind = r.u16()
  const kindDef = requireTxKind(kind)
  // views into `bytes`: a transaction is kept with its encoding (TxInfo.encoded), so they retain nothing more
  const publicKey = r.fixedView(ML_DSA65_PUBLIC_KEY_BYTES)
  const nonce = r.u64()
  const fee = r.u128()
  const payload = r.varBytesView(Math.min(MAX_TX_PAYLOAD_BYTES, kindDef.maxPayloadBytes))
  const signature = r.fixedView(ML_DSA65_SIGNATURE_BYTES)
  r.end()
  const decoded = kindDef.decode(payload)
  kindDef.validate?.(decoded, { nonce, fee })
  return { version, kind, publicKey, nonce, fee, payload, signature }
}

/** Transaction id: sha256 of the full signed encoding. */
export function txId (encoded: Uint8Array): Uint8Array {
  return sha256(encoded)
}

export function txSigningMessage (chainId: string, tx: UnsignedTransaction): Uint8Array {
  return signingMessage(TX_SIGNING_TAG, chainId, encodeUnsignedTx(tx))
}

/** Same bytes as `txSigningMessage`, cut from the signed encoding (the unsigned encoding is its prefix). */
export function txSigningMessageFromEncoded (chainId: string, encoded: Uint8Array): Uint8Array {
  return signingMessage(TX_SIGNING_TAG, chainId, encoded.subarray(0, encoded.length - ML_DSA65_SIGNATURE_BYTES))
}

/**
 * A transaction builder's check of one numeric input, before the encoder (whose RangeError names neither the field
 * nor its range): a DagError with `code` naming both. A bigint field takes bigint bounds, a number field number bounds.
 */
export function requireTxField (field: string, value: bigint | number, min: bigint | number, max: bigint | number, code: DagErrorCode = 'ENCODING_INVALID'): void {
  const typed = typeof value === typeof min
  if (typed && (typeof value === 'bigint' || Number.isInteger(value)) && value >= min && value <= max) return
  const what = typed ? 'an integer' : typeof min === 'bigint' ? 'a bigint' : 'a number'
  throw new DagError(code, `${field} must be ${what} from ${min} to ${boundText(max)}, got ${String(value)}${typed ? '' : ` (${typeof value})`}`, { field })
}

/** 2^128-1 rather than its 39 digits. */
function boundText (max: bigint | number): string {
  const big = BigInt(max)
  const bits = (big + 1n).toString(2).length - 1
  return bits > 32 && big + 1n === 1n << BigInt(bits) ? `2^${bits}-1` : String(max)
}

/** Signs `tx`; a nonce or fee the format cannot carry is refused (DagError) before anything is encoded. */
export function signTx (chainId: string, tx: UnsignedTransaction, secretKey: Uint8Array): Transaction {
  requireTxField('nonce', tx.nonce, 0n, MAX_TX_NONCE)
  requireTxField('fee', tx.fee, 0n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  return { ...tx, signature: sign(txSigningMessage(chainId, tx), secretKey) }
}

export function verifyTxSignature (chainId: string, tx: Transaction): boolean {
  return verify(tx.signature, txSigningMessage(chainId, tx), tx.publicKey)
}

export interface TransferInit {
  chainId: string
  publicKey: Uint8Array
  secretKey: Uint8Array
  to: Uint8Array
  amount: bigint
  nonce: bigint
  fee: bigint
}

/** A signed transfer; an amount, nonce, fee or recipient out of range is refused with a DagError naming it. */
export function buildTransfer (init: TransferInit): Transaction {
  requireTxField('amount', init.amount, 1n, MAX_TX_AMOUNT, 'AMOUNT_INVALID')
  requireAddressBytes('to', init.to)
  const payload = transferKind.encode({ to: init.to, amount: init.amount })
  return signTx(init.chainId, { version: TX_VERSION, kind: TX_KIND_TRANSFER, publicKey: init.publicKey, nonce: init.nonce, fee: init.fee, payload }, init.secretKey)
}

/** A builder's check of a 20-byte address field (a DAG account or an EVM address): ADDRESS_INVALID naming it. */
export function requireAddressBytes (field: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== ADDRESS_BYTES) {
    throw new DagError('ADDRESS_INVALID', `${field} must be a ${ADDRESS_BYTES}-byte address, got ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes}`, { field })
  }
}

/** A decoded transaction with the values the ledger needs precomputed. */
export interface TxInfo {
  tx: Transaction
  encoded: Uint8Array
  id: Uint8Array
  idHex: string
  account: Uint8Array
  accountHex: string
  /** conflict-set key: account and nonce */
  conflictKey: string
}

export function txInfo (encoded: Uint8Array, tx: Transaction = decodeTx(encoded)): TxInfo {
  const id = txId(encoded)
  const kind = requireTxKind(tx.kind)
  const account = kind.account !== undefined ? kind.account(kind.decode(tx.payload), tx) : addressBytesFromPublicKey(tx.publicKey)
  const accountHex = toHex(account)
  return { tx, encoded, id, idHex: toHex(id), account, accountHex, conflictKey: `${accountHex}:${tx.nonce}` }
}

// debit per transaction object, computed once: admission, the mempool's pending sums and the processing index all
// ask for it (each decoded the payload again; the mempool's sum did it for every pending transaction of the account
// on every submit). Weak: an entry goes with its transaction.
const debits = new WeakMap<TxInfo, bigint>()

/** What the transaction takes from its account: its kind's debit plus the fee. */
export function txDebit (info: TxInfo): bigint {
  let d = debits.get(info)
  if (d === undefined) {
    const kind = requireTxKind(info.tx.kind)
    d = kind.effects(kind.decode(info.tx.payload), { account: info.account, nonce: info.tx.nonce }).debit + info.tx.fee
    debits.set(info, d)
  }
  return d
}

export function txToJSON (info: TxInfo): Record<string, unknown> {
  const kind = requireTxKind(info.tx.kind)
  return {
    id: `0x${info.idHex}`,
    kind: kind.name,
    from: formatAddress(info.account),
    nonce: info.tx.nonce.toString(),
    fee: info.tx.fee.toString(),
    ...kind.toJSON(kind.decode(info.tx.payload))
  }
}

export function decodeTransfer (tx: Transaction): TransferPayload {
  return transferKind.decode(tx.payload)
}

export { HASH_BYTES }
