/** What the wallet commands share: the wallet file path and flags, and waiting for a transaction to settle. */
import { join } from 'node:path'
import type { Argv } from 'yargs'
import { resolveDatadir } from '../node/datadir.ts'
import type { HarmonyClient, RpcResultOf } from '../sdk/index.ts'
import { rpcOption, type RpcArgs } from './common.ts'

export interface WalletArgs extends RpcArgs {
  wallet?: string
}

type TxStatus = NonNullable<RpcResultOf<'tx_get'>>

const WAIT_TIMEOUT_MS = 120_000

export function walletPath (args: WalletArgs): string {
  return args.wallet ?? join(resolveDatadir(args.datadir), 'wallet.json')
}

export function walletOptions<T> (y: Argv<T>): Argv<T & WalletArgs> {
  return y
    .option('wallet', { type: 'string', describe: 'wallet file (default <datadir>/wallet.json)' })
    .option('rpc', rpcOption) as Argv<T & WalletArgs>
}

/** Polls tx_get until the transaction is final or rejected. */
export async function waitForTx (client: HarmonyClient, id: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<TxStatus> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const tx = await client.call('tx_get', [id])
    if (tx !== null && tx.status !== 'pending') return tx
    if (Date.now() > deadline) throw new Error(`transaction ${id} still pending after ${timeoutMs / 1000} s`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

