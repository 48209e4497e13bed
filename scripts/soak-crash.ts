// `npm run soak:crash [-- --kills N --rate TX_PER_S --rule avalanche|commit]`: the long kill -9 campaign (not in CI). Prints progress, then
// its figures as one JSON line; exits 1 when anything was lost or the nodes disagree.
import { parseArgs } from 'node:util'
import { runCrashCampaign } from '../bench/lib/crash-campaign.ts'

const { values } = parseArgs({ options: { kills: { type: 'string', default: '100' }, rate: { type: 'string', default: '30' }, accounts: { type: 'string', default: '8' }, rule: { type: 'string', default: 'commit' } } })
if (values.rule !== 'avalanche' && values.rule !== 'commit') throw new Error('--rule is avalanche or commit')
const r = await runCrashCampaign({
  rule: values.rule,
  kills: Number(values.kills),
  txPerSecond: Number(values.rate),
  accounts: Number(values.accounts),
  log: line => { console.log(line) }
})
const ok = r.lost === 0 && r.notFinalAtEnd === 0 && r.converged && r.rootsEqual && r.balancesEqual && r.supplyConserved && r.allBound
console.log(`kills ${r.kills}, durability checks ${r.durabilityChecks}, lost ${r.lost}, not final at the end ${r.notFinalAtEnd}, tx final ${r.txFinal} (submitted ${r.submitted}, refused ${r.refused}), roots equal ${r.rootsEqual}, balances equal ${r.balancesEqual}, supply conserved ${r.supplyConserved}, all bound ${r.allBound}, rebind failures ${r.rebindFailures}, ${Math.round(r.durationMs / 1000)} s`)
console.log(JSON.stringify({ soak: 'crash', ok, ...r }))
process.exit(ok ? 0 : 1)
