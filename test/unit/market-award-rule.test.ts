/**
 * The award rule's order (docs/market.md "Award rule"): price, then standing (reputation counted only below zero),
 * then sha256(taskId ‖ provider). At an equal price, providers in good standing share the work by the per-task hash
 * whatever their track record; a provider whose faults outweigh its verified results loses the tie.
 */
import test from 'ava'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { sha256 } from '../../src/core/crypto.ts'
import { marketRules } from '../../src/market/index.ts'
import type { AwardTask, RevealedBid } from '../../src/market/rules/award.ts'

const { MIN_BOND, awardOf, standingOf } = marketRules

const INCUMBENT = '11'.repeat(20)
const NEWCOMER = '22'.repeat(20)
const FAULTY = '33'.repeat(20)

function taskId (i: number): string {
  return toHex(sha256(new TextEncoder().encode(`task ${i}`)))
}

/** The rule's last key, computed here apart from it: sha256(taskId ‖ provider). */
function tieHash (id: string, provider: string): string {
  return toHex(sha256(fromHex(id), fromHex(provider)))
}

function task (id: string, redundancy = 1): AwardTask {
  return { taskId: id, budget: 1_000n, redundancy, spotCheck: false, requirements: { executor: 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: false } }
}

function bid (provider: string, reputation: number, price = 100n): RevealedBid {
  return {
    provider,
    revealTx: toHex(sha256(new TextEncoder().encode(`reveal ${provider}`))),
    price,
    matches: true,
    inTime: true,
    bond: MIN_BOND,
    capability: { executor: 'cpu', adapter: 'cpu', memoryMiB: 1024, gflopsMilli: 1000, profile: 'cpu-ref-v1' },
    attested: false,
    reputation,
    slashed: false
  }
}

test('standing counts faults, not a track record', t => {
  t.is(standingOf(250), 0)
  t.is(standingOf(0), 0)
  t.is(standingOf(-3), -3)
})

test('at an equal price a newcomer wins the tasks its hash gives it, against an incumbent with a long record', t => {
  const wins = new Map<string, number>([[INCUMBENT, 0], [NEWCOMER, 0]])
  for (let i = 0; i < 200; i++) {
    const id = taskId(i)
    const outcome = awardOf(task(id), [bid(INCUMBENT, 250), bid(NEWCOMER, 0)])
    const expected = tieHash(id, INCUMBENT) < tieHash(id, NEWCOMER) ? INCUMBENT : NEWCOMER
    t.deepEqual(outcome.winners, [expected])
    const loser = expected === INCUMBENT ? NEWCOMER : INCUMBENT
    t.is(outcome.losses.get(loser), 'tie-hash')
    wins.set(expected, (wins.get(expected) ?? 0) + 1)
  }
  // the hash spreads 200 tasks between the two (the ids are fixed: this is the rule's arithmetic, not chance)
  t.true((wins.get(NEWCOMER) ?? 0) > 60, `newcomer won ${wins.get(NEWCOMER)} of 200`)
  t.true((wins.get(INCUMBENT) ?? 0) > 60, `incumbent won ${wins.get(INCUMBENT)} of 200`)
})

test('a provider whose faults outweigh its verified results loses every tie, by how far', t => {
  for (let i = 0; i < 50; i++) {
    const outcome = awardOf(task(taskId(i), 2), [bid(FAULTY, -4), bid(NEWCOMER, -1), bid(INCUMBENT, 40)])
    t.deepEqual(outcome.ranking.map(r => r.provider).slice(1), [NEWCOMER, FAULTY])
    t.is(outcome.ranking[0].provider, INCUMBENT)
    t.is(outcome.losses.get(FAULTY), 'tie-reputation')
  }
})

test('price comes first: a cheaper provider with faults beats a dearer one in good standing', t => {
  const outcome = awardOf(task(taskId(0)), [bid(INCUMBENT, 40, 101n), bid(FAULTY, -8, 100n)])
  t.deepEqual(outcome.winners, [FAULTY])
  t.is(outcome.losses.get(INCUMBENT), 'price')
})
