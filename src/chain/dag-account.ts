import { getBytes, hexlify, zeroPadValue } from 'ethers'
import { ChainError } from './errors.ts'

/** DAG addresses are 20 bytes (src/core/address.ts); on chain they travel right-aligned in a bytes32. */
export const DAG_ADDRESS_BYTES = 20

/** The `dagAccount` argument of `deposit` for a 20-byte DAG address. */
export function dagAccountFromAddressBytes (address: Uint8Array): string {
  if (address.length !== DAG_ADDRESS_BYTES) throw new ChainError('DEPOSIT_INVALID', `a DAG address is ${DAG_ADDRESS_BYTES} bytes`)
  if (address.every((b) => b === 0)) throw new ChainError('DEPOSIT_INVALID', 'the zero DAG address cannot receive deposits')
  return zeroPadValue(hexlify(address), 32)
}

/** The 20-byte DAG address a deposit credits; throws DEPOSIT_INVALID for a shape the contract would refuse. */
export function addressBytesFromDagAccount (dagAccount: string): Uint8Array {
  let bytes: Uint8Array
  try {
    bytes = getBytes(dagAccount)
  } catch {
    throw new ChainError('DEPOSIT_INVALID', 'dagAccount must be 32 bytes of 0x-hex')
  }
  if (bytes.length !== 32 || bytes.subarray(0, 32 - DAG_ADDRESS_BYTES).some((b) => b !== 0)) {
    throw new ChainError('DEPOSIT_INVALID', 'dagAccount must be a 20-byte DAG address right-aligned in 32 bytes')
  }
  return bytes.slice(32 - DAG_ADDRESS_BYTES)
}
