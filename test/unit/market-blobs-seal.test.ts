/**
 * Sealing: ML-KEM-768 + HKDF-SHA256 + AES-256-GCM envelopes. Only the recipient's secret key opens one, for the
 * context it was sealed to; any changed byte is detected; malformed input is refused with a typed code.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { BlobError, generateKemKeyPair, KEM_PUBLIC_KEY_BYTES, KEM_SECRET_KEY_BYTES, open, seal, SEAL_OVERHEAD_BYTES } from '../../src/market/blobs/index.ts'
import { nativeKemAvailable } from '../../src/market/blobs/seal.ts'

function code (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return err instanceof BlobError ? err.code : `untyped: ${String(err)}` }
  return undefined
}

const alice = generateKemKeyPair()
const mallory = generateKemKeyPair()

test('round trip for empty, small and multi-chunk payloads; the envelope is the plaintext plus a fixed overhead', t => {
  t.is(alice.publicKey.length, KEM_PUBLIC_KEY_BYTES)
  t.is(alice.secretKey.length, KEM_SECRET_KEY_BYTES)
  for (const size of [0, 1, 1000, 600 * 1024]) {
    const plaintext = new Uint8Array(randomBytes(size))
    const envelope = seal(plaintext, alice.publicKey)
    t.is(envelope.length, size + SEAL_OVERHEAD_BYTES)
    t.deepEqual(open(envelope, alice.secretKey), plaintext)
  }
})

test('two seals of one payload differ (fresh encapsulation and nonce) and both open', t => {
  const plaintext = new TextEncoder().encode('same input twice')
  const a = seal(plaintext, alice.publicKey)
  const b = seal(plaintext, alice.publicKey)
  t.notDeepEqual(a, b)
  t.deepEqual(open(a, alice.secretKey), plaintext)
  t.deepEqual(open(b, alice.secretKey), plaintext)
})

test('another key cannot open it: SEAL_OPEN_FAILED', t => {
  const envelope = seal(new TextEncoder().encode('for alice only'), alice.publicKey)
  t.is(code(() => open(envelope, mallory.secretKey)), 'SEAL_OPEN_FAILED')
})

test('a context binds the envelope: the same bytes do not open under another context or none', t => {
  const plaintext = new TextEncoder().encode('task input')
  const context = new TextEncoder().encode('task-1')
  const envelope = seal(plaintext, alice.publicKey, { context })
  t.deepEqual(open(envelope, alice.secretKey, { context }), plaintext)
  t.is(code(() => open(envelope, alice.secretKey, { context: new TextEncoder().encode('task-2') })), 'SEAL_OPEN_FAILED')
  t.is(code(() => open(envelope, alice.secretKey)), 'SEAL_OPEN_FAILED')
})

test('property: flipping any bit of an envelope is detected (KEM ciphertext, nonce, tag or body)', t => {
  const plaintext = new Uint8Array(randomBytes(300))
  const envelope = seal(plaintext, alice.publicKey)
  fc.assert(fc.property(fc.integer({ min: 1, max: envelope.length - 1 }), fc.integer({ min: 0, max: 7 }), (index, bit) => {
    const tampered = envelope.slice()
    tampered[index] ^= 1 << bit
    return code(() => open(tampered, alice.secretKey)) === 'SEAL_OPEN_FAILED'
  }), { numRuns: 200 })
  // and the regions by name, once each
  for (const index of [1, 1 + 1087, 1 + 1088, 1 + 1088 + 12, 1 + 1088 + 12 + 16, envelope.length - 1]) {
    const tampered = envelope.slice()
    tampered[index] ^= 0x80
    t.is(code(() => open(tampered, alice.secretKey)), 'SEAL_OPEN_FAILED', `byte ${index}`)
  }
})

test('malformed input is SEAL_INVALID: unknown version, truncated envelope, wrong key lengths, bad seed', t => {
  const envelope = seal(new Uint8Array(10), alice.publicKey)
  const v2 = envelope.slice()
  v2[0] = 2
  t.is(code(() => open(v2, alice.secretKey)), 'SEAL_INVALID')
  t.is(code(() => open(envelope.subarray(0, SEAL_OVERHEAD_BYTES - 1), alice.secretKey)), 'SEAL_INVALID')
  t.is(code(() => open(envelope, alice.secretKey.subarray(1))), 'SEAL_INVALID')
  t.is(code(() => seal(new Uint8Array(1), alice.publicKey.subarray(1))), 'SEAL_INVALID')
  // a key of the right length whose coefficients are not below q fails FIPS 203's encapsulation-key check
  t.is(code(() => seal(new Uint8Array(1), new Uint8Array(KEM_PUBLIC_KEY_BYTES).fill(0xff))), 'SEAL_INVALID')
  t.is(code(() => generateKemKeyPair(new Uint8Array(32))), 'SEAL_INVALID')
  const seed = new Uint8Array(64).fill(7)
  t.deepEqual(generateKemKeyPair(seed).publicKey, generateKemKeyPair(seed).publicKey)
})

test('on Node >= 24.7 sealing encapsulates through node:crypto, and what it seals opens with noble (the round trips above)', t => {
  const [major, minor] = process.versions.node.split('.').map(Number)
  t.is(nativeKemAvailable(), major > 24 || (major === 24 && minor >= 7))
})
