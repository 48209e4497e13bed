import { join } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import type { ContractsFile } from '../chain/index.ts'
import type { loadOrCreateEvmKey } from '../core/keys/evm-key.ts'
import { isAddress, parseAddress } from '../core/address.ts'
import { encodeTx } from '../dag/tx.ts'
import { resolveDatadir } from '../node/datadir.ts'
import type { RpcResultOf } from '../sdk/index.ts'
import { agcFlag, feeFlag } from './amount-flags.ts'
import { clientFor, ledgerChainId, output, rpcOption } from './common.ts'
import { agcText, waitForTx, walletAddress, walletSigningKey, type WalletArgs } from './wallet-common.ts'
import { passwordFileOption } from './password.ts'
import { stat } from 'node:fs/promises'

/**
 * ethers and the chain's and bridge's code (~900 modules, most of a second to load) come in when a chain command
 * runs, not with every `wallet` command (cli/index.ts loads the `wallet` module for `wallet address` too).
 */
async function chainParts () {
  const [ethers, chain, bridge, evmKey] = await Promise.all([import('ethers'), import('../chain/index.ts'), import('../bridge/index.ts'), import('../core/keys/evm-key.ts')])
  return {
    getAddress: ethers.getAddress,
    isEvmAddress: ethers.isAddress,
    ...chain,
    buildWithdraw: bridge.buildWithdraw,
    withdrawalNonceOf: bridge.withdrawalNonceOf,
    loadOrCreateEvmKey: evmKey.loadOrCreateEvmKey
  }
}
type ChainParts = Awaited<ReturnType<typeof chainParts>>

interface ChainArgs extends WalletArgs {
  amount: string
  contracts?: string
  'chain-rpc'?: string
  'evm-key'?: string
}

interface DepositArgs extends ChainArgs { to?: string }
interface WithdrawArgs extends ChainArgs { 'evm-address'?: string, fee: string, claim: boolean, 'proof-timeout': number }
interface ClaimArgs extends Omit<ChainArgs, 'amount'> { burn: string, 'evm-address'?: string, 'proof-timeout': number }


function chainOptions<T> (y: Argv<T>): Argv<T & ChainArgs> {
  return endpointOptions(y
    .option('wallet', { type: 'string', describe: 'DAG wallet file (default <datadir>/wallet.json)' })
    .option('password-file', passwordFileOption)
    .option('amount', { type: 'string', demandOption: true, describe: 'amount in AGC, e.g. 1.5' })) as Argv<T & ChainArgs>
}

/** The node, the contracts and the EVM key: what a claim needs too. */
function endpointOptions<T> (y: Argv<T>): Argv<T> {
  return y
    .option('rpc', rpcOption)
    .option('contracts', { type: 'string', describe: 'contracts file (default <datadir>/contracts.json)' })
    .option('chain-rpc', { type: 'string', describe: 'EVM JSON-RPC URL (default: the contracts file\'s)' })
    .option('evm-key', { type: 'string', describe: 'file holding the 0x-hex EVM private key that pays gas (and holds the AGC for a deposit)' })
}

async function chainContext (lib: ChainParts, args: Pick<ChainArgs, 'contracts' | 'chain-rpc' | 'datadir'>): Promise<{ contracts: ContractsFile, rpcUrl: string }> {
  const path = args.contracts ?? join(resolveDatadir(args.datadir), 'contracts.json')
  const contracts = await lib.readContractsFile(path)
  const rpcUrl = args['chain-rpc'] ?? contracts.rpcUrl
  if (rpcUrl === undefined) throw new Error(`${path} names no chain RPC URL; pass --chain-rpc`)
  return { contracts, rpcUrl }
}

