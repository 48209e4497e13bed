/**
 * Turn-taking without coordination (checkpoint submission, bridge proposals): every node sorts the same
 * participant list, and the participant at rank r acts after r delays, so usually exactly one acts and a silent
 * one is covered by the next. Rotating the ranks by the round (an epoch, a deposit id) spreads the work and the
 * gas across participants.
 *
 * Returns the rank in [0, count) of the participant at `position` in the sorted list for `round`; a node outside
 * the list (`position` < 0) gets `count`, so it acts only after every participant had its turn.
 */
export function turnRank (position: number, round: bigint, count: number): number {
  if (count <= 0) return 0
  if (position < 0) return count
  return (position - Number(round % BigInt(count)) + count) % count
}
