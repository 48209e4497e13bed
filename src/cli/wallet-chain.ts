import { join } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { getAddress, isAddress as isEvmAddress } from 'ethers'
import { createProvider, dagAccountFromAddressBytes, depositAgc, readContractsFile, withdrawAgc, type ContractsFile } from '../chain/index.ts'
import { loadOrCreateEvmKey } from '../core/keys/evm-key.ts'
import { buildWithdraw, withdrawalNonceOf } from '../bridge/index.ts'
import { encodeTx, isAddress, parseAddress, parseAgc } from '../dag/index.ts'
import { resolveDatadir } from '../node/datadir.ts'
import type { RpcResultOf } from '../sdk/index.ts'
import { clientFor, ledgerChainId, output, rpcOption } from './common.ts'
import { agcText, waitForTx, walletAddress, walletSigningKey, type WalletArgs } from './wallet-common.ts'
import { passwordFileOption } from './password.ts'
import { stat } from 'node:fs/promises'

interface ChainArgs extends WalletArgs {
  amount: string
  contracts?: string
  'chain-rpc'?: string
  'evm-key'?: string
}

interface DepositArgs extends ChainArgs { to?: string }
interface WithdrawArgs extends ChainArgs { 'evm-address'?: string, fee: string, claim: boolean, 'proof-timeout': number }


function chainOptions<T> (y: Argv<T>): Argv<T & ChainArgs> {
  return y
    .option('wallet', { type: 'string', describe: 'DAG wallet file (default <datadir>/wallet.json)' })
    .option('password-file', passwordFileOption)
    .option('rpc', rpcOption)
    .option('amount', { type: 'string', demandOption: true, describe: 'amount in AGC, e.g. 1.5' })
    .option('contracts', { type: 'string', describe: 'contracts file (default <datadir>/contracts.json)' })
    .option('chain-rpc', { type: 'string', describe: 'EVM JSON-RPC URL (default: the contracts file\'s)' })
    .option('evm-key', { type: 'string', describe: 'file holding the 0x-hex EVM private key that pays gas (and holds the AGC for a deposit)' }) as Argv<T & ChainArgs>
}

async function chainContext (args: ChainArgs): Promise<{ contracts: ContractsFile, rpcUrl: string }> {
  const path = args.contracts ?? join(resolveDatadir(args.datadir), 'contracts.json')
  const contracts = await readContractsFile(path)
  const rpcUrl = args['chain-rpc'] ?? contracts.rpcUrl
  if (rpcUrl === undefined) throw new Error(`${path} names no chain RPC URL; pass --chain-rpc`)
  return { contracts, rpcUrl }
}

async function evmWallet (args: ChainArgs, rpcUrl: string, chainId: number): Promise<ReturnType<typeof loadOrCreateEvmKey> extends Promise<infer W> ? W : never> {
  const path = args['evm-key']
  if (path === undefined) throw new Error('pass --evm-key FILE: the EVM key that signs on chain')
  if (!(await stat(path).then(() => true, () => false))) throw new Error(`EVM key file ${path} does not exist`)
  const wallet = await loadOrCreateEvmKey(path)
  return wallet.connect(createProvider(rpcUrl, chainId)) as typeof wallet
}

const depositCommand: CommandModule<WalletArgs, DepositArgs> = {
  command: 'deposit',
  describe: 'Deposit AGC from an EVM account into the settlement contract; validators credit it on the DAG',
  builder: (y) => chainOptions(y).option('to', { type: 'string', describe: 'hmy1... account to credit (default: the wallet)' }) as never,
  handler: async (args) => {
    const to = args.to ?? await walletAddress(args)
    if (!isAddress(to)) throw new Error(`--to is not a Harmony address: ${to}`)
    const { contracts, rpcUrl } = await chainContext(args)
    const wallet = await evmWallet(args, rpcUrl, contracts.chainId)
    const result = await depositAgc(wallet, contracts, dagAccountFromAddressBytes(parseAddress(to)), parseAgc(args.amount))
    output(args.json, { ...result, to }, () => `deposited ${agcText(parseAgc(args.amount))} for ${to} in ${result.txHash} (block ${result.blockNumber}); the DAG credits it after the confirmations`)
  }
}