async function evmWallet (lib: ChainParts, args: Pick<ChainArgs, 'evm-key'>, rpcUrl: string, chainId: number): Promise<ReturnType<typeof loadOrCreateEvmKey> extends Promise<infer W> ? W : never> {
  const path = args['evm-key']
  if (path === undefined) throw new Error('pass --evm-key FILE: the EVM key that signs on chain')
  if (!(await stat(path).then(() => true, () => false))) throw new Error(`EVM key file ${path} does not exist`)
  const wallet = await lib.loadOrCreateEvmKey(path)
  return wallet.connect(lib.createProvider(rpcUrl, chainId)) as typeof wallet
}

const depositCommand: CommandModule<WalletArgs, DepositArgs> = {
  command: 'deposit',
  describe: 'Deposit AGC from an EVM account into the settlement contract; validators credit it on the DAG',
  builder: (y) => chainOptions(y).option('to', { type: 'string', describe: 'hmy1... account to credit (default: the wallet)' }) as never,
  handler: async (args) => {
    const amount = agcFlag(args.amount)
    const to = args.to ?? await walletAddress(args)
    if (!isAddress(to)) throw new Error(`--to is not a Harmony address: ${to}`)
    const lib = await chainParts()
    const { contracts, rpcUrl } = await chainContext(lib, args)
    const wallet = await evmWallet(lib, args, rpcUrl, contracts.chainId)
    const result = await lib.depositAgc(wallet, contracts, lib.dagAccountFromAddressBytes(parseAddress(to)), amount)
    output(args.json, { ...result, to }, () => `deposited ${agcText(amount)} for ${to} in ${result.txHash} (block ${result.blockNumber}); the DAG credits it after the confirmations`)
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
    const amount = agcFlag(args.amount)
    const fee = feeFlag(args.fee)
    const lib = await chainParts()
    const { contracts, rpcUrl } = await chainContext(lib, args)
    const evm = args.claim || args['evm-address'] === undefined ? await evmWallet(lib, args, rpcUrl, contracts.chainId) : undefined
    const evmAddress = args['evm-address'] ?? evm?.address
    if (evmAddress === undefined || !lib.isEvmAddress(evmAddress)) throw new Error(`--evm-address is not an EVM address: ${evmAddress}`)
    // the settlement contract paying itself keeps the AGC, as its stakers' fee pool: no one could spend it again
    if (lib.getAddress(evmAddress) === lib.getAddress(contracts.settlement)) throw new Error(`--evm-address ${evmAddress} is the settlement contract itself; name the EVM account to pay`)
    const key = await walletSigningKey(args)
    const client = await clientFor(args)
    const [chainId, nonce] = await Promise.all([
      ledgerChainId(client),
      client.call('account_getNonce', [key.address])
    ])
    const tx = lib.buildWithdraw({ chainId, publicKey: key.publicKey, secretKey: key.secretKey, evmAddress: parseEvm(lib, evmAddress), amount, nonce: BigInt(nonce), fee })
    const signed = `0x${Buffer.from(encodeTx(tx)).toString('hex')}`
    const id = await client.call('account_sendTransaction', [signed])
    const status = await waitForTx(client, id, signed)
    if (status.status !== 'final') throw new Error(`withdraw burn ${id} was rejected: ${status.reason ?? 'unknown reason'}`)
    const proof = await anchoredProof(lib, client, id, evmAddress, args['proof-timeout'])
    if (!args.claim || evm === undefined) {
      output(args.json, { burn: id, ...proof }, () => `burn ${id} anchored in epoch ${proof.epoch}; claim it with ${claimHint(lib, id, evmAddress)}`)
      return
    }
    const claimTx = await claimProof(lib, evm, contracts, proof)
    output(args.json, { burn: id, epoch: proof.epoch, claim: claimTx }, () => `withdrew ${agcText(amount)} to ${evmAddress}: burn ${id}, epoch ${proof.epoch}, claim ${claimTx}`)
  }
}

