import { resolveDatadir, runningRpcUrl } from '../node/datadir.ts'
import { join } from 'node:path'
import { HarmonyClient } from '../sdk/client.ts'
import { JWT_SECRET_FILE, readJwtSecret } from '../core/keys/jwt-secret.ts'

export interface GlobalArgs {
  datadir?: string
  json?: boolean
}

/** Prints a value for a person, or one JSON document with --json. */
export function output (json: boolean | undefined, value: unknown, human: () => string): void {
  if (json === true) process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v)}\n`)
  else process.stdout.write(`${human()}\n`)
}

export interface RpcArgs extends GlobalArgs {
  rpc?: string
  'rpc-token'?: string
}

export const rpcOption = { type: 'string', describe: 'RPC URL of the node (default: from the datadir config)' } as const

/** The global `--rpc-token` flag (cli/index.ts): the bearer token for admin and spending methods. */
export const rpcTokenOption = { type: 'string', describe: 'bearer token (API key or JWT) for admin and spending RPC methods [env HARMONY_RPC_TOKEN]', global: true } as const

/**
 * The RPC client of the local node: --rpc, else the datadir's configured rpc host/port. Admin and spending methods
 * need credentials: --rpc-token (or HARMONY_RPC_TOKEN) when given, else the datadir's JWT secret when there is one;
 * with --rpc only when the datadir was named (flag or HARMONY_DATADIR), so a token of the default datadir never
 * goes to another host.
 */
export async function clientFor (args: RpcArgs): Promise<HarmonyClient> {
  const token = args['rpc-token'] ?? process.env.HARMONY_RPC_TOKEN
  const named = args.datadir !== undefined || process.env.HARMONY_DATADIR !== undefined
  const secret = token === undefined && (args.rpc === undefined || named) ? await readJwtSecret(join(resolveDatadir(args.datadir), JWT_SECRET_FILE)) : undefined
  const auth = token !== undefined && token !== '' ? { token } : secret === undefined ? {} : { auth: { jwtSecret: secret } }
  return new HarmonyClient({ url: await rpcUrlFor(args), ...auth })
}

/**
 * The RPC URL a client command talks to: `--rpc`; else the URL the daemon running on the datadir wrote there (a
 * devnet's nodes take their ports as flags); else the datadir's node settings (file and environment). Only the
 * datadir is read from the command's arguments: its own flags are not node settings (`task submit --executor any`
 * names the executor a task requires, not the node's `executor`, and was refused as one).
 */
export async function rpcUrlFor (args: Pick<RpcArgs, 'rpc' | 'datadir'>): Promise<string> {
  if (args.rpc !== undefined) return args.rpc
  const running = await runningRpcUrl(resolveDatadir(args.datadir))
  if (running !== undefined) return running
  // the node settings (yaml, multiaddr, the provider's policy: ~300 modules) load only on this fallback
  const { configFromArgs } = await import('./config-flags.ts')
  const { config } = await configFromArgs({ datadir: args.datadir })
  return `http://${config['rpc-host']}:${config['rpc-port']}`
}

/** The ledger chain id a node reports in node_info (signed into every transaction). */
export async function ledgerChainId (client: HarmonyClient): Promise<string> {
  const { chainId } = await client.call('node_info')
  if (chainId === undefined) throw new Error('the node reports no ledger chain id in node_info; is its ledger running?')
  return chainId
}
