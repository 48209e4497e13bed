/** The encrypted keystore (src/core/keys/keystore.ts) and the seed → keys derivation (seed-keys.ts). */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import fc from 'fast-check'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import { toHex } from '../../src/core/codec.ts'
import { sign, verify } from '../../src/core/crypto.ts'
import { createIdentity, loadIdentity } from '../../src/core/keys/identity.ts'
import {
  KeystoreError, changeKeystorePassword, createKeystore, loadKeystore, migratePlainWallet, parseKeystore, readWalletFile,
  type KeystoreFile
} from '../../src/core/keys/keystore.ts'
import { PhraseError, keysFromSeed, phraseFromSeed, seedFromPhrase } from '../../src/core/keys/seed-keys.ts'
import { createWalletFile } from '../../src/core/keys/wallet.ts'

// tests only: 2^10 instead of the default 2^17, through the explicit option
const FAST = { scrypt: { n: 1024 } }
const PASSWORD = 'correct horse battery'

let dir: string
let count = 0
const fresh = (): string => join(dir, `k${++count}.json`)
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'harmony-keystore-')) })
test.after.always(async () => { await rm(dir, { recursive: true, force: true }) })

async function readJson (path: string): Promise<KeystoreFile> {
  return JSON.parse(await readFile(path, 'utf8')) as KeystoreFile
}

async function codeOf (promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (err) {
    return err instanceof KeystoreError || err instanceof PhraseError ? err.code : `untyped: ${String(err)}`
  }
}

test('round trip: a keystore opens with its password to the keys it was made with; no secret is in the clear', async t => {
  const path = fresh()
  const { keys, phrase } = await createKeystore(path, PASSWORD, FAST)
  t.is((await stat(path)).mode & 0o777, 0o600)
  const loaded = await loadKeystore(path, PASSWORD)
  t.is(loaded.address, keys.address)
  t.deepEqual(loaded.mldsa, keys.mldsa)
  t.deepEqual(loaded.mlkem, keys.mlkem)
  t.is(phrase.split(' ').length, 24)
  const text = await readFile(path, 'utf8')
  const seedHex = toHex(seedFromPhrase(phrase))
  t.false(text.includes(seedHex), 'the seed is not stored in the clear')
  const json = JSON.parse(text) as KeystoreFile
  t.is(json.version, 2)
  t.deepEqual(json.crypto.kdfparams.n, 1024)
  t.is(json.address, keys.address)
  t.is(json.mlkemPublicKey, toHex(keys.mlkem.publicKey))
  // the unlocked key signs: a signature verifies against the address's public key
  const msg = new TextEncoder().encode('hello')
  t.true(verify(sign(msg, loaded.mldsa.secretKey), msg, keys.mldsa.publicKey))
  t.is(await codeOf(createKeystore(path, PASSWORD, FAST)), 'KEYSTORE_EXISTS')
})

test('a wrong password is refused with KEYSTORE_PASSWORD_WRONG, and the message says the phrase restores', async t => {
  const path = fresh()
  await createKeystore(path, PASSWORD, FAST)
  const err = await t.throwsAsync(loadKeystore(path, 'correct horse battery!'), { instanceOf: KeystoreError })
  t.is(err?.code, 'KEYSTORE_PASSWORD_WRONG')
  t.regex(err?.message ?? '', /wrong password.*recovery phrase.*harmonyd wallet import/)
  t.is(await codeOf(createKeystore(fresh(), 'short', FAST)), 'PASSWORD_TOO_SHORT')
})

test('tampered ciphertext, tag, address or ML-KEM key is refused as KEYSTORE_CORRUPT', async t => {
  const path = fresh()
  const { keys } = await createKeystore(path, PASSWORD, FAST)
  const other = keysFromSeed(new Uint8Array(32).fill(7))
  const original = await readJson(path)
  const flip = (h: string): string => (h[0] === '0' ? '1' : '0') + h.slice(1)
  const tampered: Array<[string, KeystoreFile]> = [
    ['ciphertext', { ...original, crypto: { ...original.crypto, ciphertext: flip(original.crypto.ciphertext) } }],
    ['tag', { ...original, crypto: { ...original.crypto, tag: flip(original.crypto.tag) } }],
    ['iv', { ...original, crypto: { ...original.crypto, iv: flip(original.crypto.iv) } }],
    ['address', { ...original, address: other.address }],
    ['mlkemPublicKey', { ...original, mlkemPublicKey: toHex(other.mlkem.publicKey) }]
  ]
  for (const [what, file] of tampered) {
    const p = fresh()
    await writeFile(p, JSON.stringify(file))
    t.is(await codeOf(loadKeystore(p, PASSWORD)), 'KEYSTORE_CORRUPT', what)
  }
  // the untouched file still opens
  t.is((await loadKeystore(path, PASSWORD)).address, keys.address)
})

