import nodeCrypto from 'node:crypto'
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js'
import { BoundedCache } from './bounded-set.ts'
import { concatBytes, toHex } from './codec.ts'

/** ML-DSA-65 sizes (FIPS 204). */
export const ML_DSA65_PUBLIC_KEY_BYTES = 1952
export const ML_DSA65_SECRET_KEY_BYTES = 4032
export const ML_DSA65_SIGNATURE_BYTES = 3309
export const HASH_BYTES = 32

// Bounded caches of parsed keys: creating a KeyObject costs ~40 µs, a verify ~215 µs (measured here).
const KEY_CACHE_LIMIT = 2048

export function sha256 (...parts: Uint8Array[]): Uint8Array {
  const h = nodeCrypto.createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/**
 * sha256 of `prefix`, and `extend(suffix)` giving sha256(prefix || suffix) from the same pass over the prefix (a
 * signed encoding's id after the digest its signature covers: the prefix is hashed once, not twice). `extend` may
 * be called once.
 */
export function sha256Prefix (prefix: Uint8Array): { digest: Uint8Array, extend: (suffix: Uint8Array) => Uint8Array } {
  const h = nodeCrypto.createHash('sha256').update(prefix)
  const rest = h.copy()
  return { digest: new Uint8Array(h.digest()), extend: (suffix) => new Uint8Array(rest.update(suffix).digest()) }
}

export interface KeyPair {
  publicKey: Uint8Array
  /** noble's expanded secret key (4032 bytes) */
  secretKey: Uint8Array
}

/** New ML-DSA-65 key pair through noble; from a 32-byte seed when given (deterministic), else random. */
export function generateKeyPair (seed?: Uint8Array): KeyPair {
  const s = seed ?? nodeCrypto.randomBytes(32)
  const { publicKey, secretKey } = ml_dsa65.keygen(new Uint8Array(s))
  return { publicKey, secretKey }
}

let nativeChecked: boolean | undefined
/** True when node:crypto implements ML-DSA-65 (Node ≥ 24.7 with OpenSSL 3.5), checked once by a real sign/verify. */
export function nativeMlDsaAvailable (): boolean {
  if (nativeChecked !== undefined) return nativeChecked
  try {
    const kp = generateKeyPair(new Uint8Array(32).fill(1))
    const msg = new Uint8Array([1, 2, 3])
    const sig = nobleSign(msg, kp.secretKey)
    nativeChecked = nodeVerify(sig, msg, kp.publicKey) && ml_dsa65.verify(nodeSign(msg, kp.secretKey), msg, kp.publicKey)
  } catch {
    nativeChecked = false
  }
  return nativeChecked
}

const publicKeys = new BoundedCache<nodeCrypto.KeyObject>(KEY_CACHE_LIMIT)
const secretKeys = new BoundedCache<nodeCrypto.KeyObject>(64)

// DER prefixes: SubjectPublicKeyInfo and PKCS#8 (expandedKey choice) for id-ml-dsa-65 (2.16.840.1.101.3.4.3.18).
const SPKI_PREFIX = Buffer.from('308207b2300b0609608648016503040312038207a100', 'hex')
const PKCS8_EXPANDED_PREFIX = Buffer.from('30820fd8020100300b060960864801650304031204820fc404820fc0', 'hex')

function publicKeyObject (publicKey: Uint8Array): nodeCrypto.KeyObject {
  const cacheKey = toHex(sha256(publicKey))
  let key = publicKeys.get(cacheKey)
  if (key === undefined) {
    key = nodeCrypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    publicKeys.set(cacheKey, key)
  }
  return key
}

function secretKeyObject (secretKey: Uint8Array): nodeCrypto.KeyObject {
  const cacheKey = toHex(sha256(secretKey))
  let key = secretKeys.get(cacheKey)
  if (key === undefined) {
    key = nodeCrypto.createPrivateKey({ key: Buffer.concat([PKCS8_EXPANDED_PREFIX, secretKey]), format: 'der', type: 'pkcs8' })
    secretKeys.set(cacheKey, key)
  }
  return key
}

export function nobleSign (msg: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return ml_dsa65.sign(msg, secretKey)
}

export function nodeSign (msg: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return new Uint8Array(nodeCrypto.sign(null, msg, secretKeyObject(secretKey)))
}

export function nobleVerify (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
  if (sig.length !== ML_DSA65_SIGNATURE_BYTES || publicKey.length !== ML_DSA65_PUBLIC_KEY_BYTES) return false
  try { return ml_dsa65.verify(sig, msg, publicKey) } catch { return false }
}

export function nodeVerify (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
  if (sig.length !== ML_DSA65_SIGNATURE_BYTES || publicKey.length !== ML_DSA65_PUBLIC_KEY_BYTES) return false
  try { return nodeCrypto.verify(null, msg, publicKeyObject(publicKey), sig) } catch { return false }
}

/** Signs with node:crypto when it has ML-DSA (≈7x faster than noble here), noble otherwise. Same key format. */
export function sign (msg: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return nativeMlDsaAvailable() ? nodeSign(msg, secretKey) : nobleSign(msg, secretKey)
}

/**
 * `sign` off the calling thread: node:crypto's one-shot with a callback runs on libuv's thread pool, so the event
 * loop does not spend the ~0.85 ms an ML-DSA-65 signature costs here (5x a verification; a loaded node's vertices
 * were 5% of its main thread in the ingest profile, s53). Without native ML-DSA, noble signs on the calling thread.
 */
export async function signAsync (msg: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
  if (!nativeMlDsaAvailable()) return nobleSign(msg, secretKey)
  const key = secretKeyObject(secretKey)
  return await new Promise<Uint8Array>((resolve, reject) => {
    nodeCrypto.sign(null, msg, key, (err, sig) => { if (err !== null) reject(err); else resolve(new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength)) })
  })
}

/** Verifies on the calling thread: node:crypto when available, noble otherwise. Never throws. */
export function verify (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
  return nativeMlDsaAvailable() ? nodeVerify(sig, msg, publicKey) : nobleVerify(sig, msg, publicKey)
}

/** Domain-separated message: `tag || 0x00 || u16 len(chainId) || chainId || body`. */
export function signingMessage (tag: string, chainId: string, body: Uint8Array): Uint8Array {
  const head = signingHead(tag, chainId)
  const out = new Uint8Array(head.length + body.length)
  out.set(head)
  out.set(body, head.length)
  return out
}

// `tag || 0x00 || u16 len || chainId` per (tag, chain): a node signs and checks under a handful of them, and the
// encoders and the four small arrays per call were a few percent of a loaded node's ingest (bench:ledger profile).
// Bounded: cleared when full (a tool with many chain ids only loses the memo).
const SIGNING_HEADS_LIMIT = 64
const signingHeads = new Map<string, Uint8Array>()
const textEncoder = new TextEncoder()

function signingHead (tag: string, chainId: string): Uint8Array {
  const key = `${tag.length}:${tag}${chainId}`
  let head = signingHeads.get(key)
  if (head === undefined) {
    const t = textEncoder.encode(tag)
    const c = textEncoder.encode(chainId)
    head = concatBytes(t, new Uint8Array([0, c.length >> 8, c.length & 0xff]), c)
    if (signingHeads.size >= SIGNING_HEADS_LIMIT) signingHeads.clear()
    signingHeads.set(key, head)
  }
  return head
}
