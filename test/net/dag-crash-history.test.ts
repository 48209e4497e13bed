// The kill -9 campaign with a history window of 4 heights (issue 11): every validator drops decided history from
// memory between kills, restarts from its graph index (the window, the undecided vertices, the tips) and catches up
// from peers that serve evicted vertices from disk; nothing reported final is lost and the network converges.
import test from 'ava'
import { runCrashCampaign } from '../../bench/lib/crash-campaign.ts'

test.serial('10 kill -9s with a 4-height history window: nothing final lost, one state everywhere, supply conserved', async t => {
  t.timeout(420_000)
  const r = await runCrashCampaign({ kills: 10, nodes: 4, accounts: 8, txPerSecond: 30, runBetweenKillsMs: [300, 1200], downMs: [50, 600], historyWindow: 4, log: line => { t.log(line) } })
  t.log(JSON.stringify({ ...r, stateRoots: undefined }))
  t.is(r.kills, 10)
  t.true(r.txFinal > 0, 'the load made progress')
  t.true(r.durabilityChecks >= r.txFinal * 4, 'every reported-final transaction was checked on every node')
  t.true(r.converged, 'the network converged after the campaign')
  t.is(r.lost, 0, 'no transaction reported final was lost across a kill -9 (checked on the restarted node\'s disk)')
  t.is(r.notFinalAtEnd, 0, 'every transaction reported final is final on every node at the end')
  t.true(r.rootsEqual, 'equal state roots')
  t.true(r.balancesEqual, 'equal balances')
  t.true(r.supplyConserved, 'supply conserved')
})
