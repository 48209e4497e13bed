// The commit rule's pacing follows the machine's idle CPU: the idle pace while enough idles, the busy pace when the
// cores are full, in proportion between; and the sampler it reads answers the idle share of the last full window.
// And the proposer's loop: a build that returns nothing waits for the next event, it does not ask again at once.
import { EventEmitter } from 'node:events'
import test from 'ava'
import { MachineIdle } from '../../src/core/machine-idle.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { BUSY_PACE_FROM, IDLE_PACE_FROM, RoundProposer, type RoundProposerComponents, roundPace } from '../../src/dag/net/round-proposer.ts'

const idle = { minRoundMs: 25, leaderWaitMs: 40 }
const busy = { minRoundMs: 50, leaderWaitMs: 100 }

test('the idle pace on idle cores, the busy pace on full ones, in proportion between', t => {
  t.deepEqual(roundPace(1, idle, busy), idle)
  t.deepEqual(roundPace(IDLE_PACE_FROM, idle, busy), idle)
  t.deepEqual(roundPace(BUSY_PACE_FROM, idle, busy), busy)
  t.deepEqual(roundPace(0, idle, busy), busy)
  t.deepEqual(roundPace((IDLE_PACE_FROM + BUSY_PACE_FROM) / 2, idle, busy), { minRoundMs: 38, leaderWaitMs: 70 })
  // less idle CPU never means shorter rounds
  let last = roundPace(1, idle, busy)
  for (let share = 1; share >= 0; share -= 0.01) {
    const p = roundPace(share, idle, busy)
    t.true(p.minRoundMs >= last.minRoundMs && p.leaderWaitMs >= last.leaderWaitMs, `share ${share}`)
    last = p
  }
})

test('a share that is no number paces as busy', t => {
  t.deepEqual(roundPace(Number.NaN, idle, busy), busy)
  t.deepEqual(roundPace(Number.POSITIVE_INFINITY, idle, busy), busy)
})

test('the sampler answers the last full window, busy before the first', t => {
  let counters = { idle: 1000, busy: 1000 }
  const sampler = new MachineIdle(1000, () => counters)
  const t0 = Date.now()
  // nothing is known before a window has passed
  t.is(sampler.idleShare(t0), 0)
  counters = { idle: 1300, busy: 1100 }
  t.is(sampler.idleShare(t0 + 500), 0)
  t.is(sampler.idleShare(t0 + 1000), 0.75)
  // within the window the counters are not read again
  counters = { idle: 1300, busy: 2100 }
  t.is(sampler.idleShare(t0 + 1500), 0.75)
  t.is(sampler.idleShare(t0 + 2000), 0)
  // counters that did not move (or went back: a core taken offline) keep the share before
  t.is(sampler.idleShare(t0 + 3000), 0)
  counters = { idle: 1200, busy: 2000 }
  t.is(sampler.idleShare(t0 + 4000), 0)
  counters = { idle: 1600, busy: 2100 }
  t.is(sampler.idleShare(t0 + 5000), 0.8)
})

test('the sampler reads this machine\'s cores: a busy thread shows', t => {
  const sampler = new MachineIdle(0)
  const until = Date.now() + 300
  let x = 0
  while (Date.now() < until) x += Math.sqrt(x + 1)
  const share = sampler.idleShare()
  t.true(x > 0)
  t.true(share >= 0 && share < 1, `idle share ${share} after 300 ms of a busy thread`)
})

test('a build that returns nothing (the ledger full of undecided vertices) waits for the next insert instead of spinning', async t => {
  let builds = 0
  // a ledger whose round is always due and whose builder never builds: what a ledger at its undecided bound answers
  const ledger = Object.assign(new EventEmitter(), {
    roundView: () => ({ round: 7, built: false, leaderSeen: true, work: true, full: false }),
    buildVertex: async () => { builds++ },
    consensusGauges: () => {}
  })
  // the ledger's `on`/`off` return the ledger itself: only the events matter here
  const proposer = new RoundProposer({ ledger: ledger as unknown as RoundProposerComponents['ledger'], gossip: { publish: async () => { throw new Error('nothing to publish') } }, logger: silentLogger() }, { idleCheckMs: 60_000, machineIdle: () => 1 })
  await proposer.start()
  // many turns of the event loop: the loop asked once and sleeps (before, it asked again at every turn)
  for (let i = 0; i < 200; i++) await new Promise(resolve => setImmediate(resolve))
  t.is(builds, 1)
  // an inserted vertex wakes it: it asks once more
  ledger.emit('vertex:inserted')
  for (let i = 0; i < 200 && builds < 2; i++) await new Promise(resolve => setImmediate(resolve))
  for (let i = 0; i < 50; i++) await new Promise(resolve => setImmediate(resolve))
  t.is(builds, 2)
  await proposer.stop()
})
