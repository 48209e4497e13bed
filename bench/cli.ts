// npm run bench:cli [-- --json] [--runs 7]
//
// What a `harmonyd` client command costs to start: each command, run --runs times to its exit (median wall time,
// the compile cache warm), against `harmonyd start --help` in the same run, which loads the daemon's whole import
// graph (libp2p, the ledger, the market, ethers) and exits: what every command loaded before the CLI loaded only
// the command that runs (s38, cli/index.ts). `node -e 0` is the floor (Node itself). The client commands talk to
// no node: `task list` and `status` name an RPC port nothing listens on and fail at the connection, after paying
// their start-up; `wallet address` reads a wallet file.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type BenchResult, printResults } from './report.ts'

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, runs: { type: 'string', default: '7' } } })
const RUNS = Math.max(1, Number(values.runs))
const BIN = fileURLToPath(new URL('../bin/harmonyd.ts', import.meta.url))
const log = (msg: string): void => { if (!values.json) process.stderr.write(`# ${msg}\n`) }

/** Wall time of one run of `node ...args` to its exit, in ms (its exit code is not judged: see the header). */
async function timed (args: string[]): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, args, { stdio: 'ignore' })
  await once(child, 'exit')
  return performance.now() - started
}

/** A port nothing listens on (bound, then closed). */
async function closedPort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  return typeof address === 'object' && address !== null ? address.port : 9
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const dir = await mkdtemp(join(tmpdir(), 'harmony-bench-cli-'))
try {
  const datadir = join(dir, 'node')
  await timed([BIN, 'init', '--datadir', datadir, '--network', 'devnet'])
  const rpc = `http://127.0.0.1:${await closedPort()}`
  const cases: Array<[string, string[]]> = [
    ['node_bare', ['-e', '0']],
    ['version', [BIN, '--version']],
    ['wallet_address', [BIN, 'wallet', 'address', '--datadir', datadir, '--wallet', join(datadir, 'keys', 'faucet.json')]],
    ['status', [BIN, 'status', '--rpc', rpc]],
    ['task_list', [BIN, 'task', 'list', '--rpc', rpc]],
    ['daemon_imports', [BIN, 'start', '--help']]
  ]
  // one run of each first: the compile cache is written by the first run of a module
  for (const [, args] of cases) await timed(args)
  const times = new Map<string, number[]>(cases.map(([name]) => [name, []]))
  // interleaved, so a change in the machine's load falls on every case alike
  for (let r = 0; r < RUNS; r++) {
    for (const [name, args] of cases) times.get(name)?.push(await timed(args))
  }
  const baseline = median(times.get('daemon_imports') ?? [])
  const results: BenchResult[] = cases.filter(([name]) => name !== 'daemon_imports').map(([name]) => ({
    bench: 'cli',
    metric: `${name}_ms`,
    value: median(times.get(name) ?? []),
    unit: 'ms',
    baseline: 'harmonyd start --help (the daemon\'s imports)',
    baseline_value: baseline
  }))
  log(`${RUNS} runs of each, medians`)
  printResults(results, values.json)
} finally {
  await rm(dir, { recursive: true, force: true })
}
