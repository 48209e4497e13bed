import type { CommandModule } from 'yargs'
import { createWalletFile, loadWalletFile } from '../core/keys/wallet.ts'
import { formatAgc, isAddress, parseAgc, signTransfer } from '../dag/index.ts'
import { clientFor, ledgerChainId, output, type RpcArgs } from './common.ts'
import { walletChainCommands } from './wallet-chain.ts'
import { waitForTx, walletOptions, walletPath, type WalletArgs } from './wallet-common.ts'

export type { WalletArgs }

interface SendArgs extends WalletArgs {
  to: string
  amount: string
  fee: string
  wait: boolean
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
      client.call('account_getBalance', [address]),
      client.call('account_getNonce', [address])
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
    const [chainId, nonce] = await Promise.all([
      ledgerChainId(client),
      client.call('account_getNonce', [key.address])
    ])
    const signed = signTransfer(key, { chainId, to: args.to, amount: parseAgc(args.amount), nonce: BigInt(nonce), fee: BigInt(args.fee) })
    const id = await client.call('account_sendTransaction', [signed])
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
