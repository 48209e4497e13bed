/**
 * Reputation, derived from the DAG only: +1 per verified result, −4 per fault or late (docs/market.md
 * "Reputation"). The award rule counts it as of a fixed market time (the task's announce), so an outcome that
 * becomes final while validators check an award cannot make them disagree: every event before that time was final
 * long before the award (the bid and reveal windows lie between).
 */
import { REPUTATION_PENALTY, REPUTATION_VERIFIED } from './constants.ts'

/** Recent reputation events kept per provider; older ones fold into `base` (a bounded record). */
export const REPUTATION_HISTORY = 256

export interface ReputationRecord {
  /** sum of folded events, all at or before `baseUntilMs` */
  base: number
  baseUntilMs: number
  /** [market time ms, delta], in time order */
  recent: Array<[number, number]>
}

export function emptyReputation (): ReputationRecord {
  return { base: 0, baseUntilMs: 0, recent: [] }
}

export function reputationDelta (event: 'verified' | 'fault' | 'late'): number {
  return event === 'verified' ? REPUTATION_VERIFIED : REPUTATION_PENALTY
}

/** Adds an event (returns a new record; the input is not changed). */
export function addReputation (rec: ReputationRecord, timeMs: number, delta: number): ReputationRecord {
  const recent = [...rec.recent, [timeMs, delta] as [number, number]].sort((a, b) => a[0] - b[0])
  let { base, baseUntilMs } = rec
  while (recent.length > REPUTATION_HISTORY) {
    const [t, d] = recent.shift() as [number, number]
    base += d
    baseUntilMs = Math.max(baseUntilMs, t)
  }
  return { base, baseUntilMs, recent }
}

/** Reputation counting the events strictly before `timeMs` (all of them with Infinity). */
export function reputationAt (rec: ReputationRecord, timeMs: number): number {
  let sum = rec.base
  for (const [t, d] of rec.recent) if (t < timeMs) sum += d
  return sum
}
