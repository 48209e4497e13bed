import test from 'ava'
import { type MarketDevnet, spotCheckCatchesTheLiar, startFaultsDevnet } from '../helpers/market-devnet.ts'

// market-faults' spot-check under Avalanche (market-faults runs the default, the commit rule): the dispute between the
// liar and its checker is settled by each validator's own re-execution, checked when it votes on the settle
let net: MarketDevnet
test.before(async () => {
  net = await startFaultsDevnet('avalanche')
})
test.after.always(async () => { await net?.stop() })

test.serial('spot-check under Avalanche: each validator\'s own re-execution settles the dispute, the liar is slashed', async (t) => { await spotCheckCatchesTheLiar(t, net) })
