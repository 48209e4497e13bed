import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'

/**
 * Noise's crypto (the library's default, which picks WebAssembly ChaCha20-Poly1305 below 1,200 bytes and OpenSSL's
 * above) with one change: OpenSSL gets each session key as a `KeyObject`, made once, not as raw bytes per message.
 * Node's `createCipheriv` given bytes checks whether they are a KeyObject by throwing and catching internally, a
 * stack trace per call: measured here 14.3 µs per cipher with bytes against 4.6 µs with a KeyObject, and every noise
 * message of 1,200 bytes or more (vertex gossip, sync answers) makes one (docs/decisions.md, s19).
 */
const NATIVE_FROM_BYTES = 1200
const CHACHA = 'chacha20-poly1305'
const TAG_BYTES = 16

// A noise CipherState keeps its key in one Uint8Array for the session and never changes it in place: the key object
// lives as long as that array does.
const keyObjects = new WeakMap<Uint8Array, KeyObject>()

function keyObject (k: Uint8Array): KeyObject {
  let key = keyObjects.get(k)
  if (key === undefined) {
    key = createSecretKey(k)
    keyObjects.set(k, key)
  }
  return key
}

type Encrypt = ICryptoInterface['chaCha20Poly1305Encrypt']
type Decrypt = ICryptoInterface['chaCha20Poly1305Decrypt']

// A list of chunks (what noise's frame decoder hands over) is joined first: one chunk is a view, several a copy of at
// most one noise message (64 KiB), against a cipher update per chunk in the library's version.
const encrypt: Encrypt = (plaintext, nonce, ad, k) => {
  if (plaintext.byteLength < NATIVE_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
  const text = plaintext.subarray()
  const cipher = createCipheriv(CHACHA, keyObject(k), nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(ad, { plaintextLength: text.byteLength })
  const updated = cipher.update(text)
  const final = cipher.final()
  const tag = cipher.getAuthTag()
  return Buffer.concat([updated, final, tag], updated.byteLength + final.byteLength + tag.byteLength)
}

const decrypt: Decrypt = (ciphertext, nonce, ad, k, dst) => {
  if (ciphertext.byteLength < NATIVE_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  const sealed = ciphertext.subarray()
  const textLength = sealed.byteLength - TAG_BYTES
  const decipher = createDecipheriv(CHACHA, keyObject(k), nonce, { authTagLength: TAG_BYTES })
  decipher.setAAD(ad, { plaintextLength: textLength })
  decipher.setAuthTag(sealed.subarray(textLength))
  const output = decipher.update(sealed.subarray(0, textLength))
  const final = decipher.final()
  return final.byteLength > 0 ? Buffer.concat([output, final], output.byteLength + final.byteLength) : output
}

export const noiseCrypto: ICryptoInterface = { ...defaultCrypto, chaCha20Poly1305Encrypt: encrypt, chaCha20Poly1305Decrypt: decrypt }
