import { toHex } from '../../core/codec.ts'
import type { ProviderView } from '../state/reader.ts'
import type { CapabilityRecord } from './capability.ts'

// A registration's GFLOP/s within this factor of the measured one is kept: re-measuring at every start wobbles on a
// shared machine, and each re-registration would cost a transaction and a new challenge.
const CAPABILITY_DRIFT = 1.5

export interface WantedRegistration {
  bond: bigint
  kemPublicKey: Uint8Array
  capability: CapabilityRecord
}

/**
 * What the provider must send for its registration on the DAG to be the one it wants: nothing (`current`), or a
 * `provider-register` adding `topUp` to the bond (0 to only replace the key and the capability record). A slashed
 * bond below the configured one is topped up.
 */
export function registrationNeeded (current: ProviderView | undefined, wanted: WantedRegistration): { current: true } | { current: false, topUp: bigint } {
  if (current === undefined) return { current: false, topUp: wanted.bond }
  const topUp = current.bond >= wanted.bond ? 0n : wanted.bond - current.bond
  const same = current.kemPublicKey === toHex(wanted.kemPublicKey) && sameCapability(current.capability, wanted.capability)
  return same && topUp === 0n ? { current: true } : { current: false, topUp }
}

export function sameCapability (registered: CapabilityRecord, measured: CapabilityRecord): boolean {
  if (registered.executor !== measured.executor || registered.adapter !== measured.adapter || registered.profile !== measured.profile || registered.memoryMiB !== measured.memoryMiB) return false
  const ratio = registered.gflopsMilli / Math.max(1, measured.gflopsMilli)
  return ratio <= CAPABILITY_DRIFT && ratio >= 1 / CAPABILITY_DRIFT
}
