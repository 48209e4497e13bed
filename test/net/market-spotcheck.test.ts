import test from 'ava'
import { submitMatmul } from '../../src/cli/market-workload.ts'
import { waitForTask } from '../../src/sdk/index.ts'
import { waitFor } from '../helpers/harmonyd.ts'
import { AGC, startMarketDevnet, type MarketDevnet } from '../helpers/market-devnet.ts'

// The spot-check case of market-faults on a devnet of its own, so its liar is fresh: after a fault slash, a liar
// did not always win the next auction (seen 3 times in 4 runs; not explained yet, see the session note).
// node 4 lies (devnet-only fault injection) and bids the lowest price, node 3 is honest and second cheapest, the
// others honest at the default price: node 4 wins every auction it may enter
const LIAR = 4
const HONEST_CHEAP = 3
// a provider bids once the announce is final on its node and its commit must be final inside the bid window: on a
// loaded 2-core machine running 5 nodes, 1.5 s (the workload's default) was sometimes too short for a provider
// other than the liar to get its commit in (seen: the honest cheap bid absent from market_bids)
const WINDOWS = { bidWindowMs: 3000, revealWindowMs: 2500 }

let net: MarketDevnet
test.before(async () => {
  net = await startMarketDevnet({
    nodes: 5,
    provider: (i) => i === LIAR
      ? { enabled: true, capacity: 8, minPrice: '1', pricePerGflop: '0', faultInjection: 'wrong-result' }
      : i === HONEST_CHEAP ? { enabled: true, capacity: 8, minPrice: '2', pricePerGflop: '0' } : { enabled: true, capacity: 8 }
  })
})
test.after.always(async () => { await net?.stop() })

test.serial('spot-check: the checker disagrees with the liar, which is slashed', async (t) => {
  const liar = net.addresses[LIAR]
  const task = await submitMatmul(net.faucet, { m: 8, k: 8, n: 8, budget: AGC / 100n, verification: 'spot-check', redundancy: 1, ...WINDOWS })
  const end = await waitForTask(net.clients[2], task.taskId, undefined, { timeoutMs: 90_000 })
  t.is(end.state, 'settled', JSON.stringify(end.settlement))
  t.deepEqual(end.awards[0].winners, [liar])
  t.truthy(end.awards[0].spotChecker)
  t.not(end.awards[0].spotChecker, liar)
  t.false(end.settlement?.payouts.some(p => p.provider === liar) ?? true)
  const slashed = await waitFor('the liar\'s fault slash', async () => {
    const now = await net.clients[2].call('task_get', [task.taskId])
    return now?.slashes.some(s => s.provider === liar && s.reason === 'fault') === true ? now : undefined
  }, 60_000)
  // every node tells the same story of who won, who checked and who was slashed
  const live = net.clients.filter((_, i) => i !== LIAR || net.nodes[LIAR].exitCode === undefined)
  const views = await Promise.all(live.map(async c => await waitFor('the slash everywhere', async () => {
    const v = await c.call('task_get', [task.taskId])
    return v !== null && v.slashes.length === slashed.slashes.length ? v : undefined
  }, 30_000)))
  for (const v of views) t.deepEqual([v.awards, v.slashes, v.settlement], [slashed.awards, slashed.slashes, slashed.settlement])
})
