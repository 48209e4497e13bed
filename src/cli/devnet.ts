import { resolve } from 'node:path'
import type { CommandModule } from 'yargs'
import { createLogger } from '../core/logger.ts'
import { Devnet, devnetClient, type DevnetNode } from '../node/devnet.ts'
import { HarmonyClient } from '../sdk/client.ts'
import { errorMessage } from '../core/errors.ts'
import type { GlobalArgs } from './common.ts'
import { DEMO_NODE_ARGS, runDemo } from './devnet-demo.ts'

interface DevnetArgs extends GlobalArgs {
  nodes: number
  'base-port': number
  'log-level': string
  'peer-timeout': number
  demo: boolean
  live?: boolean
  consensus?: 'avalanche' | 'commit'
  validators?: number
}

/** One node's row of the live status: what node_health and dag_stats said, or undefined when it did not answer. */
export interface NodeStatusSample {
  health: { state: string, peers: number, uptimeSeconds: number }
  stats: { finalTxs: number, finalityP50Ms: number, processing: number, mempool: number, busyRefusals: number }
  atMs: number
}

/**
 * The live status line of one node: final transactions per second since the previous sample, the median vertex
 * finality of the node's last 10 s, new transactions it refused as busy per second (admission control), and what
 * it still holds undecided.
 */
export function statusLine (index: number, now: NodeStatusSample | undefined, previous: NodeStatusSample | undefined): string {
  if (now === undefined) return `  node ${index}  down`
  const spanS = previous === undefined ? 0 : (now.atMs - previous.atMs) / 1000
  const perSecond = (field: 'finalTxs' | 'busyRefusals'): number => spanS > 0 && previous !== undefined ? (now.stats[field] - previous.stats[field]) / spanS : 0
  const rate = perSecond('finalTxs')
  return `  node ${index}  ${now.health.state.padEnd(8)} peers ${String(now.health.peers).padStart(3)}  ` +
    `final ${rate.toFixed(1).padStart(7)} tx/s  finality p50 ${String(Math.round(now.stats.finalityP50Ms)).padStart(5)} ms  ` +
    `busy ${perSecond('busyRefusals').toFixed(1).padStart(6)}/s  pending ${String(now.stats.mempool + now.stats.processing).padStart(5)}  uptime ${formatUptime(now.health.uptimeSeconds)}`
}

const STATUS_INTERVAL_MS = 2000
/** Beside the demo's scrolling lines: the block appended this often. */
const DEMO_STATUS_INTERVAL_MS = 10_000

export interface LiveStatusInit {
  intervalMs: number
  /** Redraw the block in place (a terminal), else append it (a pipe, a log, or beside the demo's lines). */
  redraw: boolean
  write: (text: string) => void
}

/**
 * Every `intervalMs`, each node's status line (statusLine) under a heading with the devnet's uptime: a node that does
 * not answer shows as down. Returns the timer (cleared by the caller).
 */