test('the recovery phrase restores the same address and ML-KEM public key', async t => {
  const path = fresh()
  const { keys, phrase } = await createKeystore(path, PASSWORD, FAST)
  // spacing and case do not matter when a person types it back
  const seed = seedFromPhrase(`  ${phrase.toUpperCase().split(' ').join('   ')}\n`)
  const restoredPath = fresh()
  const restored = await createKeystore(restoredPath, 'another password', { ...FAST, seed })
  t.is(restored.keys.address, keys.address)
  t.deepEqual(restored.keys.mlkem.publicKey, keys.mlkem.publicKey)
  t.is(restored.phrase, phrase)
  t.is((await loadKeystore(restoredPath, 'another password')).address, keys.address)

  const words = phrase.split(' ')
  t.is(await codeOf(Promise.resolve().then(() => seedFromPhrase(words.slice(0, 23).join(' ')))), 'PHRASE_INVALID')
  t.is(await codeOf(Promise.resolve().then(() => seedFromPhrase([...words.slice(0, 23), 'notaword'].join(' ')))), 'PHRASE_INVALID')
  // two words swapped: every word is valid, the checksum is not (a distinct pair of words, so the swap changes it)
  const i = words.findIndex(w => w !== words[0])
  const swapped = [...words]
  ;[swapped[0], swapped[i]] = [swapped[i], swapped[0]]
  const swappedCode = await codeOf(Promise.resolve().then(() => seedFromPhrase(swapped.join(' '))))
  // a swap keeps the checksum with probability 1/256; then it must at least decode to another seed
  if (swappedCode === undefined) t.notDeepEqual(seedFromPhrase(swapped.join(' ')), seed)
  else t.is(swappedCode, 'PHRASE_INVALID')
})

test('keys from a seed: ML-DSA-65 from the seed itself (the plain wallets\' derivation), ML-KEM-768 that decapsulates', t => {
  const seed = new Uint8Array(32).map((_, i) => i)
  const a = keysFromSeed(seed)
  const b = keysFromSeed(seed)
  t.deepEqual(a, b)
  t.not(keysFromSeed(new Uint8Array(32)).address, a.address)
  t.is(a.mlkem.publicKey.length, 1184)
  t.is(a.mlkem.secretKey.length, 2400)
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(a.mlkem.publicKey)
  t.deepEqual(ml_kem768.decapsulate(cipherText, a.mlkem.secretKey), sharedSecret)
  t.is(phraseFromSeed(seed).split(' ').length, 24)
  t.deepEqual(seedFromPhrase(phraseFromSeed(seed)), seed)
  t.throws(() => keysFromSeed(new Uint8Array(31)), { instanceOf: RangeError })
})

test('an old plain wallet file migrates in place and keeps its address', async t => {
  const path = fresh()
  const plain = await createWalletFile(path)
  const before = await readWalletFile(path)
  t.is(before.kind, 'plain')
  t.is(before.address, plain.address)
  t.is(await codeOf(loadKeystore(path, PASSWORD)), 'KEYSTORE_INVALID', 'a plain file is not opened as a keystore')

  const migrated = await migratePlainWallet(path, PASSWORD, FAST)
  t.is(migrated.address, plain.address)
  t.deepEqual(migrated.mldsa.publicKey, plain.publicKey)
  const after = await readWalletFile(path)
  t.is(after.kind, 'keystore')
  t.is(after.address, plain.address)
  t.false((await readFile(path, 'utf8')).includes('"seed"'))
  t.is((await stat(path)).mode & 0o777, 0o600)
  t.is((await loadKeystore(path, PASSWORD)).address, plain.address)
  t.is(await codeOf(migratePlainWallet(path, PASSWORD, FAST)), 'KEYSTORE_ALREADY_ENCRYPTED')
})

test('a node\'s ledger key: created encrypted or migrated from the raw seed, it needs its password to load', async t => {
  const plainDir = join(dir, `node${++count}`)
  const identity = await createIdentity(plainDir)
  const ledgerPath = join(plainDir, 'keys', 'ledger.key')
  const keys = await migratePlainWallet(ledgerPath, PASSWORD, FAST)
  t.deepEqual(keys.mldsa.publicKey, identity.ledgerKey.publicKey)
  t.is(await codeOf(loadIdentity(plainDir)), 'KEYSTORE_LOCKED')
  t.is(await codeOf(loadIdentity(plainDir, { password: 'not the password' })), 'KEYSTORE_PASSWORD_WRONG')
  const loaded = await loadIdentity(plainDir, { password: PASSWORD })
  t.deepEqual(loaded.ledgerKey.publicKey, identity.ledgerKey.publicKey)
  t.is(loaded.peerId.toString(), identity.peerId.toString())

  const encryptedDir = join(dir, `node${++count}`)
  const created = await createIdentity(encryptedDir, { password: PASSWORD, ...FAST })
  t.is((await readWalletFile(join(encryptedDir, 'keys', 'ledger.key'))).kind, 'keystore')
  t.deepEqual((await loadIdentity(encryptedDir, { password: PASSWORD })).ledgerKey.secretKey, created.ledgerKey.secretKey)
})

