/**
 * Our noise ChaCha20-Poly1305 (session keys as KeyObjects) against the library's own: each opens what the other
 * seals, whole or in chunks, below and above the size where OpenSSL takes over; a changed byte is refused.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseCrypto } from '../../src/network/noise-crypto.ts'

const ad = Uint8Array.of(1, 2, 3)
// noise's typings name its own copy of uint8arraylist (2.x); the lists are the same at run time
type Sealed = Parameters<typeof noiseCrypto.chaCha20Poly1305Decrypt>[0]
const list = (...chunks: Uint8Array[]): Sealed => new Uint8ArrayList(...chunks) as unknown as Sealed
const nonce = (n: number): Uint8Array => { const b = new Uint8Array(12); new DataView(b.buffer).setUint32(4, n, true); return b }

for (const size of [0, 100, 1199, 1200, 5000, 65519]) {
  test(`sealed by one, opened by the other: ${size} bytes`, t => {
    const k = randomBytes(32)
    for (let n = 0; n < 3; n++) {
      const text = randomBytes(size)
      const ours = noiseCrypto.chaCha20Poly1305Encrypt(text, nonce(n), ad, k).subarray()
      const theirs = defaultCrypto.chaCha20Poly1305Encrypt(text, nonce(n), ad, k).subarray()
      t.deepEqual(Uint8Array.from(ours), Uint8Array.from(theirs))
      t.deepEqual(Uint8Array.from(defaultCrypto.chaCha20Poly1305Decrypt(ours, nonce(n), ad, k).subarray()), Uint8Array.from(text))
      // noise's frame decoder hands over a list of chunks
      const split = list(theirs.subarray(0, theirs.length >> 1), theirs.subarray(theirs.length >> 1))
      t.deepEqual(Uint8Array.from(noiseCrypto.chaCha20Poly1305Decrypt(split, nonce(n), ad, k).subarray()), Uint8Array.from(text))
      t.deepEqual(Uint8Array.from(noiseCrypto.chaCha20Poly1305Encrypt(list(text.subarray(0, 7), text.subarray(7)), nonce(n), ad, k).subarray()), Uint8Array.from(theirs))
    }
  })
}

test('a changed byte, another nonce or another key is refused', t => {
  const k = randomBytes(32)
  const sealed = Uint8Array.from(noiseCrypto.chaCha20Poly1305Encrypt(randomBytes(4000), nonce(0), ad, k).subarray())
  const changed = sealed.slice()
  changed[100] ^= 1
  t.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(changed, nonce(0), ad, k))
  t.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(1), ad, k))
  t.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(0), ad, randomBytes(32)))
  t.is(noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(0), ad, k).byteLength, 4000)
})
