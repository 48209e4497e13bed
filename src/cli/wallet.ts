import type { CommandModule } from 'yargs'
import { isAddress } from '../core/address.ts'
import { formatAgc, signTransfer } from '../dag/wallet.ts'
import { agcFlag, feeFlag } from './amount-flags.ts'
import { clientFor, ledgerChainId, output, type RpcArgs } from './common.ts'
import { walletChainCommands } from './wallet-chain.ts'
import { walletKeystoreCommands } from './wallet-keystore.ts'
import { agcText, waitForTx, walletAddress, walletOptions, walletSigningKey, type WalletArgs } from './wallet-common.ts'

export type { WalletArgs }

interface SendArgs extends WalletArgs {
  to: string
  amount: string
  fee: string
  wait: boolean
}

const addressCommand: CommandModule<WalletArgs, WalletArgs> = {
  command: 'address',
  describe: 'Print the wallet address (no password needed)',
  builder: walletOptions,
  handler: async (args) => {
    const address = await walletAddress(args)
    output(args.json, { address }, () => address)
  }
}

const balanceCommand: CommandModule<WalletArgs, WalletArgs & { address?: string }> = {
  command: 'balance [address]',
  describe: 'Balance and nonce of an address (default: the wallet) on the node',
  builder: (y) => walletOptions(y).positional('address', { type: 'string', describe: 'hmy1... address' }) as never,
  handler: async (args) => {
    const address = args.address ?? await walletAddress(args)
    if (!isAddress(address)) throw new Error(`not a Harmony address: ${address}`)
    const client = await clientFor(args)
    const [balance, nonce] = await Promise.all([
      client.call('account_getBalance', [address]),
      client.call('account_getNonce', [address])
    ])
    output(args.json, { address, balance, balanceAgc: formatAgc(BigInt(balance)), nonce }, () => `${agcText(BigInt(balance))}  nonce ${nonce}  ${address}`)
  }
}

const sendCommand: CommandModule<WalletArgs, SendArgs> = {
  command: 'send',
  describe: 'Sign a transfer here with the wallet (the key never leaves this process) and submit it to the node',
  builder: (y) => walletOptions(y)
    .option('to', { type: 'string', demandOption: true, describe: 'recipient hmy1... address' })
    .option('amount', { type: 'string', demandOption: true, describe: 'amount in AGC, e.g. 1.5' })
    .option('fee', { type: 'string', default: '1000', describe: 'fee in base units' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait until the transfer is final or rejected' }) as never,
  handler: async (args) => {
    if (!isAddress(args.to)) throw new Error(`--to is not a Harmony address: ${args.to}`)
    const amount = agcFlag(args.amount)
    const fee = feeFlag(args.fee)
    const key = await walletSigningKey(args)
    const client = await clientFor(args)
    const [chainId, nonce] = await Promise.all([
      ledgerChainId(client),
      client.call('account_getNonce', [key.address])
    ])
    const signed = signTransfer(key, { chainId, to: args.to, amount, nonce: BigInt(nonce), fee })
    const id = await client.call('account_sendTransaction', [signed])
    const what = `${agcText(amount)} to ${args.to}, fee ${agcText(fee)}`
    const amounts = { amount: amount.toString(), amountAgc: formatAgc(amount), fee: fee.toString(), feeAgc: formatAgc(fee) }
    if (!args.wait) {
      output(args.json, { id, status: 'pending', ...amounts }, () => `submitted ${id}: ${what}`)
      return
    }
    const tx = await waitForTx(client, id, signed)
    output(args.json, { ...tx, ...amounts }, () => `${tx.status} ${id}: ${what}${tx.reason === null ? '' : ` (${tx.reason})`}`)
    if (tx.status === 'rejected') process.exitCode = 1
  }
}

export const walletCommand: CommandModule<RpcArgs, RpcArgs> = {
  command: 'wallet <command>',
  describe: 'Ledger wallet: encrypted keys, recovery phrase, balances, transfers',
  builder: (y) => {
    let w = y
    for (const c of [...walletKeystoreCommands, addressCommand, balanceCommand, sendCommand, ...walletChainCommands]) w = w.command(c as never)
    return w.demandCommand(1)
  },
  handler: () => {}
}
