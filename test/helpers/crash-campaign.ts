// What every kill -9 campaign test asserts of its report (test/net/dag-crash-*.test.ts).
import type { ExecutionContext } from 'ava'
import type { CrashCampaignReport } from '../../bench/lib/crash-campaign.ts'

/** Nothing final lost, the network converged to one state, supply conserved. */
export function assertCampaignSound (t: ExecutionContext, r: CrashCampaignReport, kills: number): void {
  t.log(JSON.stringify({ ...r, stateRoots: undefined }))
  t.is(r.kills, kills)
  t.true(r.txFinal > 0, 'the load made progress')
  t.true(r.durabilityChecks >= r.txFinal * 4, 'every reported-final transaction was checked on every node')
  t.true(r.converged, 'the network converged after the campaign')
  t.is(r.lost, 0, 'no transaction reported final was lost across a kill -9 (checked on the restarted node\'s disk)')
  t.is(r.notFinalAtEnd, 0, 'every transaction reported final is final on every node at the end')
  t.true(r.rootsEqual, `equal state roots: ${r.stateRoots.join(' ')}`)
  t.true(r.balancesEqual, 'equal balances of every account on every node')
  t.true(r.supplyConserved, 'supply = genesis - fees of final transactions on every node')
}
