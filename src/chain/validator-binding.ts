/**
 * The binding of a validator's EVM registration to its ledger key. The EVM cannot verify ML-DSA at a reasonable
 * cost, so the staking contract only stores the identity (sha256 of the ML-DSA-65 public key) and emits the
 * binding `publicKey ‖ signature` in `ValidatorBound`; every node verifies the signature itself and weighs only
 * validators whose key is in its genesis validator set.
 *
 *   message = signingMessage("harmony/validator-binding/v1", decimal EVM chain id, staking ‖ operator ‖ signer)
 *
 * (20-byte addresses). The chain id and the staking address keep a binding from being replayed on another chain or
 * deployment; the operator and the signer are what the binding vouches for.
 */
import { getAddress, getBytes, hexlify } from 'ethers'
import { concatBytes, toHex } from '../core/codec.ts'
import { ML_DSA65_PUBLIC_KEY_BYTES, ML_DSA65_SIGNATURE_BYTES, sha256, sign, signingMessage, verify } from '../core/crypto.ts'

export const VALIDATOR_BINDING_TAG = 'harmony/validator-binding/v1'
/** `publicKey ‖ signature`, the length the contract requires. */
export const VALIDATOR_BINDING_BYTES = ML_DSA65_PUBLIC_KEY_BYTES + ML_DSA65_SIGNATURE_BYTES

export interface BindingDomain {
  chainId: bigint | number
  /** The HarmonyStaking address. */
  staking: string
}

/** The validator identity registered on chain: sha256 of the ML-DSA-65 public key (0x-hex, 32 bytes). */
export function validatorIdentity (mldsaPublicKey: Uint8Array): string {
  return `0x${toHex(sha256(mldsaPublicKey))}`
}

/** The bytes the ledger key signs to bind (operator, signer) on this deployment. */
export function bindingMessage (domain: BindingDomain, operator: string, signer: string): Uint8Array {
  const body = concatBytes(getBytes(getAddress(domain.staking)), getBytes(getAddress(operator)), getBytes(getAddress(signer)))
  return signingMessage(VALIDATOR_BINDING_TAG, BigInt(domain.chainId).toString(), body)
}

/** The `mldsaBinding` argument of HarmonyStaking.register: publicKey ‖ ML-DSA signature (0x-hex). */
export function signValidatorBinding (ledgerKey: { publicKey: Uint8Array, secretKey: Uint8Array }, domain: BindingDomain, operator: string, signer: string): string {
  const signature = sign(bindingMessage(domain, operator, signer), ledgerKey.secretKey)
  return hexlify(concatBytes(ledgerKey.publicKey, signature))
}

/**
 * True when `binding` carries `expectedPublicKey` and a valid ML-DSA signature by it over (operator, signer) on this
 * deployment. Never throws: a malformed binding is simply not a binding.
 */
export function verifyValidatorBinding (binding: string | Uint8Array, expectedPublicKey: Uint8Array, domain: BindingDomain, operator: string, signer: string): boolean {
  let bytes: Uint8Array
  try {
    bytes = typeof binding === 'string' ? getBytes(binding) : binding
  } catch {
    return false
  }
  if (bytes.length !== VALIDATOR_BINDING_BYTES || expectedPublicKey.length !== ML_DSA65_PUBLIC_KEY_BYTES) return false
  const publicKey = bytes.subarray(0, ML_DSA65_PUBLIC_KEY_BYTES)
  if (toHex(publicKey) !== toHex(expectedPublicKey)) return false
  let message: Uint8Array
  try {
    message = bindingMessage(domain, operator, signer)
  } catch {
    return false
  }
  const signature = bytes.subarray(ML_DSA65_PUBLIC_KEY_BYTES)
  return signature.length === ML_DSA65_SIGNATURE_BYTES && verify(signature, message, publicKey)
}
