import test from 'ava'
import { type MarketDevnet, spotCheckCatchesTheLiar, startFaultsDevnet } from '../helpers/market-devnet.ts'

// market-spotcheck under the commit rule: the dispute between the liar and its checker is settled by the
// re-executions validators holding the quorum put in the order (task-reexec), which every node reads the same
let net: MarketDevnet
test.before(async () => {
  net = await startFaultsDevnet('commit')
})
test.after.always(async () => { await net?.stop() })

test.serial('spot-check under the commit rule: the validators\' re-executions in the order settle the dispute, the liar is slashed', async (t) => { await spotCheckCatchesTheLiar(t, net) })
