import { compareBytes, Reader, toHex, Writer } from '../core/codec.ts'
import {
  HASH_BYTES, ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES, sha256, sha256Prefix, sign, signAsync, signingMessage
} from '../core/crypto.ts'
import { DagError } from './errors.ts'
import { decodeTx, MAX_TX_BYTES, type TxInfo, txInfo } from './tx.ts'

export const VERTEX_VERSION = 1
/** Parents per vertex: at least one (the DAG is connected), at most 8 under Avalanche (bounds fan-in; admission.ts). */
export const MIN_PARENTS = 1
export const MAX_PARENTS = 8
/**
 * The wire bound, and the commit rule's: a round's vertex names one vertex of each author of the round below that
 * it holds (the quorum at least), plus weak links, so the bound follows the validator count the rule allows
 * (genesis.ts COMMIT_RULE_MAX_VALIDATORS) with room for weak links. 64 ids are 2 KiB of header.
 */
export const MAX_ROUND_PARENTS = 64
/** Transactions per vertex: ~5.3 KB each with ML-DSA-65 keys and signatures, so 128 keep a vertex under 1 MiB.
 *  At least one under the avalanche rule; none is allowed under the commit rule (admission.ts). */
export const MAX_VERTEX_TXS = 128
export const MAX_VERTEX_BYTES = 1 << 20
const VERTEX_SIGNING_TAG = 'HARMONY/vertex/v1'

export interface Vertex {
  version: number
  author: Uint8Array
  timestampMs: bigint
  /** Parent ids, strictly ascending (canonical). */
  parents: Uint8Array[]
  /** Encoded transactions, in the author's order. */
  txs: Uint8Array[]
  signature: Uint8Array
}

export type UnsignedVertex = Omit<Vertex, 'signature'>

function writeUnsigned (w: Writer, v: UnsignedVertex): void {
  if (v.parents.length < MIN_PARENTS || v.parents.length > MAX_ROUND_PARENTS) throw new DagError('PARENTS_INVALID', `a vertex needs ${MIN_PARENTS}..${MAX_ROUND_PARENTS} parents`)
  if (v.txs.length > MAX_VERTEX_TXS) throw new DagError('TOO_LARGE', `a vertex holds at most ${MAX_VERTEX_TXS} transactions`)
  w.u8(v.version).fixed(v.author, ML_DSA65_PUBLIC_KEY_BYTES).u64(v.timestampMs).u8(v.parents.length)
  for (const p of v.parents) w.fixed(p, HASH_BYTES)
  w.u16(v.txs.length)
  for (const tx of v.txs) w.varBytes(tx)
}

export function encodeUnsignedVertex (v: UnsignedVertex): Uint8Array {
  let size = 5400
  for (const t of v.txs) size += t.length + 4
  const w = new Writer(size)
  writeUnsigned(w, v)
  return w.finish()
}

export function encodeVertex (v: Vertex): Uint8Array {
  let size = 5400 + ML_DSA65_SIGNATURE_BYTES
  for (const t of v.txs) size += t.length + 4
  const w = new Writer(size)
  writeUnsigned(w, v)
  w.fixed(v.signature, ML_DSA65_SIGNATURE_BYTES)
  return w.finish()
}

/**
 * Strict decode. Checks the bounds (size, parent count, parents strictly ascending, batch size) and that every
 * transaction decodes (known kind, valid payload). Signatures are checked separately (in the verifier pool).
 */
