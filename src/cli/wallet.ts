import { join } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { createWalletFile, loadWalletFile } from '../core/keys/wallet.ts'
import { formatAgc, isAddress, parseAgc, signTransfer } from '../dag/index.ts'
import { resolveDatadir } from '../node/datadir.ts'
import { clientFor, output, rpcOption, type RpcArgs } from './common.ts'
import { walletChainCommands } from './wallet-chain.ts'

export interface WalletArgs extends RpcArgs {
  wallet?: string
}

interface SendArgs extends WalletArgs {
  to: string
  amount: string
  fee: string
  wait: boolean
}

interface TxStatus { id: string, status: 'pending' | 'final' | 'rejected', reason: string | null }

const WAIT_TIMEOUT_MS = 120_000

export function walletPath (args: WalletArgs): string {
  return args.wallet ?? join(resolveDatadir(args.datadir), 'wallet.json')
}

function walletOptions<T> (y: Argv<T>): Argv<T & WalletArgs> {
  return y
    .option('wallet', { type: 'string', describe: 'wallet file (default <datadir>/wallet.json)' })
    .option('rpc', rpcOption) as Argv<T & WalletArgs>
}

/** Polls tx_get until the transaction is final or rejected. */
export async function waitForTx (client: Awaited<ReturnType<typeof clientFor>>, id: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<TxStatus> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const tx = await client.call<TxStatus | null>('tx_get', [id])
    if (tx !== null && tx.status !== 'pending') return tx
    if (Date.now() > deadline) throw new Error(`transaction ${id} still pending after ${timeoutMs / 1000} s`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

const newCommand: CommandModule<WalletArgs, WalletArgs> = {
  command: 'new',
  describe: 'Create a wallet: an ML-DSA-65 key in a 0600 file',
  builder: walletOptions,
  handler: async (args) => {
    const path = walletPath(args)
    const key = await createWalletFile(path)
    output(args.json, { address: key.address, file: path }, () => `address ${key.address}\nwallet  ${path}`)
  }
}

const addressCommand: CommandModule<WalletArgs, WalletArgs> = {
  command: 'address',
  describe: 'Print the wallet address',
  builder: walletOptions,
  handler: async (args) => {
    const key = await loadWalletFile(walletPath(args))
    output(args.json, { address: key.address }, () => key.address)
  }
}

const balanceCommand: CommandModule<WalletArgs, WalletArgs & { address?: string }> = {
  command: 'balance [address]',
  describe: 'Balance and nonce of an address (default: the wallet) on the node',
  builder: (y) => walletOptions(y).positional('address', { type: 'string', describe: 'hmy1... address' }) as never,
  handler: async (args) => {
    const address = args.address ?? (await loadWalletFile(walletPath(args))).address
    if (!isAddress(address)) throw new Error(`not a Harmony address: ${address}`)
    const client = await clientFor(args)
    const [balance, nonce] = await Promise.all([
      client.call<string>('account_getBalance', [address]),
      client.call<string>('account_getNonce', [address])
    ])
    output(args.json, { address, balance, nonce }, () => `${formatAgc(BigInt(balance))} AGC  (nonce ${nonce})  ${address}`)
  }
}

const sendCommand: CommandModule<WalletArgs, SendArgs> = {
  command: 'send',
  describe: 'Sign a transfer with the wallet and submit it to the node',
  builder: (y) => walletOptions(y)
    .option('to', { type: 'string', demandOption: true, describe: 'recipient hmy1... address' })
    .option('amount', { type: 'string', demandOption: true, describe: 'amount in AGC, e.g. 1.5' })
    .option('fee', { type: 'string', default: '1000', describe: 'fee in base units' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait until the transfer is final or rejected' }) as never,
  handler: async (args) => {
    if (!isAddress(args.to)) throw new Error(`--to is not a Harmony address: ${args.to}`)
    if (!/^[0-9]{1,30}$/.test(args.fee)) throw new Error(`--fee must be an integer number of base units, got ${args.fee}`)
    const key = await loadWalletFile(walletPath(args))
    const client = await clientFor(args)
    const [info, nonce] = await Promise.all([
      client.call<{ chainId: string }>('node_info', []),
      client.call<string>('account_getNonce', [key.address])
    ])
    const signed = signTransfer(key, { chainId: info.chainId, to: args.to, amount: parseAgc(args.amount), nonce: BigInt(nonce), fee: BigInt(args.fee) })
    const id = await client.call<string>('account_sendTransaction', [signed])
    if (!args.wait) {
      output(args.json, { id, status: 'pending' }, () => `submitted ${id}`)
      return
    }
    const tx = await waitForTx(client, id)
    output(args.json, tx, () => `${tx.status} ${id}${tx.reason === null ? '' : ` (${tx.reason})`}`)
    if (tx.status === 'rejected') process.exitCode = 1
  }
}

export const walletCommand: CommandModule<RpcArgs, RpcArgs> = {
  command: 'wallet <command>',
  describe: 'Ledger wallet: keys, balances, transfers',
  builder: (y) => y
    .command(newCommand as never)
    .command(addressCommand as never)
    .command(balanceCommand as never)
    .command(sendCommand as never)
    .command(walletChainCommands[0] as never)
    .command(walletChainCommands[1] as never)
    .demandCommand(1),
  handler: () => {}
}
