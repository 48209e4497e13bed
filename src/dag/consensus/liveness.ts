/**
 * The liveness rule of a conflict set (docs/protocol.md, "Liveness of conflicts").
 *
 * With preferences split (say 2 | 2 after a partition heals), no member of a conflict set ever reaches the
 * quorum, so no chit is ever given and, under the Snowball rule alone, nobody's preference moves: the set stays
 * undecided for good (measured: "a double spend sent to two nodes at once" timed out 1 run in 3). So in a set a poll
 * touched where no member had a successful poll, the preference moves to the member with the most stake in that
 * poll, ties broken by the lowest transaction id (then instance key), when that member has at least as much stake
 * as the current preference. Every honest node applies the same order, so a tie breaks the same way everywhere and
 * the network leans to one member until it gathers a quorum. Safety is untouched: this moves preferences only; a
 * decision still needs β consecutive polls that each carry a quorum of stake.
 */

export interface LeaningInput {
  /** Instance keys of the set's members. */
  members: Iterable<string>
  /** The current preference (an instance key). */
  pref: string
  /** Stake that voted in this poll for the member's vertex (or a descendant). */
  stakeOf: (member: string) => number
  /** The member's transaction id (hex): the tie-break. */
  txOf: (member: string) => string
  /** Only live (processing) members can be leaned to. */
  isLive: (member: string) => boolean
}

/** The member the preference moves to under the liveness rule (the current preference when it stays). */
export function leanTowardsPoll (input: LeaningInput): string {
  const { pref, stakeOf } = input
  let best = pref
  for (const m of input.members) {
    if (m === best || !input.isLive(m)) continue
    const diff = stakeOf(m) - stakeOf(best)
    if (diff > 0 || (diff === 0 && tieOrder(input, m, best) < 0)) best = m
  }
  return best !== pref && stakeOf(best) > 0 && stakeOf(best) >= stakeOf(pref) ? best : pref
}

/** Lowest transaction id first, then lowest instance key. */
function tieOrder (input: LeaningInput, a: string, b: string): number {
  const ta = input.txOf(a)
  const tb = input.txOf(b)
  if (ta !== tb) return ta < tb ? -1 : 1
  return a === b ? 0 : (a < b ? -1 : 1)
}
