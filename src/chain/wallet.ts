/** What `harmonyd wallet deposit | withdraw` call: a user's EVM wallet talking to the contracts directly. */
import { type ContractTransactionReceipt, Signature, type Wallet } from 'ethers'
import { agcAt, connectContracts, decodeRevert, settlementAt } from './bindings.ts'
import type { ContractsFile } from './contracts-file.ts'
import { ChainError } from './errors.ts'
import { claimWithdrawal, type WithdrawalLeaf } from './withdrawals.ts'

export interface DepositResult {
  txHash: string
  blockNumber: number
  logIndex: number
  depositId: bigint
}

/** Permits are valid this long. */
const PERMIT_TTL_SEC = 3600n

/**
 * Deposits `amount` AGC for `dagAccount` (see dagAccountFromAddressBytes) in one transaction with an EIP-2612
 * permit; `wallet` must be connected to a provider and hold AGC and ETH for gas.
 */
export async function depositAgc (wallet: Wallet, contracts: Pick<ContractsFile, 'agc' | 'settlement' | 'chainId'>, dagAccount: string, amount: bigint): Promise<DepositResult> {
  if (wallet.provider === null) throw new ChainError('DEPOSIT_INVALID', 'the wallet has no provider')
  if (amount <= 0n) throw new ChainError('DEPOSIT_INVALID', 'the amount must be positive')
  const c = { agc: agcAt(contracts.agc, wallet), settlement: settlementAt(contracts.settlement, wallet) }
  const balance = await c.agc.balanceOf(wallet.address)
  if (balance < amount) throw new ChainError('DEPOSIT_INVALID', `the wallet holds ${balance} base units of AGC, less than ${amount}`)
  const latest = await wallet.provider.getBlock('latest')
  const deadline = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + PERMIT_TTL_SEC
  const permit = Signature.from(await wallet.signTypedData(
    { name: 'AgentCoin', version: '1', chainId: contracts.chainId, verifyingContract: contracts.agc },
    { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    { owner: wallet.address, spender: contracts.settlement, value: amount, nonce: await c.agc.nonces(wallet.address), deadline }
  ))
  let receipt: ContractTransactionReceipt | null
  try {
    receipt = await (await c.settlement.depositWithPermit(dagAccount, amount, deadline, permit.v, permit.r, permit.s)).wait()
  } catch (err) {
    const revert = decodeRevert(err)
    throw new ChainError(revert === null ? 'TX_FAILED' : 'TX_REVERTED', `deposit failed: ${revert?.name ?? (err as Error).message}`, { revert: revert?.name }, { cause: err })
  }
  if (receipt === null) throw new ChainError('TX_FAILED', 'the deposit transaction was dropped')
  for (const log of receipt.logs) {
    const parsed = c.settlement.interface.parseLog(log)
    if (parsed?.name === 'Deposited') {
      return { txHash: receipt.hash, blockNumber: receipt.blockNumber, logIndex: log.index, depositId: parsed.args.depositId as bigint }
    }
  }
  throw new ChainError('TX_FAILED', 'the deposit transaction emitted no Deposited event')
}

/** Claims a withdrawal proven in checkpoint `epoch`; returns the transaction hash. */
export async function withdrawAgc (wallet: Wallet, contracts: Pick<ContractsFile, 'agc' | 'staking' | 'settlement'>, epoch: bigint, leaf: WithdrawalLeaf, proof: readonly string[]): Promise<string> {
  const c = connectContracts(contracts, wallet)
  try {
    return (await claimWithdrawal(c.settlement, epoch, leaf, proof)).hash
  } catch (err) {
    if (err instanceof ChainError) throw err
    const revert = decodeRevert(err)
    throw new ChainError(revert === null ? 'TX_FAILED' : 'TX_REVERTED', `withdrawal failed: ${revert?.name ?? (err as Error).message}`, { revert: revert?.name }, { cause: err })
  }
}