export function decodeVertex (bytes: Uint8Array): Vertex {
  if (bytes.length > MAX_VERTEX_BYTES) throw new DagError('TOO_LARGE', `vertex of ${bytes.length} bytes exceeds ${MAX_VERTEX_BYTES}`)
  const r = new Reader(bytes, 'vertex')
  const version = r.u8()
  if (version !== VERTEX_VERSION) r.fail(`unsupported version ${version}`)
  const author = r.fixed(ML_DSA65_PUBLIC_KEY_BYTES)
  const timestampMs = r.u64()
  const parentCount = r.u8()
  if (parentCount < MIN_PARENTS || parentCount > MAX_ROUND_PARENTS) {
    throw new DagError('PARENTS_INVALID', `vertex has ${parentCount} parents; allowed ${MIN_PARENTS}..${MAX_ROUND_PARENTS}`)
  }
  const parents: Uint8Array[] = []
  for (let i = 0; i < parentCount; i++) {
    const p = r.fixed(HASH_BYTES)
    if (i > 0 && compareBytes(parents[i - 1], p) >= 0) throw new DagError('PARENTS_INVALID', 'parents must be strictly ascending')
    parents.push(p)
  }
  const txCount = r.u16()
  // 0 is a commit-rule vertex that moves the rounds along (admission refuses it under the avalanche rule)
  if (txCount > MAX_VERTEX_TXS) throw new DagError('TOO_LARGE', `vertex has ${txCount} transactions; allowed 0..${MAX_VERTEX_TXS}`)
  const txs: Uint8Array[] = []
  for (let i = 0; i < txCount; i++) txs.push(r.varBytes(MAX_TX_BYTES))
  const signature = r.fixed(ML_DSA65_SIGNATURE_BYTES)
  r.end()
  return { version, author, timestampMs, parents, txs, signature }
}

/** The author key of an encoded vertex, read from its header alone (a stored vertex: its bytes were checked). */
export function vertexAuthor (bytes: Uint8Array): Uint8Array {
  const r = new Reader(bytes, 'vertex')
  const version = r.u8()
  if (version !== VERTEX_VERSION) r.fail(`unsupported version ${version}`)
  return r.fixed(ML_DSA65_PUBLIC_KEY_BYTES)
}

/**
 * What the author signs: tag, chain id and sha256 of the unsigned encoding. Signing the digest keeps the
 * signature check independent of the vertex size (ML-DSA hashes its whole message) and the worker messages small.
 */
export function vertexSigningMessage (chainId: string, v: UnsignedVertex): Uint8Array {
  return signingMessage(VERTEX_SIGNING_TAG, chainId, sha256(encodeUnsignedVertex(v)))
}

/** Same bytes as `vertexSigningMessage`, from a vertex's info (the digest of its unsigned encoding, hashed once). */
export function vertexSigningMessageOf (chainId: string, info: Pick<VertexInfo, 'unsignedDigest'>): Uint8Array {
  return signingMessage(VERTEX_SIGNING_TAG, chainId, info.unsignedDigest)
}

/** Parents as a vertex carries them: duplicates dropped, sorted by their bytes. */
function canonicalParents (ids: Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>()
  return ids.filter(p => {
    const h = toHex(p)
    if (seen.has(h)) return false
    seen.add(h)
    return true
  }).sort(compareBytes)
}

/** Builds and signs a vertex; sorts and dedupes the parents into canonical order. */
export function buildVertex (chainId: string, init: { author: Uint8Array, secretKey: Uint8Array, parents: Uint8Array[], txs: Uint8Array[], timestampMs: bigint }): Vertex {
  const parents = canonicalParents(init.parents)
  const unsigned: UnsignedVertex = { version: VERTEX_VERSION, author: init.author, timestampMs: init.timestampMs, parents, txs: init.txs }
  return { ...unsigned, signature: sign(vertexSigningMessage(chainId, unsigned), init.secretKey) }
}

interface VertexInit { author: Uint8Array, secretKey: Uint8Array, parents: Uint8Array[], txs: TxInfo[], timestampMs: bigint }

/**
 * Builds, signs and encodes a vertex from transactions already decoded and hashed (the builder's mempool entries):
 * the unsigned encoding is made once and hashed once, and no transaction is decoded or hashed again (profiled:
 * `vertexInfo` re-decoding the batch was half of the builder's time; docs/ledger-profile.md).
 */
