import test from 'ava'
import { silentLogger } from '../../src/core/logger.ts'
import { DrainLoop } from '../../src/market/state/drain-loop.ts'

// MarketState's drain loop: `caughtUp` waits for what was queued before it, not for a quiet queue.

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A queue of numbered entries; a pass applies what was queued when it began (each entry taking a while), as MarketState's reads to the queue's end. */
function queueRig (): { loop: DrainLoop, queue: () => void, queued: () => number, applied: () => number, passes: { running: number, most: number } } {
  let queued = 0
  let applied = 0
  const passes = { running: 0, most: 0 }
  const loop = new DrainLoop(async () => {
    passes.running++
    passes.most = Math.max(passes.most, passes.running)
    try {
      const end = queued
      if (applied >= end) return false
      while (applied < end) { await sleep(1); applied++ }
      return true
    } finally {
      passes.running--
    }
  }, silentLogger())
  // entries arrive three at a time: faster than a pass applies them
  return { loop, queue: () => { queued += 3; loop.schedule() }, queued: () => queued, applied: () => applied, passes }
}

test('caughtUp resolves once everything queued before it is applied, while arrivals keep the loop busy for good', async t => {
  const r = queueRig()
  r.loop.start()
  // three entries every millisecond, faster than the loop applies them: the queue is never empty again
  const arrivals = setInterval(r.queue, 1)
  try {
    await sleep(30)
    const before = r.queued()
    await r.loop.caughtUp()
    t.true(r.applied() >= before, `applied ${r.applied()} of the ${before} queued before the call`)
    t.true(r.queued() > r.applied(), 'the queue was still not empty: waiting for it to drain would not have returned')
    t.is(r.passes.most, 1, 'one pass at a time')
  } finally {
    clearInterval(arrivals)
    await r.loop.stop()
  }
})

test('caughtUp on an idle loop runs a pass; stopping fails the readers still waiting, and a stopped loop drains in place', async t => {
  const r = queueRig()
  r.loop.start()
  r.queue()
  await r.loop.caughtUp()
  t.is(r.applied(), 3)
  const arrivals = setInterval(r.queue, 1)
  await sleep(10)
  // the pass it waits for either finishes before the stop or never will: it resolves or fails, it never hangs
  const waiting = r.loop.caughtUp().then(() => 'applied', (err: Error) => err.message)
  await r.loop.stop()
  clearInterval(arrivals)
  const outcome = await waiting
  t.true(outcome === 'applied' || /stopped/.test(outcome), outcome)
  // stopped: a reader still gets everything queued, applied in its own call
  const before = r.queued()
  await r.loop.caughtUp()
  t.is(r.applied(), before)
})

test('a stop cuts short a stopped loop\'s drain in place: caughtUp fails then, and while the loop stops, instead of resolving on a state that only looks caught up', async t => {
  const r = queueRig()
  for (let i = 0; i < 20; i++) r.queue()
  // not started: the reader drains in place (what the ledger's order checks do before the market starts)
  const draining = r.loop.caughtUp().then(() => 'resolved', (err: Error) => err.message)
  await sleep(5)
  const stopping = r.loop.stop()
  t.regex(await r.loop.caughtUp().then(() => 'resolved', (err: Error) => err.message), /stopping/)
  await stopping
  t.regex(await draining, /stopped before it caught up/)
  // once stopped, a reader drains everything in place again
  await r.loop.caughtUp()
  t.is(r.applied(), r.queued())
})
