import { createCipheriv } from 'node:crypto'
import { f32Blob } from '../../compute/blob.ts'
import type { ComputeTask } from '../../compute/types.ts'
import { Reader, toHex, utf8, Writer } from '../../core/codec.ts'
import { ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES, sha256, signingMessage } from '../../core/crypto.ts'
import { ADAPTER_MAX_BYTES, type CapabilityRecord, PROFILE_MAX_BYTES } from './capability.ts'

/**
 * The benchmark challenge's wire format (`/harmony/market/challenge/1.0.0`, one request and one answer per stream,
 * each length-prefixed). A challenger sends a random seed and a size; the provider derives the matmul inputs from
 * sha256(domain ‖ seed ‖ its public key ‖ its adapter), so an answer cannot be borrowed from another provider or
 * another adapter, runs it and answers the output, its commitment, its elapsed time and its adapter, signed with
 * its ML-DSA key.
 */

export const CHALLENGE_VERSION = 1
/** Square matmul sizes a challenge may ask for: big enough that compute outweighs the round trip, small enough for a CPU. */
export const CHALLENGE_MIN_SIZE = 32
export const CHALLENGE_MAX_SIZE = 512
/** @default 256: 33.5 MFLOP, ~90 ms on the TypeScript CPU reference here, so the round trip's overhead stays small. */
export const DEFAULT_CHALLENGE_SIZE = 256
export const SEED_BYTES = 32
const COMMITMENT_BYTES = 32
const REQUEST_BYTES = 1 + SEED_BYTES + 2
/** Largest answer: the key, the adapter and profile, the output of the largest size and the signature. */
export const MAX_ANSWER_BYTES = 1 + 1 + ML_DSA65_PUBLIC_KEY_BYTES + 4 + ADAPTER_MAX_BYTES + 1 + 4 + PROFILE_MAX_BYTES +
  COMMITMENT_BYTES + 4 + 4 + CHALLENGE_MAX_SIZE * CHALLENGE_MAX_SIZE * 4 + ML_DSA65_SIGNATURE_BYTES
export const MAX_REQUEST_BYTES = REQUEST_BYTES

const INPUT_DOMAIN = utf8.encode('HARMONY/market/challenge-inputs/v1')
const ID_DOMAIN = utf8.encode('HARMONY/market/challenge/v1')
const ANSWER_TAG = 'HARMONY/market/challenge-answer/v1'

export interface ChallengeRequest {
  seed: Uint8Array
  size: number
}

/** Why a provider did not answer: busy with another challenge, or not selling compute. */
export const CHALLENGE_REFUSALS = ['busy', 'not-provider', 'rate-limited'] as const
export type ChallengeRefusal = (typeof CHALLENGE_REFUSALS)[number]

export interface ChallengeAnswer {
  publicKey: Uint8Array
  adapter: string
  executor: CapabilityRecord['executor']
  profile: string
  /** `resultCommitment` of the output. */
  commitment: Uint8Array
  /** The provider's own time for the run, ms (reported; the challenger trusts only its own clock). */
  elapsedMs: number
  size: number
  /** The size × size f32 output, little-endian. */
  output: Uint8Array
  signature: Uint8Array
}

export type ChallengeReply = { ok: true, answer: ChallengeAnswer } | { ok: false, refusal: ChallengeRefusal }

export function encodeChallengeRequest (request: ChallengeRequest): Uint8Array {
  return new Writer(REQUEST_BYTES).u8(CHALLENGE_VERSION).fixed(request.seed, SEED_BYTES).u16(request.size).finish()
}

/** Strict decode; throws ENCODING_INVALID on anything else (wrong version, size out of bounds, trailing bytes). */
export function decodeChallengeRequest (bytes: Uint8Array): ChallengeRequest {
  const r = new Reader(bytes, 'challenge request')
  if (r.u8() !== CHALLENGE_VERSION) r.fail('unknown version')
  const seed = r.fixed(SEED_BYTES)
  const size = r.u16()
  if (size < CHALLENGE_MIN_SIZE || size > CHALLENGE_MAX_SIZE) r.fail(`size ${size} is outside ${CHALLENGE_MIN_SIZE}..${CHALLENGE_MAX_SIZE}`)
  r.end()
  return { seed, size }
}

export function encodeChallengeReply (reply: ChallengeReply): Uint8Array {
  const w = new Writer(reply.ok ? reply.answer.output.length + 6000 : 4).u8(CHALLENGE_VERSION)
  if (!reply.ok) return w.u8(1 + CHALLENGE_REFUSALS.indexOf(reply.refusal)).finish()
  const a = reply.answer
  w.u8(0).fixed(a.publicKey, ML_DSA65_PUBLIC_KEY_BYTES).varBytes(utf8.encode(a.adapter)).u8(a.executor === 'cpu' ? 0 : 1)
    .varBytes(utf8.encode(a.profile)).fixed(a.commitment, COMMITMENT_BYTES).u32(a.elapsedMs).u16(a.size).varBytes(a.output)
    .fixed(a.signature, ML_DSA65_SIGNATURE_BYTES)
  return w.finish()
}

