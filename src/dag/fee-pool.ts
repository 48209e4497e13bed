/**
 * The validators' fee pool: a system account that every transaction's fee is credited to (fees are never burned,
 * so the DAG's total supply changes only by deposit credits and withdraw burns). No key controls it; only a
 * validator's `epoch-close` (src/bridge) acts for it, moving its balance into a withdrawal leaf paid to the
 * settlement contract's fee pool. See docs/chain.md "Solvency".
 */
import { ADDRESS_BYTES } from '../core/address.ts'
import { sha256 } from '../core/crypto.ts'

export const FEE_POOL_ACCOUNT: Uint8Array = sha256(new TextEncoder().encode('HARMONY/fee-pool/v1')).slice(0, ADDRESS_BYTES)
