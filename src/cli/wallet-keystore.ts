/**
 * The keystore commands: new, import, export, change-password, migrate. Passwords come from a file or a prompt,
 * never from argv (src/cli/password.ts); the recovery phrase is printed by `new` once and by `export` on request.
 */
import { join } from 'node:path'
import { errorMessage } from '../core/errors.ts'
import type { Argv, CommandModule } from 'yargs'
import { toHex } from '../core/codec.ts'
import { changeKeystorePassword, createKeystore, decryptSeed, DEFAULT_SCRYPT, KeystoreError, migratePlainWallet, readWalletFile, type KeystoreOptions } from '../core/keys/keystore.ts'
import { KEYS_DIR, LEDGER_KEY_FILE } from '../core/keys/files.ts'
import { phraseFromSeed, seedFromPhrase } from '../core/keys/seed-keys.ts'
import { resolveDatadir } from '../node/datadir.ts'
import { output } from './common.ts'
import { newPassword, passwordFileOption, passwordFilePath, promptSecret, readSecretText, requirePassword } from './password.ts'
import { walletOption, walletPath, type WalletArgs } from './wallet-common.ts'

interface KeystoreArgs extends WalletArgs {
  'scrypt-n'?: number
}
interface ImportArgs extends KeystoreArgs { 'phrase-file'?: string }
interface ChangeArgs extends KeystoreArgs { 'new-password-file'?: string }
interface MigrateArgs extends KeystoreArgs { identity: boolean }

// a phrase file holds 24 words; anything larger is the wrong file
const MAX_PHRASE_FILE_BYTES = 4096

function keystoreOptions<T> (y: Argv<T>): Argv<T & KeystoreArgs> {
  return y
    .option('wallet', walletOption)
    .option('password-file', passwordFileOption)
    // for tests and benchmarks only: a lower scrypt cost makes the file faster to open, and to brute-force
    .option('scrypt-n', { type: 'number', hidden: true, describe: `scrypt N of the file written (default ${DEFAULT_SCRYPT.n})` }) as Argv<T & KeystoreArgs>
}

function kdf (args: KeystoreArgs): KeystoreOptions {
  return args['scrypt-n'] === undefined ? {} : { scrypt: { n: args['scrypt-n'] } }
}

function showCreated (json: boolean | undefined, result: { address: string, file: string, mlkemPublicKey: string, phrase?: string }): void {
  output(json, result, () => [
    `address           ${result.address}`,
    `keystore          ${result.file} (encrypted: scrypt + AES-256-GCM)`,
    `ML-KEM-768 key    ${result.mlkemPublicKey.slice(0, 16)}… (what requesters encrypt private payloads to)`,
    ...(result.phrase === undefined
      ? []
      : ['', 'recovery phrase (shown only now; write it down and keep it offline: anyone with it owns the wallet):', '', `  ${result.phrase}`, ''])
  ].join('\n'))
}

const newCommand: CommandModule<WalletArgs, KeystoreArgs> = {
  command: 'new',
  describe: 'Create a wallet: an encrypted keystore (ML-DSA-65 + ML-KEM-768) and its 24-word recovery phrase',
  builder: keystoreOptions,
  handler: async (args) => {
    const file = walletPath(args)
    const password = await newPassword(passwordFilePath(args), `the new wallet ${file}`)
    const { keys, phrase } = await createKeystore(file, password, kdf(args))
    showCreated(args.json, { address: keys.address, file, mlkemPublicKey: toHex(keys.mlkem.publicKey), phrase })
  }
}

async function readPhrase (args: ImportArgs): Promise<string> {
  const path = args['phrase-file']
  if (path !== undefined) {
    try {
      return await readSecretText(path, MAX_PHRASE_FILE_BYTES)
    } catch (err) {
      throw new KeystoreError('PHRASE_FILE_INVALID', `cannot read phrase file ${path}: ${errorMessage(err)}`, { path })
    }
  }
  const typed = await promptSecret('recovery phrase (24 words): ')
  if (typed === undefined) throw new Error('no terminal to type the recovery phrase on; pass --phrase-file FILE')
  return typed
}

const importCommand: CommandModule<WalletArgs, ImportArgs> = {
  command: 'import',
  describe: 'Restore a wallet from its recovery phrase into a new encrypted keystore',
  builder: (y) => keystoreOptions(y)
    .option('phrase-file', { type: 'string', describe: 'file holding the 24 words (default: typed at a prompt; never on the command line)' }) as never,
  handler: async (args) => {
    const seed = seedFromPhrase(await readPhrase(args))
    const file = walletPath(args)
    const password = await newPassword(passwordFilePath(args), `the restored wallet ${file}`)
    const { keys } = await createKeystore(file, password, { ...kdf(args), seed })
    showCreated(args.json, { address: keys.address, file, mlkemPublicKey: toHex(keys.mlkem.publicKey) })
  }
}

const exportCommand: CommandModule<WalletArgs, KeystoreArgs> = {
  command: 'export',
  describe: 'Print the wallet\'s recovery phrase, after its password',
  builder: keystoreOptions,
  handler: async (args) => {
    const wallet = await readWalletFile(walletPath(args))
    if (wallet.kind === 'plain') throw new Error(`wallet ${wallet.path} holds its seed in plain text; encrypt it first with 'harmonyd wallet migrate --wallet ${wallet.path}'`)
    const seed = await decryptSeed(wallet.file, await requirePassword(args, `wallet ${wallet.path}`), wallet.path)
    const phrase = phraseFromSeed(seed)
    output(args.json, { address: wallet.address, phrase }, () => `recovery phrase of ${wallet.address} (anyone with it owns the wallet):\n\n  ${phrase}\n`)
  }
}

const changePasswordCommand: CommandModule<WalletArgs, ChangeArgs> = {
  command: 'change-password',
  describe: 'Re-encrypt the keystore under a new password; the keys and address stay',
  builder: (y) => keystoreOptions(y)
    .option('new-password-file', { type: 'string', describe: 'file whose first line is the new password (default: typed twice at a prompt)' }) as never,
  handler: async (args) => {
    const file = walletPath(args)
    const oldPassword = await requirePassword(args, `wallet ${file}`)
    const password = await newPassword(args['new-password-file'], `wallet ${file}`)
    const keys = await changeKeystorePassword(file, oldPassword, password, kdf(args))
    output(args.json, { address: keys.address, file }, () => `password of ${file} changed; address ${keys.address}`)
  }
}

const migrateCommand: CommandModule<WalletArgs, MigrateArgs> = {
  command: 'migrate',
  describe: 'Encrypt a plain wallet file in place (or, with --identity, the node\'s ledger key); the address stays',
  builder: (y) => keystoreOptions(y)
    .option('identity', { type: 'boolean', default: false, describe: 'migrate <datadir>/keys/ledger.key: the node then starts with --password-file' }) as never,
  handler: async (args) => {
    const file = args.identity ? join(resolveDatadir(args.datadir), KEYS_DIR, LEDGER_KEY_FILE) : walletPath(args)
    const password = await newPassword(passwordFilePath(args), file)
    const keys = await migratePlainWallet(file, password, kdf(args))
    output(args.json, { address: keys.address, file, mlkemPublicKey: toHex(keys.mlkem.publicKey) },
      () => `encrypted ${file}; address ${keys.address} unchanged${args.identity ? '\nstart the node with --password-file FILE' : ''}\nsee its recovery phrase with 'harmonyd wallet export${args.identity ? ` --wallet ${file}` : ''}'`)
  }
}

export const walletKeystoreCommands = [newCommand, importCommand, exportCommand, changePasswordCommand, migrateCommand]
