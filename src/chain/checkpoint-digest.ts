/**
 * The checkpoint validators sign: EIP-712 typed data bound to the chain id and the settlement contract, so a
 * signature cannot be replayed on another chain or another deployment.
 *
 *   domain  = { name: "HarmonySettlement", version: "1", chainId, verifyingContract: settlement }
 *   message = Checkpoint(uint64 epoch, bytes32 dagRoot, bytes32 stateRoot, bytes32 withdrawalsRoot)
 *   digest  = keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))
 */
import { getAddress, isHexString, recoverAddress, Signature, type SigningKey, TypedDataEncoder } from 'ethers'
import { ChainError } from './errors.ts'

export interface Checkpoint {
  /** Epochs start at 1 and are accepted in order. */
  epoch: bigint
  /** Root of the finalized DAG at the end of the epoch (32-byte hex). */
  dagRoot: string
  /** Ledger state root (32-byte hex). */
  stateRoot: string
  /** Root of the epoch's withdrawals tree, or 32 zero bytes when empty. */
  withdrawalsRoot: string
}

export interface CheckpointDomain {
  chainId: bigint | number
  settlement: string
}

export const CHECKPOINT_TYPES = {
  Checkpoint: [
    { name: 'epoch', type: 'uint64' },
    { name: 'dagRoot', type: 'bytes32' },
    { name: 'stateRoot', type: 'bytes32' },
    { name: 'withdrawalsRoot', type: 'bytes32' }
  ]
}

const MAX_UINT64 = (1n << 64n) - 1n
/** The largest s OpenZeppelin's ECDSA accepts: secp256k1's order / 2. */
const SECP256K1_N_HALF = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n

/** Throws CHECKPOINT_INVALID unless the fields fit the on-chain types. */
export function assertCheckpoint (cp: Checkpoint): void {
  if (cp.epoch < 1n || cp.epoch > MAX_UINT64) throw new ChainError('CHECKPOINT_INVALID', `epoch ${cp.epoch} is outside 1..2^64-1`)
  for (const key of ['dagRoot', 'stateRoot', 'withdrawalsRoot'] as const) {
    if (!isHexString(cp[key], 32)) throw new ChainError('CHECKPOINT_INVALID', `${key} must be 32 bytes of 0x-hex`)
  }
}

function domainOf (domain: CheckpointDomain): { name: string, version: string, chainId: bigint | number, verifyingContract: string } {
  return { name: 'HarmonySettlement', version: '1', chainId: domain.chainId, verifyingContract: getAddress(domain.settlement) }
}

export function checkpointDigest (domain: CheckpointDomain, cp: Checkpoint): string {
  assertCheckpoint(cp)
  return TypedDataEncoder.hash(domainOf(domain), CHECKPOINT_TYPES, {
    epoch: cp.epoch, dagRoot: cp.dagRoot, stateRoot: cp.stateRoot, withdrawalsRoot: cp.withdrawalsRoot
  })
}

/** A 65-byte (r ‖ s ‖ v) signature of the checkpoint digest. */
export function signCheckpoint (key: SigningKey, domain: CheckpointDomain, cp: Checkpoint): string {
  return key.sign(checkpointDigest(domain, cp)).serialized
}

/** The signer address of a checkpoint signature; throws CHECKPOINT_INVALID on a malformed signature. */
export function recoverCheckpointSigner (domain: CheckpointDomain, cp: Checkpoint, signature: string): string {
  if (!isHexString(signature, 65)) throw new ChainError('CHECKPOINT_INVALID', 'a checkpoint signature is 65 bytes of 0x-hex')
  // OpenZeppelin's ECDSA on chain takes v = 27 or 28 only; ethers also recovers v = 0/1 and EIP-155 values, and a
  // signature counted here that the contract refuses would make every submission carrying it revert (BadSignature)
  const v = parseInt(signature.slice(130), 16)
  if (v !== 27 && v !== 28) throw new ChainError('CHECKPOINT_INVALID', `a checkpoint signature's v is 27 or 28, not ${v}`)
  // the contract's low-s rule exactly (Signature.from only refuses s ≥ 2^255)
  if (BigInt(`0x${signature.slice(66, 130)}`) > SECP256K1_N_HALF) throw new ChainError('CHECKPOINT_INVALID', 'a checkpoint signature has a high s')
  try {
    return recoverAddress(checkpointDigest(domain, cp), Signature.from(signature))
  } catch (err) {
    throw new ChainError('CHECKPOINT_INVALID', `bad checkpoint signature: ${(err as Error).message}`, {}, { cause: err })
  }
}
