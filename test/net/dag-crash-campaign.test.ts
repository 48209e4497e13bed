// The kill -9 campaign in CI time (issues 9 and 11): four validator processes under load, SIGKILLs of random
// validators (never two down at once), each restarted on its datadir, 6 under each consensus rule a genesis may
// name (10 until s44: the suite had reached its 15 minutes, and each kill costs a restart and a catch-up, ~7 s of a
// CI lane). `npm run soak:crash` runs the same with 100+ kills. (Since new networks default to the commit rule, the first
// test had silently become a second commit-rule campaign, and no campaign ran under Avalanche: it names its rule.)
// The commit rule's campaign runs with a history window of 4 heights: every validator drops decided history from
// memory between kills, restarts from its graph index (the window, the undecided vertices, the tips) and catches up
// from peers that serve evicted vertices from disk. It was a third campaign (dag-crash-history, 10 more kills of the
// same rule with only the window changed, about 100 s of a CI lane); a kill with the default window is dag-crash's.
import test from 'ava'
import { runCrashCampaign } from '../../bench/lib/crash-campaign.ts'
import { assertCampaignSound } from '../helpers/crash-campaign.ts'

const KILLS = 6

test.serial('under Avalanche: 6 kill -9s of random validators under load, nothing final lost, one state everywhere, supply conserved, all bound', async t => {
  t.timeout(300_000)
  const r = await runCrashCampaign({ kills: KILLS, nodes: 4, accounts: 8, txPerSecond: 30, runBetweenKillsMs: [300, 1200], downMs: [50, 600], rule: 'avalanche', log: line => { t.log(line) } })
  assertCampaignSound(t, r, KILLS)
  t.true(r.finalTxs.every(x => x === r.finalTxs[0]), `equal final counts: ${r.finalTxs.join(' ')}`)
  t.true(r.allBound, 'every node bound to every other at the end')
})

test.serial('under the commit rule with a 4-height history window: 6 kill -9s of random validators under load, nothing final lost, one state everywhere', async t => {
  // the rule resumes from the graph after each kill (commit-core.ts resumeFromGraph): a restart mid-round, with
  // vertices of the kept rounds accepted and others undecided, must rejoin the same sequence
  t.timeout(420_000)
  const r = await runCrashCampaign({ kills: KILLS, nodes: 4, accounts: 8, txPerSecond: 30, runBetweenKillsMs: [300, 1200], downMs: [50, 600], rule: 'commit', historyWindow: 4, log: line => { t.log(line) } })
  assertCampaignSound(t, r, KILLS)
  t.true(r.finalTxs.every(x => x === r.finalTxs[0]), `equal final counts: ${r.finalTxs.join(' ')}`)
  t.true(r.allBound, 'every node bound to every other at the end')
})