export function buildVertexInfo (chainId: string, init: VertexInit): VertexInfo {
  const u = unsignedVertex(chainId, init)
  return signedVertex(u, sign(u.message, init.secretKey))
}

/** `buildVertexInfo` signing off the event loop (`signAsync`): the ledger's own vertices (vertex-builder.ts). */
export async function buildVertexInfoAsync (chainId: string, init: VertexInit): Promise<VertexInfo> {
  const u = unsignedVertex(chainId, init)
  return signedVertex(u, await signAsync(u.message, init.secretKey))
}

interface Unsigned { unsigned: UnsignedVertex, w: Writer, hash: ReturnType<typeof sha256Prefix>, message: Uint8Array, txs: TxInfo[] }

function unsignedVertex (chainId: string, init: VertexInit): Unsigned {
  const parents = canonicalParents(init.parents)
  const unsigned: UnsignedVertex = { version: VERTEX_VERSION, author: init.author, timestampMs: init.timestampMs, parents, txs: init.txs.map(t => t.encoded) }
  let size = 5400 + ML_DSA65_SIGNATURE_BYTES
  for (const t of unsigned.txs) size += t.length + 4
  const w = new Writer(size)
  writeUnsigned(w, unsigned)
  // one pass over the ~700 KB: the signed digest, then the id (sha256 of unsigned || signature) from its state;
  // the signature is appended in place, so the vertex is copied once (finish), not three times
  const hash = sha256Prefix(w.written())
  return { unsigned, w, hash, message: signingMessage(VERTEX_SIGNING_TAG, chainId, hash.digest), txs: init.txs }
}

function signedVertex (u: Unsigned, signature: Uint8Array): VertexInfo {
  u.w.fixed(signature, ML_DSA65_SIGNATURE_BYTES)
  const encoded = u.w.finish()
  const id = u.hash.extend(signature)
  return { vertex: { ...u.unsigned, signature }, encoded, id, idHex: toHex(id), unsignedDigest: u.hash.digest, parentHex: u.unsigned.parents.map(toHex), txs: u.txs }
}

/** A decoded vertex with ids and decoded transactions. */
export interface VertexInfo {
  vertex: Vertex
  encoded: Uint8Array
  id: Uint8Array
  idHex: string
  /** sha256 of the unsigned encoding (the prefix before the signature): what the author signed. */
  unsignedDigest: Uint8Array
  parentHex: string[]
  txs: TxInfo[]
}

/** A vertex encoding's two hashes: its id, sha256 of all of it, and the digest of the unsigned prefix its author signed. */
export interface VertexHashes { id: Uint8Array, unsignedDigest: Uint8Array }

/**
 * Both hashes in one pass over the bytes (up to 1 MiB): the prefix before the signature, then the id from a copy of
 * that state. Any bytes have them (`id` is sha256(bytes) however short they are): the vertex topic's gossip
 * message id is `id`, taken before the bytes are decoded (network/message-id.ts).
 */
export function vertexHashes (encoded: Uint8Array): VertexHashes {
  const split = Math.max(0, encoded.length - ML_DSA65_SIGNATURE_BYTES)
  const hash = sha256Prefix(encoded.subarray(0, split))
  return { id: hash.extend(encoded.subarray(split)), unsignedDigest: hash.digest }
}

/** Decodes a vertex with its ids; `hashes` when the caller has them for these bytes (`vertexHashes`). */
export function vertexInfo (encoded: Uint8Array, vertex: Vertex = decodeVertex(encoded), hashes: VertexHashes = vertexHashes(encoded)): VertexInfo {
  const { id } = hashes
  return {
    vertex,
    encoded,
    id,
    idHex: toHex(id),
    unsignedDigest: hashes.unsignedDigest,
    parentHex: vertex.parents.map(toHex),
    txs: vertex.txs.map(t => txInfo(t, decodeTx(t)))
  }
}
