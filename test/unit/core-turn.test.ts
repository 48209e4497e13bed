import test from 'ava'
import { turnRank } from '../../src/core/turn.ts'

test('every round gives each participant one distinct rank, rotated by the round', t => {
  for (const count of [1, 2, 3, 7]) {
    for (let round = 0n; round < 10n; round++) {
      const ranks = Array.from({ length: count }, (_, position) => turnRank(position, round, count))
      t.deepEqual([...ranks].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i))
      t.is(turnRank(Number(round % BigInt(count)), round, count), 0, 'the participant at round mod count goes first')
    }
  }
})

test('a node outside the set goes after every participant; an empty set has rank 0', t => {
  t.is(turnRank(-1, 5n, 4), 4)
  t.is(turnRank(-1, 5n, 0), 0)
  t.is(turnRank(0, 2n ** 70n + 1n, 3), (0 - Number((2n ** 70n + 1n) % 3n) + 3) % 3)
})
