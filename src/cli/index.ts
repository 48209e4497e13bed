import yargs, { type CommandModule } from 'yargs'
import { HarmonyError, errorMessage } from '../core/errors.ts'
import { VERSION } from '../core/version.ts'
import { RpcClientError } from '../sdk/errors.ts'
import { rpcTokenOption, type GlobalArgs } from './common.ts'

type AnyCommand = CommandModule<any, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Each top-level command's module, loaded only when that command runs: the daemon's import graph (libp2p, the
 * ledger, ethers: ~1,700 modules) cost every `harmonyd wallet address` or `task status` about a second of start-up.
 * `--help`, no command, or a name that is none of these loads them all, so the listing and strict mode's
 * "Unknown argument" stay what yargs makes of the whole set.
 */
const COMMANDS: Record<string, () => Promise<AnyCommand[]>> = {
  init: async () => [(await import('./init.ts')).initCommand],
  start: async () => [(await import('./start.ts')).startCommand],
  devnet: async () => [(await import('./devnet.ts')).devnetCommand],
  status: async () => [(await import('./status.ts')).statusCommand],
  peers: async () => [(await import('./status.ts')).peersCommand],
  bench: async () => [(await import('./bench.ts')).benchCommand],
  wallet: async () => [(await import('./wallet.ts')).walletCommand],
  webhook: async () => [(await import('./webhook.ts')).webhookCommand],
  rpc: async () => [(await import('./rpc-keys.ts')).rpcCommand],
  task: async () => [(await import('./task.ts')).taskCommand],
  provider: async () => [(await import('./provider.ts')).providerCommand]
}

/** Global flags that take a value, so the token after them is not the command's name. */
const GLOBAL_VALUE_FLAGS = new Set(['--datadir', '--rpc-token'])

/** The top-level command `argv` names (its first positional), or undefined when none is given before `--`. */
export function commandName (argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') return undefined
    if (arg.startsWith('-')) {
      if (GLOBAL_VALUE_FLAGS.has(arg)) i++
      continue
    }
    return arg
  }
  return undefined
}

async function commandsFor (argv: readonly string[]): Promise<AnyCommand[]> {
  const name = commandName(argv)
  const load = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (load !== undefined) return await load()
  if (name === undefined && argv.includes('--version')) return []
  return (await Promise.all(Object.values(COMMANDS).map(async l => await l()))).flat()
}

/**
 * The line a failed command prints: the error's message, and for a node's refusal its typed reason (`data.reason`:
 * INSUFFICIENT_BALANCE, NONCE_TOO_LOW, BID_LATE...), which scripts can match where the sentence may change.
 */
export function failureLine (err: unknown): string {
  const data = err instanceof RpcClientError ? err.data as { reason?: unknown, rule?: unknown } | undefined : undefined
  const code = (x: unknown): x is string => typeof x === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(x)
  if (!code(data?.reason)) return `harmonyd: ${errorMessage(err)}`
  // TX_REFUSED names the rule of the transaction's kind that refused it (the market's BID_LATE...)
  return `harmonyd: ${errorMessage(err)} (${data.reason}${code(data.rule) ? `: ${data.rule}` : ''})`
}

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
    .option('rpc-token', rpcTokenOption)
    .command(await commandsFor(argv))
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
    process.stderr.write(`${failureLine(err)}\n`)
    process.exit(exitCodeFor(err))
  }
}

export type { GlobalArgs }
