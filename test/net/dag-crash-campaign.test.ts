// The kill -9 campaign in CI time (issue 9): four validator processes under load, SIGKILLs of random validators
// (never two down at once), each restarted on its datadir, 10 under each consensus rule a genesis may name (the
// Avalanche campaign took 2m52s of a quiet CI rehearsal for 20; dag-crash-history runs 10 more under the commit rule).
// `npm run soak:crash` runs the same with 100+ kills. (Since new networks default to the commit rule, the first
// test had silently become a second commit-rule campaign, and no campaign ran under Avalanche: it names its rule.)
import test from 'ava'
import { runCrashCampaign } from '../../bench/lib/crash-campaign.ts'
import { assertCampaignSound } from '../helpers/crash-campaign.ts'

test.serial('under Avalanche: 10 kill -9s of random validators under load, nothing final lost, one state everywhere, supply conserved, all bound', async t => {
  t.timeout(300_000)
  const r = await runCrashCampaign({ kills: 10, nodes: 4, accounts: 8, txPerSecond: 30, runBetweenKillsMs: [300, 1200], downMs: [50, 600], rule: 'avalanche', log: line => { t.log(line) } })
  assertCampaignSound(t, r, 10)
  t.true(r.finalTxs.every(x => x === r.finalTxs[0]), `equal final counts: ${r.finalTxs.join(' ')}`)
  t.true(r.allBound, 'every node bound to every other at the end')
})

test.serial('under the commit rule: 10 kill -9s of random validators under load, nothing final lost, one state everywhere', async t => {
  // the rule resumes from the graph after each kill (commit-core.ts resumeFromGraph): a restart mid-round, with
  // vertices of the kept rounds accepted and others undecided, must rejoin the same sequence
  t.timeout(300_000)
  const r = await runCrashCampaign({ kills: 10, nodes: 4, accounts: 8, txPerSecond: 30, runBetweenKillsMs: [300, 1200], downMs: [50, 600], rule: 'commit', log: line => { t.log(line) } })
  assertCampaignSound(t, r, 10)
  t.true(r.finalTxs.every(x => x === r.finalTxs[0]), `equal final counts: ${r.finalTxs.join(' ')}`)
  t.true(r.allBound, 'every node bound to every other at the end')
})
