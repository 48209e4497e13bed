/** The one secret-file writer and the key files built on it (src/core/keys). */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { KeyFileError } from '../../src/core/errors.ts'
import { loadOrCreateEvmKey } from '../../src/core/keys/evm-key.ts'
import { createKeystore } from '../../src/core/keys/keystore.ts'
import { isSecretFileExists, writeSecretFile } from '../../src/core/keys/secret-file.ts'
import { createWalletFile, loadWalletFile } from '../../src/core/keys/wallet.ts'

let dir: string
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'harmony-keys-')) })
test.after.always(async () => { await rm(dir, { recursive: true, force: true }) })

test('a secret file is written 0600 in a 0700 folder and never replaced', async t => {
  const path = join(dir, 'secret', 'a.key')
  await writeSecretFile(path, new Uint8Array([1, 2, 3]))
  t.is((await stat(path)).mode & 0o777, 0o600)
  t.is((await stat(join(dir, 'secret'))).mode & 0o777, 0o700)
  const err = await t.throwsAsync(writeSecretFile(path, new Uint8Array([9])))
  t.true(isSecretFileExists(err))
  t.deepEqual(new Uint8Array(await readFile(path)), new Uint8Array([1, 2, 3]))
  // no temp file is left behind, whether the write won or lost
  t.deepEqual(await readdir(join(dir, 'secret')), ['a.key'])
})

test('concurrent writers of one key: exactly one wins', async t => {
  const path = join(dir, 'race.key')
  const results = await Promise.allSettled([1, 2, 3, 4].map(async i => { await writeSecretFile(path, new Uint8Array([i])) }))
  t.is(results.filter(r => r.status === 'fulfilled').length, 1)
  t.true(results.every(r => r.status === 'fulfilled' || isSecretFileExists(r.reason)))
})

test('concurrent first loads of an EVM key agree on one key', async t => {
  const path = join(dir, 'keys', 'evm.key')
  const wallets = await Promise.all([1, 2, 3].map(async () => await loadOrCreateEvmKey(path)))
  t.is(new Set(wallets.map(w => w.address)).size, 1)
  t.is((await loadOrCreateEvmKey(path)).address, wallets[0].address)
  t.is((await stat(path)).mode & 0o777, 0o600)
})

test('wallet files: created once, loaded back, refused with KEY_FILE_INVALID', async t => {
  const path = join(dir, 'wallets', 'alice.json')
  const key = await createWalletFile(path)
  t.is((await loadWalletFile(path)).address, key.address)
  t.is((await stat(path)).mode & 0o777, 0o600)
  const again = await t.throwsAsync(createWalletFile(path), { instanceOf: KeyFileError, message: /already exists/ })
  t.is(again?.code, 'KEY_FILE_INVALID')
  const bad = join(dir, 'bad.json')
  await writeFile(bad, '{"version":2}')
  t.is((await t.throwsAsync(loadWalletFile(bad), { instanceOf: KeyFileError }))?.code, 'KEY_FILE_INVALID')
  t.is((await t.throwsAsync(loadWalletFile(join(dir, 'missing.json')), { instanceOf: KeyFileError }))?.code, 'KEY_FILE_INVALID')
})

test('a keystore given to the plain wallet loader is refused with how to open it', async t => {
  const path = join(dir, 'wallets', 'keystore.json')
  await createKeystore(path, 'correct horse', { scrypt: { n: 1024 } })
  const err = await t.throwsAsync(loadWalletFile(path), { instanceOf: KeyFileError })
  t.is(err?.code, 'KEY_FILE_INVALID')
  t.regex(err?.message ?? '', /is an encrypted keystore .*open it with loadKeystore\(path, password\)/)
})
