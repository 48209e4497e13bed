import test from 'ava'
import { bidsNote } from '../../src/api/market-views.ts'
import type { BidView, TaskView } from '../../src/market/state/reader.ts'

/** A task in `phase` with `awards` award rounds of one winner each (`expired`: the one award an expiry has, with none). */
const task = (phase: TaskView['phase'], awards = 0): TaskView => ({
  phase,
  awards: phase === 'expired' ? [{ winners: [] }] : Array.from({ length: awards }, () => ({ winners: ['p'] }))
} as unknown as TaskView)
const bid = (status: BidView['status'], lossReason?: BidView['lossReason']): BidView => ({ status, lossReason } as unknown as BidView)

test('market_bids says why a task has no winner: a cancel before the award is not a lack of valid bids', (t) => {
  t.is(bidsNote(task('cancelled'), [bid('committed'), bid('committed')]), 'cancelled: the requester cancelled the task before an award')
  t.is(bidsNote(task('expired'), [bid('committed')]), 'no-valid-bid: every bid was invalid or unrevealed')
  t.is(bidsNote(task('expired'), []), 'no-bid: no provider bid in the bid window')
  t.is(bidsNote(task('bidding'), []), 'no bids yet')
  t.is(bidsNote(task('settled', 1), [bid('won')]), null)
  t.is(bidsNote(task('expired'), [bid('invalid', 'late'), bid('invalid', 'late')]), 'no-valid-bid: every reveal came after the reveal window (a longer reveal window leaves busy providers more time)')
  t.is(bidsNote(task('expired'), [bid('invalid', 'late'), bid('invalid', 'over-budget')]), 'no-valid-bid: every bid was invalid or unrevealed')
  t.is(bidsNote(task('expired'), [bid('lost', 'unrevealed'), bid('invalid', 'late')]), 'no-valid-bid: every bid was invalid or unrevealed')
  t.is(bidsNote(task('expired'), [bid('excluded'), bid('invalid')]), 'excluded: in-time reveals were final only after the award was issued (each provider proves its bid with its commit and reveal)')
})
