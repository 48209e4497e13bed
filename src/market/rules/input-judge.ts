/**
 * Who judges an input claim (docs/market.md "Inputs no peer serves"): the validators but the claimant, sorted by
 * public key and rotated by the task id (core/turn.ts). The first claim of a provider and round is judged by rank 0,
 * each appeal by the next rank, so a judge that lied or stayed silent is never asked again while others are left.
 * Every node applies the same rule to the verdicts it finalizes, so a verdict from any other validator is refused.
 * An `unavailable` verdict excuses its claimant only with a second judge's (unavailableJudgesNeeded, s48).
 */
import { addressBytesFromPublicKey } from '../../core/address.ts'
import { toHex } from '../../core/codec.ts'
import { turnRank } from '../../core/turn.ts'
import { INPUT_UNAVAILABLE_JUDGES } from './constants.ts'

/** The validators that may judge a claim of `claimant` (hex address): every validator but the claimant. */
function judgesOf (validatorKeys: readonly Uint8Array[], claimant: string): string[] {
  return validatorKeys.filter(k => toHex(addressBytesFromPublicKey(k)) !== claimant).map(k => toHex(k)).sort()
}

/** The rank of `key` among `judges` (sorted hex keys) on `taskId`, rotated by the task id; -1 when not among them. */
function rankAmong (judges: readonly string[], key: Uint8Array, taskId: string): number {
  const index = judges.indexOf(toHex(key))
  return index < 0 ? -1 : turnRank(index, BigInt(`0x${taskId.replace(/^0x/, '').slice(0, 16)}`), judges.length)
}

/**
 * The rank of validator `key` in the turn on a claim of `claimant` (hex address) on `taskId` (hex): core/turn.ts over
 * the sorted validator keys but the claimant's, rotated by the task id. The claimant, when it is a validator too, is
 * left out (it does not judge its own claim). -1 for the claimant itself or a key not in the set.
 */
export function claimCheckRank (validatorKeys: readonly Uint8Array[], key: Uint8Array, taskId: string, claimant: string): number {
  return rankAmong(judgesOf(validatorKeys, claimant), key, taskId)
}

/**
 * Whether `key` judges claim number `attempt` (0 for the first, 1.. for appeals) of `claimant` on `taskId`: the
 * validator of rank `attempt` (modulo the number of judges: with one judge, it judges every appeal too).
 */
export function isInputJudge (validatorKeys: readonly Uint8Array[], key: Uint8Array, taskId: string, claimant: string, attempt: number): boolean {
  const judges = judgesOf(validatorKeys, claimant)
  return judges.length > 0 && rankAmong(judges, key, taskId) === attempt % judges.length
}

/**
 * How many distinct judges' `unavailable` verdicts excuse a claim of `claimant` (INPUT_UNAVAILABLE_JUDGES, or fewer
 * where fewer validators may judge it). Recorded with each `unavailable` verdict when it applies.
 */
export function unavailableJudgesNeeded (validatorKeys: readonly Uint8Array[], claimant: string): number {
  return Math.max(1, Math.min(INPUT_UNAVAILABLE_JUDGES, judgesOf(validatorKeys, claimant).length))
}
