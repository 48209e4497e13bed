/** The keystore through the real `harmonyd` process: wallet commands, and a validator that starts from a password file. */
import test from 'ava'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createWalletFile } from '../../src/core/keys/wallet.ts'
import { rpc, runHarmonyd, startHarmonyd, tempDir } from '../helpers/harmonyd.ts'

// tests only: the hidden --scrypt-n keeps each unlock in milliseconds
const FAST = ['--scrypt-n', '1024']

async function secretFile (path: string, text: string): Promise<string> {
  await writeFile(path, text)
  await chmod(path, 0o600)
  return path
}

interface Created { address: string, file: string, mlkemPublicKey: string, phrase?: string }

test('wallet new, address, export, import and change-password through the CLI; passwords never on argv', async (t) => {
  await using d = await tempDir()
  const pw = await secretFile(join(d.path, 'pw'), 'correct horse battery\n')
  const pw2 = await secretFile(join(d.path, 'pw2'), 'a second, longer password\n')
  const bad = await secretFile(join(d.path, 'bad'), 'not the password\n')
  const wallet = join(d.path, 'w.json')

  const created = await runHarmonyd(['wallet', 'new', '--wallet', wallet, '--password-file', pw, ...FAST, '--json'])
  t.is(created.code, 0, created.stderr)
  const w = JSON.parse(created.stdout) as Created
  t.regex(w.address, /^hmy1[0-9a-f]{48}$/)
  const phrase = w.phrase ?? ''
  t.is(phrase.split(' ').length, 24)

  const phraseFile = await secretFile(join(d.path, 'phrase'), `${phrase}\n`)
  // independent commands run at once: each is a whole process start
  const [address, locked, wrong, exported, imported] = await Promise.all([
    // the address is readable without the password
    runHarmonyd(['wallet', 'address', '--wallet', wallet, '--json']),
    // signing needs the password; with no file and no terminal the CLI says how to give one (before any RPC)
    runHarmonyd(['wallet', 'send', '--wallet', wallet, '--to', w.address, '--amount', '1', '--rpc', 'http://127.0.0.1:9']),
    runHarmonyd(['wallet', 'export', '--wallet', wallet, '--password-file', bad]),
    runHarmonyd(['wallet', 'export', '--wallet', wallet, '--password-file', pw, '--json']),
    // the phrase restores the same address and ML-KEM key into a new keystore with its own password
    runHarmonyd(['wallet', 'import', '--wallet', join(d.path, 'restored.json'), '--phrase-file', phraseFile, '--password-file', pw2, ...FAST, '--json'])
  ])
  t.is(address.code, 0, address.stderr)
  t.is((JSON.parse(address.stdout) as { address: string }).address, w.address)
  t.not(locked.code, 0)
  t.regex(locked.stderr, /is encrypted; unlock it with --password-file/)
  t.not(wrong.code, 0)
  t.regex(wrong.stderr, /wrong password .*recovery phrase/)
  t.false((wrong.stdout + wrong.stderr).includes(phrase.split(' ').slice(0, 2).join(' ')))
  t.is(exported.code, 0, exported.stderr)
  t.is((JSON.parse(exported.stdout) as { phrase: string }).phrase, phrase)
  t.is(imported.code, 0, imported.stderr)
  const restored = JSON.parse(imported.stdout) as Created
  t.is(restored.address, w.address)
  t.is(restored.mlkemPublicKey, w.mlkemPublicKey)
  t.is(restored.phrase, undefined, 'import does not print the phrase back')

  const changed = await runHarmonyd(['wallet', 'change-password', '--wallet', wallet, '--password-file', pw, '--new-password-file', pw2, ...FAST, '--json'])
  t.is(changed.code, 0, changed.stderr)
  const [oldRefused, afterChange] = await Promise.all([
    runHarmonyd(['wallet', 'export', '--wallet', wallet, '--password-file', pw]),
    runHarmonyd(['wallet', 'export', '--wallet', wallet, '--password-file', pw2, '--json'])
  ])
  t.not(oldRefused.code, 0)
  t.is(afterChange.code, 0, afterChange.stderr)
  t.is((JSON.parse(afterChange.stdout) as { address: string }).address, w.address)
})

test('a plain wallet written before keystores is still read, with a warning, and migrates in place keeping its address', async (t) => {
  await using d = await tempDir()
  const pw = await secretFile(join(d.path, 'pw'), 'correct horse battery\n')
  const plainPath = join(d.path, 'plain.json')
  const plain = await createWalletFile(plainPath)
  const plainAddress = await runHarmonyd(['wallet', 'address', '--wallet', plainPath])
  t.is(plainAddress.code, 0, plainAddress.stderr)
  t.is(plainAddress.stdout.trim(), plain.address)
  t.regex(plainAddress.stderr, /plain text; encrypt it with 'harmonyd wallet migrate/)
  const migrated = await runHarmonyd(['wallet', 'migrate', '--wallet', plainPath, '--password-file', pw, ...FAST, '--json'])
  t.is(migrated.code, 0, migrated.stderr)
  t.is((JSON.parse(migrated.stdout) as { address: string }).address, plain.address)
  const afterMigrate = await runHarmonyd(['wallet', 'address', '--wallet', plainPath])
  t.is(afterMigrate.stdout.trim(), plain.address)
  t.is(afterMigrate.stderr, '')
  const again = await runHarmonyd(['wallet', 'migrate', '--wallet', plainPath, '--password-file', pw, ...FAST])
  t.not(again.code, 0)
  t.regex(again.stderr, /already encrypted/)
})

test.serial('a validator with an encrypted ledger key starts unattended from --password-file, and not without it', async (t) => {
  await using d = await tempDir()
  const pw = await secretFile(join(d.path, 'pw'), 'validator password\n')
  const datadir = join(d.path, 'node')
  const init = await runHarmonyd(['init', '--datadir', datadir, '--network', 'devnet', '--encrypt-key', '--password-file', pw, ...FAST, '--json'])
  t.is(init.code, 0, init.stderr)
  const { ledgerKey } = JSON.parse(init.stdout) as { ledgerKey: string }
  const args = ['--datadir', datadir, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--rpc-port', '0', '--log-level', 'warn']

  const error = await t.throwsAsync(startHarmonyd(args))
  t.regex(error?.message ?? '', /ledger key .* is encrypted; unlock it with --password-file/)
  const wrong = await t.throwsAsync(startHarmonyd([...args, '--password-file', await secretFile(join(d.path, 'bad'), 'wrong password\n')]))
  t.regex(wrong?.message ?? '', /wrong password/)

  await using node = await startHarmonyd([...args, '--password-file', pw])
  const info = await rpc<{ ledgerKey: string }>(node.rpc, 'node_info')
  t.is(info.ledgerKey, ledgerKey)
})
