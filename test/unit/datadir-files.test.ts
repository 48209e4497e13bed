/**
 * Every file a node or the CLI reads from its datadir or a command-line path, handed something that is not the
 * file: a symlink to /dev/zero (endless), not JSON, not UTF-8. Each reader refuses it with its own typed error naming
 * the file, after reading at most its bound, or (capability.json, the RPC URL file) ignores it as documented.
 */
import test from 'ava'
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError, KeyFileError, StartupError } from '../../src/core/errors.ts'
import { readConfigFile } from '../../src/node/config.ts'
import { CAPABILITY_FILE, readCapability } from '../../src/node/capability.ts'
import { PID_FILE, RPC_URL_FILE, runningRpcUrl } from '../../src/node/datadir.ts'
import { KEYS_DIR, LEDGER_KEY_FILE } from '../../src/core/keys/files.ts'
import { createIdentity, loadIdentity } from '../../src/core/keys/identity.ts'
import { KeystoreError, readWalletFile } from '../../src/core/keys/keystore.ts'
import { loadWalletFile } from '../../src/core/keys/wallet.ts'
import { readJwtSecret } from '../../src/core/keys/jwt-secret.ts'
import { loadOrCreateEvmKey } from '../../src/core/keys/evm-key.ts'
import { ApiKeyError, ApiKeyStore } from '../../src/rpc/api-keys.ts'
import { readContractsFile } from '../../src/chain/contracts-file.ts'
import { ChainError } from '../../src/chain/errors.ts'
import { loadGenesis } from '../../src/dag/index.ts'
import { DagError } from '../../src/dag/errors.ts'
import { readPasswordFile } from '../../src/cli/password.ts'
import { tempDir } from '../helpers/harmonyd.ts'

/** A path in a fresh folder that is a symlink to /dev/zero. */
async function endless (dir: string, name: string): Promise<string> {
  const path = join(dir, name)
  await mkdir(join(path, '..'), { recursive: true })
  await symlink('/dev/zero', path)
  return path
}

test('the config file: /dev/zero is refused as CONFIG_UNREADABLE naming the file; a BOM is allowed', async (t) => {
  await using d = await tempDir()
  const zero = await endless(d.path, 'config.yaml')
  const err = await t.throwsAsync(readConfigFile(zero), { instanceOf: ConfigError })
  t.is(err?.code, 'CONFIG_UNREADABLE')
  t.regex(err?.message ?? '', /config file .*config\.yaml: it is larger than \d+ bytes/)
  const bom = join(d.path, 'bom.yaml')
  await writeFile(bom, '\uFEFFp2p-port: 9001\r\n')
  t.deepEqual(await readConfigFile(bom), { 'p2p-port': 9001 })
})

test('capability.json that is not JSON, or endless, is ignored rather than thrown as a SyntaxError', async (t) => {
  await using d = await tempDir()
  await writeFile(join(d.path, CAPABILITY_FILE), '{"gflops": 12')
  t.is(await readCapability(d.path), undefined)
  await using z = await tempDir()
  await endless(z.path, CAPABILITY_FILE)
  t.is(await readCapability(z.path), undefined)
})

test('the pid and RPC URL files: /dev/zero means no daemon to call, read within a bound', async (t) => {
  await using d = await tempDir()
  await endless(d.path, PID_FILE)
  t.is(await runningRpcUrl(d.path), undefined)
  await using u = await tempDir()
  await writeFile(join(u.path, PID_FILE), `${process.pid}\n`)
  await endless(u.path, RPC_URL_FILE)
  t.is(await runningRpcUrl(u.path), undefined)
})

test('key files: an endless ledger key, wallet, JWT secret or EVM key is refused with the reader\'s typed error', async (t) => {
  await using d = await tempDir()
  await createIdentity(d.path)
  const ledger = join(d.path, KEYS_DIR, LEDGER_KEY_FILE)
  await rm(ledger)
  await symlink('/dev/zero', ledger)
  t.is((await t.throwsAsync(loadIdentity(d.path), { instanceOf: StartupError }))?.code, 'KEY_INVALID')
  const wallet = await endless(d.path, 'wallet.json')
  t.is((await t.throwsAsync(readWalletFile(wallet), { instanceOf: KeystoreError }))?.code, 'KEYSTORE_INVALID')
  t.is((await t.throwsAsync(loadWalletFile(wallet), { instanceOf: KeyFileError }))?.code, 'KEY_FILE_INVALID')
  t.is((await t.throwsAsync(readJwtSecret(await endless(d.path, 'jwt.hex')), { instanceOf: KeyFileError }))?.code, 'KEY_FILE_INVALID')
  t.is((await t.throwsAsync(loadOrCreateEvmKey(await endless(d.path, 'evm.key')), { instanceOf: KeyFileError }))?.code, 'EVM_KEY_INVALID')
})

test('the API key file: an endless one is refused as API_KEYS_FILE_INVALID (its size of 0 passed the old check)', async (t) => {
  await using d = await tempDir()
  const store = new ApiKeyStore(await endless(d.path, 'api-keys.json'))
  const err = await t.throwsAsync(store.list(), { instanceOf: ApiKeyError })
  t.is(err?.code, 'API_KEYS_FILE_INVALID')
  t.regex(err?.message ?? '', /api-keys\.json: it is larger than/)
})

test('the contracts and genesis files: endless ones are refused with their typed errors', async (t) => {
  await using d = await tempDir()
  t.is((await t.throwsAsync(readContractsFile(await endless(d.path, 'contracts.json')), { instanceOf: ChainError }))?.code, 'CONTRACTS_FILE_INVALID')
  t.is((await t.throwsAsync(loadGenesis(await endless(d.path, 'genesis.json')), { instanceOf: DagError }))?.code, 'GENESIS_INVALID')
})

test('a password file: first line without CRLF or BOM; /dev/zero, not UTF-8, empty or missing are PASSWORD_FILE_INVALID', async (t) => {
  await using d = await tempDir()
  const file = join(d.path, 'pw')
  await writeFile(file, '\uFEFFcorrect horse \r\nsecond line\r\n', { mode: 0o600 })
  t.is(await readPasswordFile(file), 'correct horse ', 'spaces are part of the password')
  await writeFile(file, Buffer.from([0x70, 0xe4, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x0a]))
  const notUtf8 = await t.throwsAsync(readPasswordFile(file), { instanceOf: KeystoreError })
  t.is(notUtf8?.code, 'PASSWORD_FILE_INVALID')
  t.regex(notUtf8?.message ?? '', /not UTF-8/)
  await writeFile(file, '\n')
  t.is((await t.throwsAsync(readPasswordFile(file), { instanceOf: KeystoreError }))?.code, 'PASSWORD_FILE_INVALID')
  t.is((await t.throwsAsync(readPasswordFile(join(d.path, 'missing')), { instanceOf: KeystoreError }))?.code, 'PASSWORD_FILE_INVALID')
  t.is((await t.throwsAsync(readPasswordFile(await endless(d.path, 'zero')), { instanceOf: KeystoreError }))?.code, 'PASSWORD_FILE_INVALID')
})
