import { createCipheriv, createDecipheriv, createHash, encapsulate as nodeEncapsulate, hkdfSync, randomBytes } from 'node:crypto'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import { bytesEqual, concatBytes, utf8 } from '../../core/codec.ts'
import { BlobError } from './errors.ts'

/**
 * Sealing: a payload encrypted to one recipient's ML-KEM-768 public key (FIPS 203), the standard KEM-DEM hybrid.
 * The KEM's 32-byte shared secret goes through HKDF-SHA256 with a domain tag to an AES-256-GCM key; a fresh
 * encapsulation per envelope means a fresh key, so the random 96-bit nonce never repeats under one key.
 *
 * Envelope v1 (the bytes of a sealed blob; docs/market.md "Blobs"):
 *
 *   version u8 = 1 ‖ KEM ciphertext (1088 B) ‖ nonce (12 B) ‖ GCM tag (16 B) ‖ AES-256-GCM ciphertext
 *
 * The associated data is version ‖ KEM ciphertext ‖ nonce ‖ the caller's context (say a task id), so the header
 * cannot be swapped and an envelope sealed for one context does not open in another.
 */

export const SEAL_VERSION = 1
export const KEM_PUBLIC_KEY_BYTES = 1184
export const KEM_SECRET_KEY_BYTES = 2400
export const KEM_CIPHERTEXT_BYTES = 1088
const NONCE_BYTES = 12
const TAG_BYTES = 16
/** Bytes an envelope adds to its plaintext. */
export const SEAL_OVERHEAD_BYTES = 1 + KEM_CIPHERTEXT_BYTES + NONCE_BYTES + TAG_BYTES
/** HKDF info: the domain tag that keeps this key apart from any other use of the shared secret. */
const HKDF_INFO = utf8.encode('HARMONY/market/seal/v1')
const KEY_BYTES = 32

export interface KemKeyPair {
  /** ML-KEM-768 encapsulation key, 1184 bytes: published in the provider's registration. */
  publicKey: Uint8Array
  /** ML-KEM-768 decapsulation key, 2400 bytes: never leaves its node (r2's keystore encrypts it at rest). */
  secretKey: Uint8Array
}

/** A new ML-KEM-768 key pair; deterministic from a 64-byte `seed` when given (tests, key derivation). */
export function generateKemKeyPair (seed?: Uint8Array): KemKeyPair {
  if (seed !== undefined && seed.length !== 64) throw new BlobError('SEAL_INVALID', 'an ML-KEM-768 seed is 64 bytes')
  const { publicKey, secretKey } = ml_kem768.keygen(seed)
  return { publicKey, secretKey }
}

const TASK_KEY_DOMAIN = 'HARMONY/market/task-kem/v1'
export const KEM_SEED_BYTES = 64

/**
 * The seed of a provider's ML-KEM-768 key for one private task (s44; docs/market.md "Private tasks"):
 * sha512(domain ‖ the provider's own KEM secret key ‖ taskId). Deterministic, so a restarted provider still opens
 * what was sealed to it; one per task, so a provider that reveals it in an input claim (to show that the envelopes
 * it fetched do not open) gives away no other task's key.
 */
export function taskKeySeed (kemSecretKey: Uint8Array, taskIdHex: string): Uint8Array {
  return new Uint8Array(createHash('sha512').update(TASK_KEY_DOMAIN).update(kemSecretKey).update(Buffer.from(taskIdHex, 'hex')).digest())
}

/** Whether `seed` gives exactly `publicKey` (the key a bid revealed): how every node checks a claim's seed. */
export function seedGivesKey (seed: Uint8Array, publicKey: Uint8Array): boolean {
  return seed.length === KEM_SEED_BYTES && bytesEqual(generateKemKeyPair(seed).publicKey, publicKey)
}

export interface SealOptions {
  /** Bound into the authentication: `open` must be given the same bytes (a task id, say). @default empty */
  context?: Uint8Array
}

/** Encrypts `plaintext` so that only the holder of `recipientPublicKey`'s secret key can read it. */
export function seal (plaintext: Uint8Array, recipientPublicKey: Uint8Array, options: SealOptions = {}): Uint8Array {
  if (!(recipientPublicKey instanceof Uint8Array) || recipientPublicKey.length !== KEM_PUBLIC_KEY_BYTES) {
    throw new BlobError('SEAL_INVALID', `an ML-KEM-768 public key is ${KEM_PUBLIC_KEY_BYTES} bytes`)
  }
  let kem: { cipherText: Uint8Array, sharedSecret: Uint8Array }
  try {
    kem = encapsulate(recipientPublicKey)
  } catch (err) {
    // FIPS 203 checks the key's encoding (every coefficient below q): a malformed key is the caller's input error
    throw new BlobError('SEAL_INVALID', 'the ML-KEM-768 public key is malformed', {}, { cause: err })
  }
  // one output buffer, each part written in place: a 16 MiB payload is copied once (bench:blobs `seal`)
  const out = new Uint8Array(SEAL_OVERHEAD_BYTES + plaintext.length)
  const headerEnd = 1 + KEM_CIPHERTEXT_BYTES + NONCE_BYTES
  out[0] = SEAL_VERSION
  out.set(kem.cipherText, 1)
  out.set(randomBytes(NONCE_BYTES), 1 + KEM_CIPHERTEXT_BYTES)
  const header = out.subarray(0, headerEnd)
  const key = deriveKey(kem.sharedSecret)
  const cipher = createCipheriv('aes-256-gcm', key, header.subarray(1 + KEM_CIPHERTEXT_BYTES), { authTagLength: TAG_BYTES })
  cipher.setAAD(concatBytes(header, options.context ?? new Uint8Array(0)))
  const body = cipher.update(plaintext)
  out.set(body, headerEnd + TAG_BYTES)
  out.set(cipher.final(), headerEnd + TAG_BYTES + body.length)
  out.set(cipher.getAuthTag(), headerEnd)
  key.fill(0)
  kem.sharedSecret.fill(0)
  return out
}

