import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CommandModule } from 'yargs'
import { CONFIG_FILE_NAME, readFlags, renderConfigFile } from '../node/config.ts'
import { isInitialized, resolveDatadir } from '../node/datadir.ts'
import { StartupError } from '../core/errors.ts'
import { createIdentity, ledgerKeyFingerprint, type IdentityOptions } from '../core/keys/identity.ts'
import { newPassword, passwordFileOption, passwordFilePath, type PasswordArgs } from './password.ts'
import { output, type GlobalArgs } from './common.ts'
import { withConfigFlags } from './config-flags.ts'
import { createWalletFile } from '../core/keys/wallet.ts'
import { JWT_SECRET_FILE, loadOrCreateJwtSecret } from '../core/keys/jwt-secret.ts'
import { generateGenesis } from '../dag/genesis.ts'
import { GENESIS_FILE, writeGenesisFile } from '../node/genesis-file.ts'

/** Where init puts the faucet wallet of a solo genesis. */
export const FAUCET_WALLET_FILE = join('keys', 'faucet.json')

export interface InitResult {
  datadir: string
  peerId: string
  ledgerKey: string
  configFile: string
  /** Set when init wrote a single-validator genesis (no --genesis given). */
  faucetWallet?: string
}

/** Creates a datadir with fresh keys and a commented config file holding the given settings. */
export async function initDatadir (datadirFlag: string | undefined, settings: Record<string, unknown>, keys: IdentityOptions = {}): Promise<InitResult> {
  const datadir = resolveDatadir(datadirFlag)
  if (await isInitialized(datadir)) {
    throw new StartupError('DATADIR_INVALID', `datadir ${datadir} is already initialised; it keeps its keys (use another --datadir for a new node)`, { datadir })
  }
  const config = readFlags(settings)
  await mkdir(datadir, { recursive: true, mode: 0o700 })
  const configFile = join(datadir, CONFIG_FILE_NAME)
  await writeFile(configFile, renderConfigFile(config), { flag: 'wx' })
  const identity = await createIdentity(datadir, keys)
  // the RPC's JWT secret: the CLI signs its admin and spending calls with it
  await loadOrCreateJwtSecret(join(datadir, JWT_SECRET_FILE))
  const result: InitResult = { datadir, peerId: identity.peerId.toString(), ledgerKey: ledgerKeyFingerprint(identity.ledgerKey.publicKey), configFile }
  if (config.genesis === undefined) {
    // no network given: a single-validator ledger of this node, with a funded faucet wallet to drive it
    const faucetWallet = join(datadir, FAUCET_WALLET_FILE)
    const faucet = await createWalletFile(faucetWallet)
    const genesis = generateGenesis({ chainId: `harmony-solo-${result.ledgerKey}`, validatorPublicKeys: [identity.ledgerKey.publicKey], faucetPublicKey: faucet.publicKey })
    await writeGenesisFile(join(datadir, GENESIS_FILE), genesis)
    result.faucetWallet = faucetWallet
  }
  return result
}

interface InitArgs extends GlobalArgs, PasswordArgs {
  'encrypt-key': boolean
  'scrypt-n'?: number
}

export const initCommand: CommandModule<GlobalArgs, InitArgs> = {
  command: 'init',
  describe: 'Create a datadir: keys (0600) and a commented config file',
  builder: (y) => withConfigFlags(y)
    .option('encrypt-key', { type: 'boolean', default: false, describe: 'store the ledger key encrypted (password from --password-file or a prompt); start then needs --password-file' })
    .option('password-file', passwordFileOption)
    .option('scrypt-n', { type: 'number', hidden: true }) as never,
  handler: async (args) => {
    const encrypt = args['encrypt-key'] || args['password-file'] !== undefined
    const keys: IdentityOptions = encrypt ? { password: await newPassword(passwordFilePath(args), 'the ledger key'), ...(args['scrypt-n'] === undefined ? {} : { scrypt: { n: args['scrypt-n'] } }) } : {}
    const result = await initDatadir(args.datadir, args as Record<string, unknown>, keys)
    output(args.json, result, () => [
      `initialised ${result.datadir}`,
      `  peer id     ${result.peerId}`,
      `  ledger key  ${result.ledgerKey} (ML-DSA-65${encrypt ? ', encrypted: start with --password-file' : ''})`,
      `  config      ${result.configFile}`,
      ...(result.faucetWallet === undefined ? [] : [`  genesis     single-validator ledger; faucet wallet ${result.faucetWallet}`])
    ].join('\n'))
  }
}
