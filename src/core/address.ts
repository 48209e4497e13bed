import { bytesEqual, toHex } from './codec.ts'
import { sha256 } from './crypto.ts'
import { AddressError } from './errors.ts'

/**
 * Account addresses: 20 bytes = sha256("HARMONY/address/v1" || ML-DSA-65 public key)[0..20]. Written as
 * `hmy1` + 40 hex digits + 8 hex digits of checksum (sha256("HARMONY/address-checksum/v1" || bytes)[0..4]), so an
 * address can never be mistaken for a 0x Ethereum address and a typo is caught.
 */
export const ADDRESS_BYTES = 20
export const ADDRESS_PREFIX = 'hmy1'
const ADDRESS_TAG = new TextEncoder().encode('HARMONY/address/v1')
const CHECKSUM_TAG = new TextEncoder().encode('HARMONY/address-checksum/v1')
const ADDRESS_RE = /^hmy1[0-9a-f]{48}$/

export function addressBytesFromPublicKey (publicKey: Uint8Array): Uint8Array {
  return sha256(ADDRESS_TAG, publicKey).slice(0, ADDRESS_BYTES)
}

export function formatAddress (bytes: Uint8Array): string {
  if (bytes.length !== ADDRESS_BYTES) throw new AddressError(`address must be ${ADDRESS_BYTES} bytes`)
  return ADDRESS_PREFIX + toHex(bytes) + toHex(sha256(CHECKSUM_TAG, bytes).slice(0, 4))
}

export function addressFromPublicKey (publicKey: Uint8Array): string {
  return formatAddress(addressBytesFromPublicKey(publicKey))
}

/** Parses a `hmy1…` address; throws ADDRESS_INVALID saying what is wrong. */
export function parseAddress (text: string): Uint8Array {
  if (typeof text !== 'string' || !ADDRESS_RE.test(text)) {
    throw new AddressError(`not a Harmony address (expected ${ADDRESS_PREFIX} followed by 48 lowercase hex digits)`)
  }
  const bytes = new Uint8Array(Buffer.from(text.slice(4, 44), 'hex'))
  const checksum = new Uint8Array(Buffer.from(text.slice(44), 'hex'))
  if (!bytesEqual(checksum, sha256(CHECKSUM_TAG, bytes).slice(0, 4))) {
    throw new AddressError('address checksum mismatch (typo?)')
  }
  return bytes
}

export function isAddress (text: string): boolean {
  try { parseAddress(text); return true } catch { return false }
}
