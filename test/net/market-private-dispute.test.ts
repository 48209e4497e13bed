import test from 'ava'
import { waitFor } from '../helpers/harmonyd.ts'
import { AGC, LIAR, startFaultsDevnet, taskTheLiarWon, type MarketDevnet } from '../helpers/market-devnet.ts'

// A private task cannot be re-executed in a dispute (its inputs are sealed to its providers): when the liar (the
// cheapest bidder, so the winner) and the spot-checker disagree, the task settles `unresolved` on every node: the
// whole escrow back to the requester, nobody paid, nobody slashed (docs/market.md "Private tasks"). Before, the
// validators waited forever on a re-execution they could not run and the escrow stayed locked.
let net: MarketDevnet
test.before(async () => {
  net = await startFaultsDevnet()
})
test.after.always(async () => { await net?.stop() })

test.serial('a private task whose liar and spot-checker disagree is refunded whole, nobody paid or slashed', async (t) => {
  const liar = net.addresses[LIAR]
  const budget = AGC / 100n
  const { taskId, end } = await taskTheLiarWon(t, net, { private: true })
  t.is(end.state, 'refunded', JSON.stringify(end.settlement))
  t.deepEqual(end.awards[0].winners, [liar])
  t.truthy(end.awards[0].spotChecker)
  t.is(end.results.length, 2, 'both answered')
  t.not(end.results[0].commitment, end.results[1].commitment, 'and disagree')
  t.is(end.settlement?.outcome, 'unresolved')
  t.deepEqual(end.settlement?.payouts, [])
  t.is(end.settlement?.fee, '0')
  t.is(end.settlement?.refund, (budget * 2n).toString(), 'the escrow of the winner and the checker goes back whole')
  t.deepEqual(end.slashes, [])
  // every node holds the same settle, and none issued a slash for it (its settle names no fault)
  const views = await Promise.all(net.clients.map(async c => await waitFor('the settle everywhere', async () => {
    const v = await c.call('task_get', [taskId])
    return v?.settlement !== null && v?.settlement !== undefined ? v : undefined
  }, 30_000)))
  for (const v of views) t.deepEqual([v.awards, v.settlement, v.slashes], [end.awards, end.settlement, []])
})
