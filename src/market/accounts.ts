/**
 * The market's system accounts (docs/market.md "Accounts and money"). No key controls them: only validator-signed
 * market transactions act for them (`TxKind.account`), and every validator checks those against its own market
 * state before it votes.
 */
import { ADDRESS_BYTES } from '../core/address.ts'
import { toHex, Writer } from '../core/codec.ts'
import { sha256 } from '../core/crypto.ts'

const TASK_TAG = new TextEncoder().encode('HARMONY/market/task/v1')
const ESCROW_TAG = new TextEncoder().encode('HARMONY/market/escrow/v1')
const BOND_TAG = new TextEncoder().encode('HARMONY/market/bond/v1')
const REEXEC_TAG = new TextEncoder().encode('HARMONY/market/reexec/v1')
const INPUT_VERDICT_TAG = new TextEncoder().encode('HARMONY/market/input-verdict/v2')

/** A task's id: sha256("HARMONY/market/task/v1" ‖ requester ‖ nonce u64be) of its announce (32 bytes). */
export function taskIdOf (requester: Uint8Array, nonce: bigint): Uint8Array {
  return sha256(TASK_TAG, requester, new Writer(8).u64(nonce).finish())
}

/** The same id as lowercase hex (how the state and the API name a task). */
export function taskIdHexOf (requester: Uint8Array, nonce: bigint): string {
  return toHex(taskIdOf(requester, nonce))
}

/** The account holding a task's escrow: sha256("HARMONY/market/escrow/v1" ‖ taskId)[0..20]. */
export function escrowAccount (taskId: Uint8Array): Uint8Array {
  return sha256(ESCROW_TAG, taskId).slice(0, ADDRESS_BYTES)
}

/** The account holding a provider's bond: sha256("HARMONY/market/bond/v1" ‖ provider)[0..20]. */
export function bondAccount (provider: Uint8Array): Uint8Array {
  return sha256(BOND_TAG, provider).slice(0, ADDRESS_BYTES)
}

/** The account a validator's re-execution commitment of a task acts for (nonce 0, holds nothing): sha256("HARMONY/market/reexec/v1" ‖ validator ‖ taskId)[0..20]. */
export function reexecAccount (validator: Uint8Array, taskId: Uint8Array): Uint8Array {
  return sha256(REEXEC_TAG, validator, taskId).slice(0, ADDRESS_BYTES)
}

/**
 * The account a validator's verdict on one input claim acts for (nonce 0, holds nothing): sha256(
 * "HARMONY/market/input-verdict/v2" ‖ taskId ‖ provider ‖ round u8 ‖ attempt u8 ‖ validator)[0..20]. One verdict per
 * validator and claim; the claim's judge is fixed by rules/input-judge.ts, so no other validator's slot can hold it.
 */
export function inputVerdictAccount (taskId: Uint8Array, provider: Uint8Array, round: number, attempt: number, validator: Uint8Array): Uint8Array {
  return sha256(INPUT_VERDICT_TAG, taskId, provider, new Uint8Array([round, attempt]), validator).slice(0, ADDRESS_BYTES)
}