test('change-password keeps the keys; the old password no longer opens the file', async t => {
  const path = fresh()
  const { keys } = await createKeystore(path, PASSWORD, FAST)
  const before = await readJson(path)
  t.is(await codeOf(changeKeystorePassword(path, 'wrong password', 'new password 1', FAST)), 'KEYSTORE_PASSWORD_WRONG')
  t.deepEqual(await readJson(path), before, 'a refused change leaves the file as it was')
  const changed = await changeKeystorePassword(path, PASSWORD, 'new password 1', FAST)
  t.is(changed.address, keys.address)
  const after = await readJson(path)
  t.not(after.crypto.kdfparams.salt, before.crypto.kdfparams.salt)
  t.is(await codeOf(loadKeystore(path, PASSWORD)), 'KEYSTORE_PASSWORD_WRONG')
  const loaded = await loadKeystore(path, 'new password 1')
  t.deepEqual(loaded.mldsa.secretKey, keys.mldsa.secretKey)
  t.deepEqual(loaded.mlkem.secretKey, keys.mlkem.secretKey)
})

test('malformed keystores are refused before any work: bounds on scrypt params, sizes, fields', async t => {
  const path = fresh()
  await createKeystore(path, PASSWORD, FAST)
  const good = await readJson(path)
  const bad: Array<[string, unknown]> = [
    ['scrypt n of 2^30 (GiBs of memory)', { ...good, crypto: { ...good.crypto, kdfparams: { ...good.crypto.kdfparams, n: 2 ** 30 } } }],
    ['scrypt n not a power of two', { ...good, crypto: { ...good.crypto, kdfparams: { ...good.crypto.kdfparams, n: 3000 } } }],
    ['a lower n than any writer uses', { ...good, crypto: { ...good.crypto, kdfparams: { ...good.crypto.kdfparams, n: 16 } } }],
    ['an unknown cipher', { ...good, crypto: { ...good.crypto, cipher: 'aes-128-ctr' } }],
    ['a future version', { ...good, version: 3 }],
    ['an extra field', { ...good, seed: '00' }],
    ['a short tag', { ...good, crypto: { ...good.crypto, tag: 'abcd' } }],
    ['null', null]
  ]
  for (const [what, value] of bad) {
    const p = fresh()
    await writeFile(p, JSON.stringify(value))
    t.is(await codeOf(loadKeystore(p, PASSWORD)), 'KEYSTORE_INVALID', what)
  }
  const huge = fresh()
  await writeFile(huge, ' '.repeat(100_000))
  t.is(await codeOf(readWalletFile(huge)), 'KEYSTORE_INVALID')
  t.is(await codeOf(readWalletFile(join(dir, 'missing.json'))), 'KEYSTORE_INVALID')
})

test('property: any JSON in a wallet file is read or refused with a typed error, never a crash', async t => {
  await fc.assert(fc.asyncProperty(fc.jsonValue(), async (value) => {
    const p = fresh()
    await writeFile(p, JSON.stringify(value) ?? 'null')
    const code = await codeOf(readWalletFile(p))
    return code === undefined || code === 'KEYSTORE_INVALID'
  }), { numRuns: 200 })
  t.throws(() => parseKeystore('{'), { instanceOf: KeystoreError })
})

test('property: one changed character of a keystore is refused with a typed error or changes nothing', async t => {
  const path = fresh()
  const { keys } = await createKeystore(path, PASSWORD, FAST)
  const text = await readFile(path, 'utf8')
  await fc.assert(fc.asyncProperty(fc.nat({ max: text.length - 1 }), fc.constantFrom(...'0123456789abcdef" {}:,x'), async (at, ch) => {
    const p = fresh()
    await writeFile(p, text.slice(0, at) + ch + text.slice(at + 1))
    try {
      return (await loadKeystore(p, PASSWORD)).address === keys.address
    } catch (err) {
      return err instanceof KeystoreError && ['KEYSTORE_INVALID', 'KEYSTORE_CORRUPT', 'KEYSTORE_PASSWORD_WRONG'].includes(err.code)
    }
  }), { numRuns: 150 })
  t.pass()
})