export function decodeChallengeReply (bytes: Uint8Array): ChallengeReply {
  const r = new Reader(bytes, 'challenge answer')
  if (r.u8() !== CHALLENGE_VERSION) r.fail('unknown version')
  const status = r.u8()
  if (status !== 0) {
    const refusal = CHALLENGE_REFUSALS[status - 1]
    if (refusal === undefined) r.fail(`unknown refusal ${status}`)
    r.end()
    return { ok: false, refusal }
  }
  const publicKey = r.fixed(ML_DSA65_PUBLIC_KEY_BYTES)
  const adapter = decodeText(r, ADAPTER_MAX_BYTES)
  const executorCode = r.u8()
  if (executorCode > 1) r.fail(`unknown executor ${executorCode}`)
  const profile = decodeText(r, PROFILE_MAX_BYTES)
  const commitment = r.fixed(COMMITMENT_BYTES)
  const elapsedMs = r.u32()
  const size = r.u16()
  if (size < CHALLENGE_MIN_SIZE || size > CHALLENGE_MAX_SIZE) r.fail(`size ${size} is outside ${CHALLENGE_MIN_SIZE}..${CHALLENGE_MAX_SIZE}`)
  const output = r.varBytes(size * size * 4)
  if (output.length !== size * size * 4) r.fail(`output of ${output.length} bytes for size ${size}`)
  const signature = r.fixed(ML_DSA65_SIGNATURE_BYTES)
  r.end()
  return { ok: true, answer: { publicKey, adapter, executor: executorCode === 0 ? 'cpu' : 'webgpu', profile, commitment, elapsedMs, size, output, signature } }
}

function decodeText (r: Reader, max: number): string {
  const bytes = r.varBytes(max)
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
  if (utf8.encode(text).length !== bytes.length) r.fail('text is not UTF-8')
  return text
}

/**
 * What the provider signs (domain-separated per chain): the seed and size it was asked, its key, adapter,
 * executor and profile, the commitment and its elapsed time. The output itself is bound through the commitment.
 */
export function answerSigningMessage (chainId: string, seed: Uint8Array, answer: Omit<ChallengeAnswer, 'signature' | 'output'>): Uint8Array {
  const body = new Writer(2300).fixed(seed, SEED_BYTES).u16(answer.size).fixed(answer.publicKey, ML_DSA65_PUBLIC_KEY_BYTES)
    .varBytes(utf8.encode(answer.adapter)).u8(answer.executor === 'cpu' ? 0 : 1).varBytes(utf8.encode(answer.profile))
    .fixed(answer.commitment, COMMITMENT_BYTES).u32(answer.elapsedMs).finish()
  return signingMessage(ANSWER_TAG, chainId, body)
}

/** The challenge's id on the ledger (`provider-attest`): binds the seed, the size and the provider. */
export function challengeId (seed: Uint8Array, size: number, providerPublicKey: Uint8Array): Uint8Array {
  return sha256(ID_DOMAIN, seed, new Writer(2).u16(size).finish(), providerPublicKey)
}

/**
 * The matmul task of a challenge: A (size × size) and B (size × size) from an AES-256-CTR keystream keyed by
 * sha256(domain ‖ seed ‖ provider public key ‖ adapter). Each value is a 24-bit fraction in [-1, 1), exact in f32,
 * so every side derives the same bytes.
 */
export function challengeTask (seed: Uint8Array, size: number, providerPublicKey: Uint8Array, adapter: string): ComputeTask {
  const key = sha256(INPUT_DOMAIN, seed, providerPublicKey, utf8.encode(adapter))
  const count = size * size
  const cipher = createCipheriv('aes-256-ctr', key, new Uint8Array(16))
  const stream = cipher.update(new Uint8Array(count * 2 * 4))
  // little-endian words whatever the platform, so every machine derives the same values
  const words = new DataView(stream.buffer, stream.byteOffset, stream.byteLength)
  const values = (offset: number): Float32Array => {
    const out = new Float32Array(count)
    for (let i = 0; i < count; i++) out[i] = (words.getUint32(4 * (offset + i), true) >>> 8) / (1 << 23) - 1
    return out
  }
  const a = f32Blob(values(0))
  const b = f32Blob(values(count))
  return { spec: { v: 1, kernel: 'matmul', params: { m: size, k: size, n: size }, inputs: [a.id, b.id] }, inputs: [a, b] }
}

/** Floating-point work of a challenge of `size`. */
export function challengeFlops (size: number): number {
  return 2 * size * size * size
}

export function challengeIdHex (seed: Uint8Array, size: number, providerPublicKey: Uint8Array): string {
  return toHex(challengeId(seed, size, providerPublicKey))
}
