/**
 * Keeps each epoch's withdrawal leaves so the node can serve proofs until users claim. The ledger calls
 * `record(epoch, leaves)` when it builds the epoch's tree (before proposing the checkpoint); `proofFor(account,
 * nonce)` rebuilds the tree (StandardMerkleTree is deterministic for a set of leaves) and returns the proof.
 * Stored in the `chain` sublevel: `withdrawals/<epoch>` → leaves, `withdrawal/<account>/<nonce>` → epoch
 * (KEY_PREFIXES.chain in src/core/storage.ts).
 */
import { getAddress } from 'ethers'
import { type BinarySublevel, KEY_PREFIXES, keyBytes } from '../core/storage.ts'
import { ChainError } from './errors.ts'
import { buildWithdrawalTree, type WithdrawalLeaf, type WithdrawalTree } from './withdrawals.ts'

/** Rebuilt trees kept in memory (a tree of 100,000 leaves is ~20 MB). */
const TREE_CACHE_SIZE = 4

export interface WithdrawalProof {
  epoch: bigint
  leaf: WithdrawalLeaf
  proof: string[]
  root: string
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const { withdrawalLeaves, withdrawalIndex } = KEY_PREFIXES.chain
const epochKey = (epoch: bigint): Uint8Array => keyBytes(withdrawalLeaves, epoch.toString().padStart(20, '0'))
const indexKey = (account: string, nonce: bigint): Uint8Array => keyBytes(withdrawalIndex, `${getAddress(account).toLowerCase()}/${nonce}`)

export class WithdrawalStore {
  private readonly db: BinarySublevel
  private readonly trees = new Map<bigint, WithdrawalTree>()

  constructor (db: BinarySublevel) {
    this.db = db
  }

  /** Stores the epoch's leaves (atomically with the index) and returns the tree, whose root goes in the checkpoint. */
  async record (epoch: bigint, leaves: readonly WithdrawalLeaf[]): Promise<WithdrawalTree> {
    if (epoch < 1n) throw new ChainError('WITHDRAWAL_INVALID', 'epochs start at 1')
    const tree = buildWithdrawalTree(leaves)
    const existing = await this.db.get(epochKey(epoch))
    if (existing !== undefined) {
      const stored = buildWithdrawalTree(decodeLeaves(existing))
      if (stored.root !== tree.root) throw new ChainError('WITHDRAWAL_INVALID', `epoch ${epoch} already has other withdrawals`)
      return stored
    }
    const json = JSON.stringify(tree.leaves.map((l) => [l.account, l.amount.toString(), l.nonce.toString()]))
    await this.db.batch([
      { type: 'put', key: epochKey(epoch), value: enc(json) },
      ...tree.leaves.map((l) => ({ type: 'put' as const, key: indexKey(l.account, l.nonce), value: enc(epoch.toString()) }))
    ])
    this.remember(epoch, tree)
    return tree
  }

  /** The proof of the withdrawal (account, nonce), or null when this node recorded no such withdrawal. */
  async proofFor (account: string, nonce: bigint): Promise<WithdrawalProof | null> {
    const epochBytes = await this.db.get(indexKey(account, nonce))
    if (epochBytes === undefined) return null
    const epoch = BigInt(new TextDecoder().decode(epochBytes))
    const tree = await this.tree(epoch)
    const leaf = tree.leaves.find((l) => l.nonce === nonce && l.account.toLowerCase() === account.toLowerCase())
    if (leaf === undefined) return null
    return { epoch, leaf, proof: tree.proof(leaf), root: tree.root }
  }

  private async tree (epoch: bigint): Promise<WithdrawalTree> {
    const cached = this.trees.get(epoch)
    if (cached !== undefined) return cached
    const stored = await this.db.get(epochKey(epoch))
    if (stored === undefined) throw new ChainError('WITHDRAWAL_INVALID', `no withdrawals recorded for epoch ${epoch}`)
    const tree = buildWithdrawalTree(decodeLeaves(stored))
    this.remember(epoch, tree)
    return tree
  }

  private remember (epoch: bigint, tree: WithdrawalTree): void {
    this.trees.set(epoch, tree)
    while (this.trees.size > TREE_CACHE_SIZE) {
      const oldest = this.trees.keys().next().value
      if (oldest === undefined) break
      this.trees.delete(oldest)
    }
  }
}

function decodeLeaves (bytes: Uint8Array): WithdrawalLeaf[] {
  const rows = JSON.parse(new TextDecoder().decode(bytes)) as Array<[string, string, string]>
  return rows.map(([account, amount, nonce]) => ({ account, amount: BigInt(amount), nonce: BigInt(nonce) }))
}
