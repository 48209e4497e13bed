import yargs from 'yargs'
import { HarmonyError, errorMessage } from '../core/errors.ts'
import { VERSION } from '../core/version.ts'
import { initCommand } from './init.ts'
import { startCommand } from './start.ts'
import { devnetCommand } from './devnet.ts'
import { statusCommand, peersCommand } from './status.ts'
import { benchCommand } from './bench.ts'
import { walletCommand } from './wallet.ts'
import { rpcTokenOption, type GlobalArgs } from './common.ts'
import { webhookCommand } from './webhook.ts'
import { rpcCommand } from './rpc-keys.ts'
import { taskCommand } from './task.ts'
import { providerCommand } from './provider.ts'

/** Exit codes: 1 generic failure, 2 bad usage or configuration, 3 a start-up condition the operator must fix. */
function exitCodeFor (err: unknown): number {
  if (err instanceof HarmonyError) {
    if (err.name === 'ConfigError') return 2
    if (err.name === 'StartupError') return 3
  }
  return 1
}

export async function runCli (argv: string[]): Promise<void> {
  const cli = yargs(argv)
    // flags are read by their kebab-case names only; the camelCase copies yargs adds by default made strict mode
    // list an unknown flag twice ('Unknown arguments: bogus-flag, bogusFlag')
    .parserConfiguration({ 'camel-case-expansion': false })
    .scriptName('harmonyd')
    .version(VERSION)
    .option('datadir', { type: 'string', describe: 'data directory [env HARMONY_DATADIR, default ~/.harmony]', global: true })
    .option('json', { type: 'boolean', describe: 'machine-readable output', global: true })
    .command(initCommand)
    .command(startCommand)
    .command(devnetCommand as never)
    .command(statusCommand)
    .command(peersCommand)
    .command(benchCommand)
    .command(walletCommand as never)
    .command(webhookCommand as never)
    .option('rpc-token', rpcTokenOption)
    .command(rpcCommand)
    .command(taskCommand as never)
    .command(providerCommand as never)
    .demandCommand(1, 'name a command; see --help')
    .strict()
    .help()
    .alias('h', 'help')
    .wrap(Math.min(120, process.stdout.columns ?? 120))
    .fail((msg, err, y) => {
      if (err !== undefined && err !== null) throw err
      process.stderr.write(`${y.help === undefined ? '' : ''}error: ${msg}\nrun 'harmonyd --help' for usage\n`)
      process.exit(2)
    })
  try {
    await cli.parseAsync()
  } catch (err) {
    process.stderr.write(`harmonyd: ${errorMessage(err)}\n`)
    process.exit(exitCodeFor(err))
  }
}

export type { GlobalArgs }
