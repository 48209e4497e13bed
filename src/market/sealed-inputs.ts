/**
 * Private tasks (docs/market.md, "Private tasks"): how an awarded provider finds its sealed copy of the inputs, and
 * the notices that name its envelopes (the contexts the payloads are sealed under are in seal-contexts.ts).
 *
 * The announce names each input by sha256 of its plaintext. The requester's node holds the plaintext (never in the
 * blob store, which serves anything to anyone) and, once an award is final, seals each input to each awarded
 * provider's ML-KEM-768 key, stores the envelopes in its blob store and publishes a notice on `harmony/1/inputs`:
 * (task, round, provider, the node's peer id, the envelope ids). The provider fetches the envelopes from that peer
 * over `/harmony/blob/1.0.0`, opens them with `inputContext` and checks each plaintext against the announced id.
 *
 * A notice is signed by its holder: the holder is a libp2p peer id, which names its own Ed25519 key, so any node
 * checks the signature from the notice alone and rejects a notice naming a holder that did not sign it (gossip
 * reject: the sender's score drops). The gossip message itself carries no author (StrictNoSign, and a relayed
 * message's `from` is the relay, not the publisher), hence the signature inside. A notice a holder signed for
 * itself with envelopes that do not open costs the provider one fetch and a failed open: it keeps a few distinct
 * notices per task (sealed-inputs-board.ts) and tries each until one opens and matches the announced ids.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { Reader, toHex, utf8, Writer } from '../core/codec.ts'
import { ADDRESS_BYTES, formatAddress, parseAddress } from '../core/address.ts'
import { signingMessage } from '../core/crypto.ts'

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

const NOTICE_SIGNING_TAG = 'HARMONY/market/inputs-notice/v1'
/** 3: signed by the holder, with an issue number (1, unsigned, and 2, without it, are refused as unknown versions). */
const NOTICE_VERSION = 3
/** An Ed25519 signature (the holder's libp2p key). */
const SIGNATURE_BYTES = 64
/** A libp2p peer id string is ≤ 64 characters (base58 of an Ed25519 identity multihash is 52). */
const MAX_PEER_ID_BYTES = 128
const MAX_INPUTS = 8
const ID_BYTES = 32
/** Largest notice: version, task, round, provider, peer id, issue, count, 8 envelope ids and the signature. */
export const MAX_NOTICE_BYTES = 1 + ID_BYTES + 1 + ADDRESS_BYTES + 4 + MAX_PEER_ID_BYTES + 4 + 4 + MAX_INPUTS * ID_BYTES + SIGNATURE_BYTES

export interface SealedInputsNotice {
  /** hex, no 0x */
  taskId: string
  round: number
  /** hmy1… address of the provider the envelopes are sealed to */
  provider: string
  /** The libp2p peer that holds the envelopes (and signed the notice). */
  holder: string
  /** Envelope blob ids (hex), in the announce's input order. */
  envelopes: string[]
  /**
   * Which publication of the same envelopes this is (0 first): the holder publishes again until the provider's
   * result is final, and each one must differ in bytes, or gossip's duplicate filter would drop it. @default 0
   */
  issue?: number
}

/** A decoded notice with what its holder signed. */
export interface SignedNotice extends SealedInputsNotice {
  issue: number
  /** The encoding up to the signature (what the signing message wraps). */
  body: Uint8Array
  signature: Uint8Array
}

/** What signs a notice: the node's libp2p private key (`PrivateKey.sign`). */
export interface NoticeSigner {
  sign: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>
}

/** Why a notice is refused (a gossip reject code). */
export type NoticeFault = 'NOTICE_HOLDER_INVALID' | 'NOTICE_SIGNATURE_INVALID'

function encodeBody (n: SealedInputsNotice): Uint8Array {
  const w = new Writer(MAX_NOTICE_BYTES).u8(NOTICE_VERSION).fixed(Buffer.from(n.taskId, 'hex'), ID_BYTES).u8(n.round)
    .fixed(parseAddress(n.provider), ADDRESS_BYTES)
  w.varBytes(utf8.encode(n.holder)).u32(n.issue ?? 0).u32(n.envelopes.length)
  for (const id of n.envelopes) w.fixed(Buffer.from(id, 'hex'), ID_BYTES)
  return w.finish()
}

/** The notice's bytes, signed by `signer` (its holder's key) for `chainId`. */
export async function encodeNotice (n: SealedInputsNotice, chainId: string, signer: NoticeSigner): Promise<Uint8Array> {
  const body = encodeBody(n)
  const signature = await signer.sign(signingMessage(NOTICE_SIGNING_TAG, chainId, body))
  if (signature.length !== SIGNATURE_BYTES) throw new Error(`a notice is signed with an Ed25519 key (${SIGNATURE_BYTES}-byte signature)`)
  return new Writer(body.length + SIGNATURE_BYTES).raw(body).fixed(signature, SIGNATURE_BYTES).finish()
}

/** Strict decode (the signature is not checked here: `verifyNotice`); throws on anything malformed. */
export function decodeNotice (bytes: Uint8Array): SignedNotice {
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
  const issue = r.u32()
  const count = r.u32()
  if (count === 0 || count > MAX_INPUTS) r.fail(`1..${MAX_INPUTS} envelopes`)
  const envelopes: string[] = []
  for (let i = 0; i < count; i++) envelopes.push(toHex(r.fixed(ID_BYTES)))
  const body = bytes.subarray(0, bytes.length - r.remaining)
  const signature = r.fixed(SIGNATURE_BYTES)
  r.end()
  return { taskId, round, provider, holder, issue, envelopes, body, signature }
}

/**
 * Checks that the notice's holder signed it: the holder must be a canonical peer id that names its public key
 * (Ed25519 ones do) and the signature must verify under it for `chainId`. Returns the fault, or undefined.
 */
export async function verifyNotice (n: SignedNotice, chainId: string): Promise<NoticeFault | undefined> {
  let key
  try {
    const peer = peerIdFromString(n.holder)
    if (peer.toString() !== n.holder) return 'NOTICE_HOLDER_INVALID'
    key = peer.publicKey
  } catch {
    return 'NOTICE_HOLDER_INVALID'
  }
  if (key === undefined) return 'NOTICE_HOLDER_INVALID'
  try {
    return (await key.verify(signingMessage(NOTICE_SIGNING_TAG, chainId, n.body), n.signature)) ? undefined : 'NOTICE_SIGNATURE_INVALID'
  } catch {
    return 'NOTICE_SIGNATURE_INVALID'
  }
}

/** Identity of a notice for the board and the provider's tries: its round, holder and envelopes (not its issue). */
export function noticeKey (n: SealedInputsNotice): string {
  return `${n.round}/${n.holder}/${n.envelopes.join(',')}`
}