const claimCommand: CommandModule<WalletArgs, ClaimArgs> = {
  command: 'claim',
  describe: 'Claim on chain a withdrawal burned on the DAG (by `wallet withdraw --no-claim`, or one whose checkpoint came late): waits for its checkpoint, then pays the EVM address',
  builder: (y) => endpointOptions(y)
    .option('burn', { type: 'string', demandOption: true, describe: 'the withdraw transaction id (0x…) on the DAG' })
    .option('evm-address', { type: 'string', describe: 'EVM address the burn names (default: the --evm-key address)' })
    .option('proof-timeout', { type: 'number', default: 300, describe: 'seconds to wait for the checkpoint' }) as never,
  handler: async (args) => {
    if (!/^0x[0-9a-fA-F]{64}$/.test(args.burn)) throw new Error(`--burn must be a transaction id (0x and 64 hex digits), got ${args.burn}`)
    const lib = await chainParts()
    const { contracts, rpcUrl } = await chainContext(lib, args)
    const evm = await evmWallet(lib, args, rpcUrl, contracts.chainId)
    const evmAddress = args['evm-address'] ?? evm.address
    if (!lib.isEvmAddress(evmAddress)) throw new Error(`--evm-address is not an EVM address: ${evmAddress}`)
    const client = await clientFor(args)
    const burn = await client.call('tx_get', [args.burn])
    if (burn === null) throw new Error(`the node does not know transaction ${args.burn}`)
    if (burn.status !== 'final' && burn.outcome !== 'final') throw new Error(`transaction ${args.burn} is ${burn.status}${burn.reason === null || burn.reason === undefined ? '' : ` (${burn.reason})`}, not a final burn`)
    const proof = await anchoredProof(lib, client, args.burn, evmAddress, args['proof-timeout'])
    const claimTx = await claimProof(lib, evm, contracts, proof)
    output(args.json, { burn: args.burn, epoch: proof.epoch, claim: claimTx }, () => `claimed ${agcText(BigInt(proof.amount))} for ${evmAddress}: burn ${args.burn}, epoch ${proof.epoch}, claim ${claimTx}`)
  }
}

type Proof = NonNullable<RpcResultOf<'chain_withdrawalProof'>>

/**
 * The proof of burn `id` for `evmAddress` once its epoch's checkpoint is anchored on chain. The node knows the proof
 * once the epoch closes on the DAG; the contract accepts a claim only once the checkpoint is anchored (claiming
 * earlier reverts with UnknownEpoch), so this waits for that, at most `timeoutS`.
 */
async function anchoredProof (lib: ChainParts, client: Awaited<ReturnType<typeof clientFor>>, id: string, evmAddress: string, timeoutS: number): Promise<Proof> {
  const deadline = Date.now() + timeoutS * 1000
  for (;;) {
    const proof = await client.call('chain_withdrawalProof', [lib.getAddress(evmAddress), lib.withdrawalNonceOf(id).toString()])
    if (proof?.anchored === true) return proof
    if (Date.now() > deadline) {
      // running `withdraw` again would burn a second time: the claim of this burn is its own command
      throw new Error(`burn ${id} is final but ${proof === null ? 'no checkpoint includes it yet' : `epoch ${proof.epoch} is not anchored on chain`} after ${timeoutS} s; claim it later with ${claimHint(lib, id, evmAddress)}`)
    }
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}

async function claimProof (lib: ChainParts, evm: Awaited<ReturnType<typeof evmWallet>>, contracts: ContractsFile, proof: Proof): Promise<string> {
  const leaf = { account: proof.account, amount: BigInt(proof.amount), nonce: BigInt(proof.nonce) }
  return await lib.withdrawAgc(evm, contracts, BigInt(proof.epoch), leaf, proof.proof)
}

function claimHint (lib: ChainParts, id: string, evmAddress: string): string {
  return `harmonyd wallet claim --burn ${id} --evm-address ${lib.getAddress(evmAddress)} --evm-key FILE (not withdraw again: that burns again)`
}

function parseEvm (lib: ChainParts, address: string): Uint8Array {
  return Uint8Array.from(Buffer.from(lib.getAddress(address).slice(2), 'hex'))
}

export const walletChainCommands = [depositCommand, withdrawCommand, claimCommand]
