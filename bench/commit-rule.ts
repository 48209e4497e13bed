// npm run bench:commit-rule [-- --json] [--rounds 60] [--validators 4,20,100] [--leaders 1,all]
//
// What the DAG commit rule (src/dag/consensus/commit-rule.ts, not wired yet) costs a node per vertex: each vertex of
// a round-based DAG is added and `next()` is called after it, as a node would on every insert. Every vertex names the
// previous round's vertices but a random tenth of them (late arrivals), never fewer than a quorum. --leaders: leader
// slots per round, a number or `all` (every validator, the ledger's default). CPU per vertex against one ML-DSA-65 verification (the cost every
// received vertex already pays; same run). A ratio well below 1 means the rule is not what a node's CPU goes to.
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { generateKeyPair, sign, verify } from '../src/core/crypto.ts'
import { CommitRule, type RoundVertex } from '../src/dag/consensus/commit-rule.ts'
import { type BenchResult, printResults } from './report.ts'

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, rounds: { type: 'string', default: '60' }, validators: { type: 'string', default: '4,20,100' }, leaders: { type: 'string', default: '1,all' } } })
const ROUNDS = Number(values.rounds)
const SIZES = values.validators.split(',').map(Number)
const LEADERS = values.leaders.split(',')
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }
const cpuUs = (u: NodeJS.CpuUsage): number => u.user + u.system

/** A DAG of `n` validators over ROUNDS rounds; each vertex names the last round but a random tenth, at least a quorum. */
function dag (n: number, quorum: number): RoundVertex[] {
  const authors = Array.from({ length: n }, (_, i) => `v${i}`)
  const all: RoundVertex[] = []
  let previous: string[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    const ids = authors.map(a => `r${round}-${a}`)
    for (const [i, author] of authors.entries()) {
      const shuffled = [...previous].sort(() => Math.random() - 0.5)
      const parents = shuffled.filter((_, k) => k < quorum || Math.random() >= 0.1)
      all.push({ id: ids[i], author, round, parents })
    }
    previous = ids
  }
  return all
}

/** CPU µs per vertex of adding `vertices` one at a time with next() after each; the committed slots. */
function run (n: number, vertices: RoundVertex[], quorum: number, leaders: number): { us: number, slots: number } {
  const authors = Array.from({ length: n }, (_, i) => `v${i}`)
  const rule = new CommitRule({ stake: new Map(authors.map(a => [a, 1])), quorum, leaderOf: (r, i) => authors[(r + i) % n], leaders })
  let slots = 0
  const t0 = process.cpuUsage()
  for (const v of vertices) {
    rule.add(v)
    slots += rule.next().length
  }
  return { us: cpuUs(process.cpuUsage(t0)) / vertices.length, slots }
}

// the baseline: one ML-DSA-65 verification of a vertex digest's signing message
const key = generateKeyPair()
const msg = randomBytes(96)
const sig = sign(msg, key.secretKey)
for (let i = 0; i < 50; i++) verify(sig, msg, key.publicKey)
const v0 = process.cpuUsage()
const VERIFIES = 400
for (let i = 0; i < VERIFIES; i++) if (!verify(sig, msg, key.publicKey)) throw new Error('the baseline signature does not verify')
const verifyUs = cpuUs(process.cpuUsage(v0)) / VERIFIES
log(`one ML-DSA-65 verification: ${verifyUs.toFixed(1)} µs CPU`)

const results: BenchResult[] = []
for (const n of SIZES) {
  const quorum = Math.floor((2 * n) / 3) + 1
  const vertices = dag(n, quorum)
  for (const l of LEADERS) {
    const leaders = l === 'all' ? n : Number(l)
    run(n, vertices, quorum, leaders) // the JIT's warm-up, not counted
    const { us, slots } = run(n, vertices, quorum, leaders)
    log(`${n} validators, ${leaders} leaders a round, ${ROUNDS} rounds (${vertices.length} vertices): ${us.toFixed(1)} µs CPU per vertex, ${slots} slots decided`)
    results.push({ bench: 'commit-rule', metric: `cpu_per_vertex_${n}_validators_${leaders}_leaders`, value: us, unit: 'µs', baseline: 'one ML-DSA-65 verification, same run', baseline_value: verifyUs })
  }
}
printResults(results, values.json)
