import { getAddress, hexlify } from 'ethers'
import { fromHex, toHex } from '../core/codec.ts'
import type { LedgerReader } from '../dag/reader.ts'
import type { TxInfo } from '../dag/tx.ts'
import { ChainError } from '../chain/errors.ts'
import type { WithdrawalLeaf } from '../chain/withdrawals.ts'
import { TX_KIND_WITHDRAW, withdrawKind } from './kinds/index.ts'

/** The leaf nonce of a withdraw transaction (its 0x id as a uint256): what `chain_withdrawalProof` takes, in decimal. */
export function withdrawalNonceOf (txId: string): bigint {
  return BigInt(`0x${toHex(fromHex(txId, 'transaction id'))}`)
}

/** The withdrawal leaf of a final withdraw transaction: nonce = the transaction id as a uint256. */
export function withdrawalLeafOf (tx: TxInfo): WithdrawalLeaf {
  if (tx.tx.kind !== TX_KIND_WITHDRAW) throw new ChainError('WITHDRAWAL_INVALID', 'not a withdraw transaction')
  const p = withdrawKind.decode(tx.tx.payload)
  return { account: getAddress(hexlify(p.evmAddress)), amount: p.amount, nonce: BigInt(`0x${tx.idHex}`) }
}

/**
 * The fee leaf of a final epoch-close sweeping `fees`: paid to the settlement contract itself, which adds it to the
 * stakers' fee pool; nonce = the close's transaction id as a uint256 (unique like a withdraw's).
 */
export function feeLeafOf (closeTxIdHex: string, fees: bigint, settlement: string): WithdrawalLeaf {
  return { account: getAddress(settlement), amount: fees, nonce: BigInt(`0x${closeTxIdHex}`) }
}

/**
 * The withdrawals of the final epoch-close in vertex `closeVertexHex` listing `listed`: in list order, each listed
 * id that (1) is a final withdraw transaction, (2) whose vertex is the close's vertex or one of its ancestors, and
 * (3) is not in `settled` (an earlier epoch) nor listed twice. (2) makes the rule deterministic: every node has
 * accepted the close's ancestors before the close, with the same outcomes.
 */
export async function epochWithdrawals (ledger: Pick<LedgerReader, 'finalTx' | 'isAncestor'>, closeVertexHex: string, listed: Uint8Array[], settled: (idHex: string) => Promise<boolean>): Promise<TxInfo[]> {
  const out: TxInfo[] = []
  const seen = new Set<string>()
  for (const id of listed) {
    const idHex = toHex(id)
    if (seen.has(idHex)) continue
    seen.add(idHex)
    if (await settled(idHex)) continue
    const final = await ledger.finalTx(idHex)
    if (final === undefined) continue
    if (!await ledger.isAncestor(final.vertexId, closeVertexHex)) continue
    if (final.tx.tx.kind !== TX_KIND_WITHDRAW) continue
    out.push(final.tx)
  }
  return out
}
