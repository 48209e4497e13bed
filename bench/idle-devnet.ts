// npm run bench:idle [-- --nodes 5] [--seconds 60] [--rule avalanche|commit] [--json]
//
// What an idle devnet costs: node CPU per second (user + system, each node's process tree) with no load at all, over
// --seconds from 10 s after the nodes started. The baseline, in the same run: one node alone (no peer, so no
// gossip, no polls, no discovery walks), started right after and measured the same way.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createLogger } from '../src/core/logger.ts'
import { Devnet } from '../src/node/devnet.ts'
import { printResults, type BenchResult } from './report.ts'
import { treeCpuSeconds } from './lib/proc-cpu.ts'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    nodes: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '60' },
    rule: { type: 'string', default: 'commit' }
  }
})
const NODES = Number(values.nodes)
const SECONDS = Number(values.seconds)
if (!Number.isInteger(NODES) || NODES < 2) throw new Error('--nodes must be an integer ≥ 2')
if (!(SECONDS > 0)) throw new Error('--seconds must be positive')
if (values.rule !== 'avalanche' && values.rule !== 'commit') throw new Error('--rule is avalanche or commit')
const log = (line: string): void => { if (!values.json) process.stderr.write(`# ${line}\n`) }

/** Node CPU seconds per second of an idle devnet of `nodes`, measured over SECONDS after a settling pause. */
async function idleCpu (nodes: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-idle-'))
  const devnet = new Devnet({ nodes, basePort: 0, datadir: dir, chain: false, logLevel: 'warn', logger: createLogger({ level: 'warn' }), consensus: values.rule as 'avalanche' | 'commit' })
  try {
    const started = await devnet.start()
    const pids = started.flatMap(n => n.process.pid === undefined ? [] : [n.process.pid])
    // start-up work (compiling, the first dials, the capability benchmark) is not idling
    await new Promise(resolve => setTimeout(resolve, 10_000))
    const before = await treeCpuSeconds(pids)
    const t0 = performance.now()
    await new Promise(resolve => setTimeout(resolve, SECONDS * 1000))
    const after = await treeCpuSeconds(pids)
    if (before === undefined || after === undefined) throw new Error('no /proc to read CPU time from')
    return (after - before) / ((performance.now() - t0) / 1000)
  } finally {
    await devnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

log(`idle ${NODES}-node devnet (${values.rule}), ${SECONDS} s`)
const many = await idleCpu(NODES)
log(`one node alone, ${SECONDS} s`)
const one = await idleCpu(1).catch(() => NaN)
const results: BenchResult[] = [{
  bench: 'idle-devnet',
  metric: `node CPU, ${NODES} idle nodes (ms/s per node)`,
  value: Math.round((many / NODES) * 1000 * 10) / 10,
  unit: 'ms/s',
  baseline: 'one node alone, same run',
  baseline_value: Math.round(one * 1000 * 10) / 10,
  ratio: Math.round((many / NODES / one) * 100) / 100
}]
printResults(results, values.json)
