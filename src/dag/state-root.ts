/**
 * The checkpoint state root: a Merkle root over accounts, verifiable off chain and, with OpenZeppelin's
 * MerkleProof, on an EVM chain.
 *
 *   leaf  = keccak256(keccak256(abi.encode(bytes20 address, uint256 balance, uint64 nonce)))
 *   tree  = OpenZeppelin StandardMerkleTree: leaves sorted by hash, each pair hashed in sorted order
 *   root  = the tree's root; 32 zero bytes for no accounts
 *
 * Every account whose balance or nonce is not zero is a leaf, once; an account at (0, 0) is no leaf, so the root
 * does not depend on which empty accounts a node happens to have stored. Two nodes with the same accounts compute
 * the same root whatever order they list them in (the library sorts the leaves). docs/protocol.md "State roots".
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { fromHex, toHex } from '../core/codec.ts'
import { DagError } from './errors.ts'

export const ACCOUNT_LEAF_ENCODING = ['bytes20', 'uint256', 'uint64'] as const
export const EMPTY_STATE_ROOT = `0x${'00'.repeat(32)}`
/** Accounts per state tree: bounds memory and time (~1 s of keccak per 100k leaves here); log2 = 20 hashes. */
export const MAX_STATE_ACCOUNTS = 1_000_000

const MAX_UINT64 = (1n << 64n) - 1n
const MAX_UINT256 = (1n << 256n) - 1n

export interface AccountLeaf {
  /** 20-byte DAG address. */
  address: Uint8Array
  balance: bigint
  nonce: bigint
}

/** A balance proof: the leaf's fields and the sibling hashes from the leaf up to `root`. */
export interface AccountProof {
  root: string
  address: string
  balance: bigint
  nonce: bigint
  proof: string[]
}

type LeafTuple = [string, string, string]

export interface StateTree {
  root: string
  /** Number of leaves. */
  size: number
  /** The proof of `address`'s leaf; undefined when the account is no leaf (balance and nonce zero). */
  proof: (address: Uint8Array) => AccountProof | undefined
}

function tupleOf (a: AccountLeaf): LeafTuple {
  if (a.address.length !== 20) throw new DagError('ADDRESS_INVALID', 'a state leaf address is 20 bytes')
  if (a.balance < 0n || a.balance > MAX_UINT256) throw new DagError('AMOUNT_INVALID', 'a state leaf balance is outside uint256')
  if (a.nonce < 0n || a.nonce > MAX_UINT64) throw new DagError('AMOUNT_INVALID', 'a state leaf nonce is outside uint64')
  return [`0x${toHex(a.address)}`, a.balance.toString(), a.nonce.toString()]
}

/** Builds the state tree of a set of accounts. Throws on a repeated address or more than MAX_STATE_ACCOUNTS. */
export function buildStateTree (accounts: Iterable<AccountLeaf>): StateTree {
  const tuples: LeafTuple[] = []
  const index = new Map<string, number>()
  for (const a of accounts) {
    if (a.balance === 0n && a.nonce === 0n) continue
    const t = tupleOf(a)
    if (index.has(t[0])) throw new DagError('ENCODING_INVALID', `state tree: account ${t[0]} listed twice`)
    if (tuples.length >= MAX_STATE_ACCOUNTS) throw new DagError('TOO_LARGE', `state tree: more than ${MAX_STATE_ACCOUNTS} accounts`)
    index.set(t[0], tuples.length)
    tuples.push(t)
  }
  if (tuples.length === 0) return { root: EMPTY_STATE_ROOT, size: 0, proof: () => undefined }
  const tree = StandardMerkleTree.of(tuples, [...ACCOUNT_LEAF_ENCODING])
  return {
    root: tree.root,
    size: tuples.length,
    proof: (address) => {
      const key = `0x${toHex(address)}`
      const i = index.get(key)
      if (i === undefined) return undefined
      const [, balance, nonce] = tuples[i]
      return { root: tree.root, address: key, balance: BigInt(balance), nonce: BigInt(nonce), proof: tree.getProof(tuples[i]) }
    }
  }
}

/** True when `proof` proves (address, balance, nonce) against `root`. Never throws. */
export function verifyAccountProof (root: string, leaf: { address: string, balance: bigint, nonce: bigint }, proof: readonly string[]): boolean {
  try {
    const tuple = tupleOf({ address: fromHex(leaf.address), balance: leaf.balance, nonce: leaf.nonce })
    return StandardMerkleTree.verify(root, [...ACCOUNT_LEAF_ENCODING], tuple, [...proof])
  } catch {
    return false
  }
}
