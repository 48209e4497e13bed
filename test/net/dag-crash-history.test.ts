// The kill -9 campaign with a history window of 4 heights (issue 11): every validator drops decided history from
// memory between kills, restarts from its graph index (the window, the undecided vertices, the tips) and catches up
// from peers that serve evicted vertices from disk; nothing reported final is lost and the network converges.
import test from 'ava'
import { runCrashCampaign } from '../../bench/lib/crash-campaign.ts'
import { assertCampaignSound } from '../helpers/crash-campaign.ts'

test.serial('10 kill -9s with a 4-height history window: nothing final lost, one state everywhere, supply conserved', async t => {
  t.timeout(420_000)
  const r = await runCrashCampaign({ kills: 10, nodes: 4, accounts: 8, txPerSecond: 30, runBetweenKillsMs: [300, 1200], downMs: [50, 600], historyWindow: 4, log: line => { t.log(line) } })
  assertCampaignSound(t, r, 10)
})