/**
 * Decrypts an envelope with the recipient's secret key. SEAL_INVALID when it is malformed, SEAL_OPEN_FAILED when
 * it is for another key or was changed (ML-KEM's implicit rejection gives a wrong key a random secret, so both
 * end in the GCM check).
 */
export function open (envelope: Uint8Array, secretKey: Uint8Array, options: SealOptions = {}): Uint8Array {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== KEM_SECRET_KEY_BYTES) {
    throw new BlobError('SEAL_INVALID', `an ML-KEM-768 secret key is ${KEM_SECRET_KEY_BYTES} bytes`)
  }
  if (!(envelope instanceof Uint8Array) || envelope.length < SEAL_OVERHEAD_BYTES) {
    throw new BlobError('SEAL_INVALID', `a sealed envelope is at least ${SEAL_OVERHEAD_BYTES} bytes`)
  }
  if (envelope[0] !== SEAL_VERSION) throw new BlobError('SEAL_INVALID', `unknown sealed envelope version ${envelope[0]}`)
  const headerEnd = 1 + KEM_CIPHERTEXT_BYTES + NONCE_BYTES
  const header = envelope.subarray(0, headerEnd)
  const kemCt = envelope.subarray(1, 1 + KEM_CIPHERTEXT_BYTES)
  const nonce = envelope.subarray(1 + KEM_CIPHERTEXT_BYTES, headerEnd)
  const tag = envelope.subarray(headerEnd, headerEnd + TAG_BYTES)
  const body = envelope.subarray(headerEnd + TAG_BYTES)
  let sharedSecret: Uint8Array
  try {
    sharedSecret = ml_kem768.decapsulate(kemCt, secretKey)
  } catch (err) {
    throw new BlobError('SEAL_INVALID', 'the ML-KEM-768 secret key is malformed', {}, { cause: err })
  }
  const key = deriveKey(sharedSecret)
  sharedSecret.fill(0)
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(concatBytes(header, options.context ?? new Uint8Array(0)))
    decipher.setAuthTag(tag)
    const out = new Uint8Array(body.length)
    const head = decipher.update(body)
    out.set(head)
    out.set(decipher.final(), head.length)
    return out
  } catch (err) {
    throw new BlobError('SEAL_OPEN_FAILED', 'the sealed envelope does not open with this key: sealed to another recipient, for another context, or altered', {}, { cause: err })
  } finally {
    key.fill(0)
  }
}

let nativeKem: boolean | undefined
/**
 * True when node:crypto encapsulates ML-KEM-768 (Node ≥ 24.7 with OpenSSL 3.5) and noble opens what it seals,
 * checked once. Measured here: 0.8 ms per encapsulation (key import included) against 6.3 ms with noble.
 */
export function nativeKemAvailable (): boolean {
  if (nativeKem !== undefined) return nativeKem
  try {
    const kp = ml_kem768.keygen(new Uint8Array(64).fill(3))
    const { sharedKey, ciphertext } = nodeEncapsulate({ key: Buffer.from(kp.publicKey), format: 'raw-public', asymmetricKeyType: 'ml-kem-768' })
    const back = ml_kem768.decapsulate(new Uint8Array(ciphertext), kp.secretKey)
    nativeKem = ciphertext.length === KEM_CIPHERTEXT_BYTES && Buffer.from(back).equals(sharedKey)
  } catch {
    nativeKem = false
  }
  return nativeKem
}

/** FIPS 203 encapsulation: node:crypto when it has ML-KEM, noble otherwise (the same bytes on the wire). */
function encapsulate (publicKey: Uint8Array): { cipherText: Uint8Array, sharedSecret: Uint8Array } {
  if (!nativeKemAvailable()) return ml_kem768.encapsulate(publicKey)
  const { sharedKey, ciphertext } = nodeEncapsulate({ key: Buffer.from(publicKey), format: 'raw-public', asymmetricKeyType: 'ml-kem-768' })
  return { cipherText: new Uint8Array(ciphertext), sharedSecret: new Uint8Array(sharedKey) }
}

function deriveKey (sharedSecret: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', sharedSecret, new Uint8Array(0), HKDF_INFO, KEY_BYTES))
}
