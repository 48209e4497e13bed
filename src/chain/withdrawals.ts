/**
 * Withdrawal trees. A withdrawal leaf is (account: EVM address, amount: uint256 base units, nonce: uint256), encoded
 * as OpenZeppelin's StandardMerkleTree does: leaf = keccak256(keccak256(abi.encode(account, amount, nonce))), pairs
 * hashed sorted. `HarmonySettlement.withdraw` verifies exactly this with MerkleProof. The nonce is the DAG
 * withdrawal's unique number (the burning account's transaction nonce or the burn's sequence): the contract pays
 * each distinct leaf once across all epochs.
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import type { ContractTransactionReceipt } from 'ethers'
import { getAddress, isAddress, ZeroHash } from 'ethers'
import type { SettlementContract } from './bindings.ts'
import { ChainError } from './errors.ts'

export interface WithdrawalLeaf {
  account: string
  amount: bigint
  nonce: bigint
}

export const WITHDRAWAL_LEAF_ENCODING = ['address', 'uint256', 'uint256'] as const

/** Withdrawals per tree: bounds memory and proof size (log2 = 17 hashes). */
export const MAX_WITHDRAWALS_PER_TREE = 100_000

const MAX_UINT256 = (1n << 256n) - 1n

export interface WithdrawalTree {
  /** The withdrawals root to put in the checkpoint (32 zero bytes for no withdrawals). */
  root: string
  leaves: WithdrawalLeaf[]
  /** Proof for a leaf of this tree; throws WITHDRAWAL_INVALID if it is not in the tree. */
  proof: (leaf: WithdrawalLeaf) => string[]
  /** The tree in OpenZeppelin's dump format, to serve proofs later. */
  dump: () => unknown
}

function checkLeaf (leaf: WithdrawalLeaf): WithdrawalLeaf {
  if (!isAddress(leaf.account)) throw new ChainError('WITHDRAWAL_INVALID', 'withdrawal account must be an EVM address')
  if (leaf.amount <= 0n || leaf.amount > MAX_UINT256) throw new ChainError('WITHDRAWAL_INVALID', 'withdrawal amount must be in 1..2^256-1')
  if (leaf.nonce < 0n || leaf.nonce > MAX_UINT256) throw new ChainError('WITHDRAWAL_INVALID', 'withdrawal nonce must be in 0..2^256-1')
  return { account: getAddress(leaf.account), amount: leaf.amount, nonce: leaf.nonce }
}

function keyOf (leaf: WithdrawalLeaf): string {
  return `${leaf.account.toLowerCase()}:${leaf.amount}:${leaf.nonce}`
}

/** Builds the tree of one checkpoint's withdrawals. Leaves must be distinct (the contract pays a leaf once). */
export function buildWithdrawalTree (leaves: readonly WithdrawalLeaf[]): WithdrawalTree {
  if (leaves.length > MAX_WITHDRAWALS_PER_TREE) {
    throw new ChainError('WITHDRAWAL_INVALID', `at most ${MAX_WITHDRAWALS_PER_TREE} withdrawals per checkpoint`)
  }
  const checked = leaves.map(checkLeaf)
  const seen = new Set<string>()
  for (const leaf of checked) {
    const key = keyOf(leaf)
    if (seen.has(key)) throw new ChainError('WITHDRAWAL_INVALID', `duplicate withdrawal leaf ${key}`)
    seen.add(key)
  }
  if (checked.length === 0) {
    return {
      root: ZeroHash,
      leaves: [],
      proof: () => { throw new ChainError('WITHDRAWAL_INVALID', 'the withdrawal tree is empty') },
      dump: () => null
    }
  }
  const tree = StandardMerkleTree.of(checked.map((l) => [l.account, l.amount, l.nonce]), [...WITHDRAWAL_LEAF_ENCODING])
  const index = new Map<string, number>()
  for (const [i, [account, amount, nonce]] of tree.entries()) {
    index.set(keyOf({ account: String(account), amount: BigInt(amount as bigint), nonce: BigInt(nonce as bigint) }), i)
  }
  return {
    root: tree.root,
    leaves: checked,
    proof: (leaf) => {
      const i = index.get(keyOf(checkLeaf(leaf)))
      if (i === undefined) throw new ChainError('WITHDRAWAL_INVALID', 'the withdrawal is not in this tree')
      return tree.getProof(i)
    },
    dump: () => tree.dump()
  }
}

/** Verifies a proof off chain (same rule as the contract). */
export function verifyWithdrawalProof (root: string, leaf: WithdrawalLeaf, proof: readonly string[]): boolean {
  const l = checkLeaf(leaf)
  return StandardMerkleTree.verify(root, [...WITHDRAWAL_LEAF_ENCODING], [l.account, l.amount, l.nonce], [...proof])
}

/**
 * Claims a withdrawal on chain: pays `leaf.amount` AGC to `leaf.account` once. `settlement` must be connected to
 * a signer that pays the gas (any account may submit; the tokens go to the leaf's account).
 */
export async function claimWithdrawal (settlement: SettlementContract, epoch: bigint, leaf: WithdrawalLeaf, proof: readonly string[]): Promise<ContractTransactionReceipt> {
  const l = checkLeaf(leaf)
  const tx = await settlement.withdraw(epoch, l.account, l.amount, l.nonce, [...proof])
  const receipt = await tx.wait()
  if (receipt === null) throw new ChainError('TX_FAILED', 'withdrawal transaction was dropped')
  return receipt
}