const withdrawCommand: CommandModule<WalletArgs, WithdrawArgs> = {
  command: 'withdraw',
  describe: 'Burn AGC on the DAG for an EVM address, wait for the checkpoint, and claim it on chain',
  builder: (y) => chainOptions(y)
    .option('evm-address', { type: 'string', describe: 'EVM address paid on chain (default: the --evm-key address)' })
    .option('fee', { type: 'string', default: '1000', describe: 'DAG fee in base units' })
    .option('claim', { type: 'boolean', default: true, describe: 'claim on chain once the checkpoint is anchored (needs --evm-key)' })
    .option('proof-timeout', { type: 'number', default: 300, describe: 'seconds to wait for the checkpoint' }) as never,
  handler: async (args) => {
    if (!/^[0-9]{1,30}$/.test(args.fee)) throw new Error(`--fee must be an integer number of base units, got ${args.fee}`)
    const { contracts, rpcUrl } = await chainContext(args)
    const evm = args.claim || args['evm-address'] === undefined ? await evmWallet(args, rpcUrl, contracts.chainId) : undefined
    const evmAddress = args['evm-address'] ?? evm?.address
    if (evmAddress === undefined || !isEvmAddress(evmAddress)) throw new Error(`--evm-address is not an EVM address: ${evmAddress}`)
    const key = await walletSigningKey(args)
    const client = await clientFor(args)
    const [chainId, nonce] = await Promise.all([
      ledgerChainId(client),
      client.call('account_getNonce', [key.address])
    ])
    const tx = buildWithdraw({ chainId, publicKey: key.publicKey, secretKey: key.secretKey, evmAddress: parseEvm(evmAddress), amount: parseAgc(args.amount), nonce: BigInt(nonce), fee: BigInt(args.fee) })
    const id = await client.call('account_sendTransaction', [`0x${Buffer.from(encodeTx(tx)).toString('hex')}`])
    const status = await waitForTx(client, id)
    if (status.status !== 'final') throw new Error(`withdraw burn ${id} was rejected: ${status.reason ?? 'unknown reason'}`)
    const deadline = Date.now() + args['proof-timeout'] * 1000
    let proof: RpcResultOf<'chain_withdrawalProof'> = null
    // the node knows the proof once the epoch closes on the DAG; the contract accepts a claim only once the
    // epoch's checkpoint is anchored on chain, so wait for that (claiming earlier reverts with UnknownEpoch)
    while (proof === null || !proof.anchored) {
      proof = await client.call('chain_withdrawalProof', [getAddress(evmAddress), withdrawalNonceOf(id).toString()])
      if (proof?.anchored === true) break
      if (Date.now() > deadline) throw new Error(`burn ${id} is final but ${proof === null ? 'no checkpoint includes it' : `epoch ${proof.epoch} is not anchored on chain`} after ${args['proof-timeout']} s; run the withdraw again later to claim`)
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
    if (!args.claim || evm === undefined) {
      output(args.json, { burn: id, ...proof }, () => `burn ${id} anchored in epoch ${proof.epoch}; claim with --claim`)
      return
    }
    const leaf = { account: proof.account, amount: BigInt(proof.amount), nonce: BigInt(proof.nonce) }
    const claimTx = await withdrawAgc(evm, contracts, BigInt(proof.epoch), leaf, proof.proof)
    output(args.json, { burn: id, epoch: proof.epoch, claim: claimTx }, () => `withdrew ${agcText(parseAgc(args.amount))} to ${evmAddress}: burn ${id}, epoch ${proof.epoch}, claim ${claimTx}`)
  }
}

function parseEvm (address: string): Uint8Array {
  return Uint8Array.from(Buffer.from(getAddress(address).slice(2), 'hex'))
}

export const walletChainCommands = [depositCommand, withdrawCommand]
