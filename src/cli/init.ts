import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CommandModule } from 'yargs'
import { CONFIG_FILE_NAME, readFlags, renderConfigFile } from '../node/config.ts'
import { isInitialized, resolveDatadir } from '../node/datadir.ts'
import { StartupError } from '../node/errors.ts'
import { createIdentity, ledgerKeyFingerprint } from '../node/identity.ts'
import { withConfigFlags, output, type GlobalArgs } from './common.ts'

export interface InitResult {
  datadir: string
  peerId: string
  ledgerKey: string
  configFile: string
}

/** Creates a datadir with fresh keys and a commented config file holding the given settings. */
export async function initDatadir (datadirFlag: string | undefined, settings: Record<string, unknown>): Promise<InitResult> {
  const datadir = resolveDatadir(datadirFlag)
  if (await isInitialized(datadir)) {
    throw new StartupError('DATADIR_INVALID', `datadir ${datadir} is already initialised; it keeps its keys (use another --datadir for a new node)`, { datadir })
  }
  const config = readFlags(settings)
  await mkdir(datadir, { recursive: true, mode: 0o700 })
  const configFile = join(datadir, CONFIG_FILE_NAME)
  await writeFile(configFile, renderConfigFile(config), { flag: 'wx' })
  const identity = await createIdentity(datadir)
  return { datadir, peerId: identity.peerId.toString(), ledgerKey: ledgerKeyFingerprint(identity.ledgerKey.publicKey), configFile }
}

export const initCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'init',
  describe: 'Create a datadir: keys (0600) and a commented config file',
  builder: (y) => withConfigFlags(y),
  handler: async (args) => {
    const result = await initDatadir(args.datadir, args as Record<string, unknown>)
    output(args.json, result, () => [
      `initialised ${result.datadir}`,
      `  peer id     ${result.peerId}`,
      `  ledger key  ${result.ledgerKey} (ML-DSA-65)`,
      `  config      ${result.configFile}`
    ].join('\n'))
  }
}