export function liveStatus (clients: Array<Pick<HarmonyClient, 'call'>>, init: LiveStatusInit): NodeJS.Timeout {
  const started = Date.now()
  let drawn = 0
  let previous: Array<NodeStatusSample | undefined> = clients.map(() => undefined)
  const sample = async (c: Pick<HarmonyClient, 'call'>): Promise<NodeStatusSample | undefined> => {
    const [health, stats] = await Promise.all([c.call('node_health', []), c.call('dag_stats', [])])
    return { health, stats, atMs: Date.now() }
  }
  return setInterval(() => {
    void Promise.all(clients.map(async c => await sample(c).catch(() => undefined)))
      .then((rows) => {
        const lines = rows.map((r, i) => statusLine(i, r, previous[i]))
        previous = rows
        lines.unshift(`status (devnet up ${formatUptime(Math.floor((Date.now() - started) / 1000))})`)
        if (init.redraw) init.write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map(l => `\x1b[2K${l}`).join('\n')}\n`)
        else init.write(`${lines.join('\n')}\n`)
        drawn = lines.length
      })
  }, init.intervalMs)
}

async function peerCount (client: HarmonyClient): Promise<number> {
  const health = await client.call('node_health', [])
  return health.peers
}

/** Waits until every node has `want` peers (or the timeout passes); returns the counts seen last. */
async function waitForPeers (nodes: DevnetNode[], clients: HarmonyClient[], want: number, timeoutMs: number, signal: AbortSignal): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  let counts = nodes.map(() => 0)
  while (!signal.aborted) {
    counts = await Promise.all(clients.map(c => peerCount(c).catch(() => 0)))
    if (counts.every(c => c >= want) || Date.now() > deadline) return counts
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return counts
}

function formatUptime (seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return `${h > 0 ? `${h}h` : ''}${m}m${String(seconds % 60).padStart(2, '0')}s`
}

export const devnetCommand: CommandModule<GlobalArgs, DevnetArgs> = {
  command: 'devnet',
  describe: 'Run a local network of N harmonyd processes on loopback',
  builder: (y) => y
    .option('nodes', { type: 'number', default: 4, describe: 'number of nodes (1-64)' })
    .option('validators', { type: 'number', describe: 'how many of the nodes (the first ones) are validators of a new devnet; the rest forward their transactions to them, as an operator\'s node joining a testnet does (default: every node)' })
    .option('base-port', { type: 'number', default: 9400, describe: 'node i uses p2p port base+i and RPC port base+145+i; 0 picks free ports' })
    .option('log-level', { type: 'string', default: 'info', describe: 'log level of the nodes (logs go to <datadir>/node-<i>/harmonyd.log)' })
    .option('peer-timeout', { type: 'number', default: 60, describe: 'seconds to wait for the nodes to connect' })
    .option('demo', { type: 'boolean', default: false, describe: 'every node a CPU provider, and small matmul tasks announced continuously from a demo wallet the faucet funds (<datadir>/demo-wallet.json; one line per auction, result and payment)' })
    .option('consensus', { choices: ['avalanche', 'commit'] as const, describe: 'the ledger\'s consensus rule: commit (the DAG commit rule, docs/consensus-next.md; the default for a new devnet) or avalanche (repeated polls); a reused --datadir keeps its own' })
    .option('live', { type: 'boolean', describe: 'print each node\'s final tx/s and finality p50 every 2 s (default: on a terminal, redrawn in place; with --demo appended every 10 s)' }) as never,
  handler: async (args) => {
    const logger = createLogger({ level: 'info' })
    const datadir = resolve(args.datadir ?? '.harmony-devnet')
    const devnet = new Devnet({ nodes: args.nodes, basePort: args['base-port'], datadir, logLevel: args['log-level'], logger, ...(args.consensus !== undefined ? { consensus: args.consensus } : {}), ...(args.validators !== undefined ? { validators: args.validators } : {}), ...(args.demo ? { nodeArgs: DEMO_NODE_ARGS } : {}) })
    const controller = new AbortController()
    let signals = 0
    let statusTimer: NodeJS.Timeout | undefined
    const onSignal = (): void => {
      signals++
      controller.abort()
      clearInterval(statusTimer)
      if (signals > 1) {
        devnet.kill()
        process.exit(130)
      }
      process.stderr.write('\nstopping the devnet (Ctrl-C again to kill)\n')
      devnet.stop().then(() => process.exit(0), () => process.exit(1))
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)

    let nodes: DevnetNode[]
    try {
      nodes = await devnet.start()
    } catch (err) {
      process.stderr.write(`devnet failed to start: ${errorMessage(err)}\n`)
      await devnet.stop()
      process.exitCode = 1
      return
    }
    const clients = await Promise.all(nodes.map(async n => await devnetClient(n)))
    const want = Math.min(nodes.length - 1, 16)
    const counts = await waitForPeers(nodes, clients, want, args['peer-timeout'] * 1000, controller.signal)
    if (controller.signal.aborted) return
    if (counts.some(c => c < Math.min(want, 1))) {
      process.stderr.write(`warning: some nodes have no peers after ${args['peer-timeout']} s: ${counts.join(', ')}\n`)
    }
    for (const n of nodes) process.stdout.write(`node ${n.index} rpc=${n.rpc} peer=${n.peerId}\n`)
    process.stdout.write(`devnet of ${nodes.length} nodes is up; datadir ${datadir}; Ctrl-C stops it\n`)
    const v = devnet.validatorCount
    if (v < nodes.length) process.stdout.write(`validators: node${v === 1 ? ' 0' : `s 0-${v - 1}`}; node${nodes.length - v === 1 ? ` ${v}` : `s ${v}-${nodes.length - 1}`} forward${nodes.length - v === 1 ? 's' : ''} transactions to them\n`)
    process.stdout.write(`ledger faucet wallet ${devnet.faucetPath}${devnet.chain === undefined ? '' : `; chain ${devnet.chain.anvil.url}, AGC faucet EVM key ${devnet.evmFaucetPath}`}\n`)

    const live = args.live ?? process.stdout.isTTY === true
    if (args.demo) {
      void runDemo(clients, devnet.faucetPath, (line) => { process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`) }, controller.signal)
        .catch((err: unknown) => { if (!controller.signal.aborted) process.stderr.write(`demo stopped: ${errorMessage(err)}\n`) })
    }
    if (live) {
      // the demo's lines scroll, and a block redrawn in place would overwrite them: beside the demo (and into a pipe
      // or a log) the block is appended, beside the demo less often
      const redraw = process.stdout.isTTY === true && !args.demo
      statusTimer = liveStatus(clients, {
        intervalMs: args.demo ? DEMO_STATUS_INTERVAL_MS : STATUS_INTERVAL_MS,
        redraw,
        write: (text) => { if (!controller.signal.aborted) process.stdout.write(text) }
      })
    }
    // stay up until a signal, or until every node has exited
    await Promise.all(nodes.map(n => n.exitCode !== undefined ? Promise.resolve() : new Promise(resolve => n.process.once('exit', resolve))))
    clearInterval(statusTimer)
    if (!controller.signal.aborted) {
      process.stderr.write('every devnet node has exited\n')
      process.exitCode = 1
    }
  }
}
