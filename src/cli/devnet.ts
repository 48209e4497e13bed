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
}

const STATUS_INTERVAL_MS = 2000

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
    .option('base-port', { type: 'number', default: 9400, describe: 'node i uses p2p port base+i and RPC port base+145+i; 0 picks free ports' })
    .option('log-level', { type: 'string', default: 'info', describe: 'log level of the nodes (logs go to <datadir>/node-<i>/harmonyd.log)' })
    .option('peer-timeout', { type: 'number', default: 60, describe: 'seconds to wait for the nodes to connect' })
    .option('demo', { type: 'boolean', default: false, describe: 'every node a CPU provider, and small matmul tasks from the faucet announced continuously (one line per auction, result and payment)' }) as never,
  handler: async (args) => {
    const logger = createLogger({ level: 'info' })
    const datadir = resolve(args.datadir ?? '.harmony-devnet')
    const devnet = new Devnet({ nodes: args.nodes, basePort: args['base-port'], datadir, logLevel: args['log-level'], logger, ...(args.demo ? { nodeArgs: DEMO_NODE_ARGS } : {}) })
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
    process.stdout.write(`ledger faucet wallet ${devnet.faucetPath}${devnet.chain === undefined ? '' : `; chain ${devnet.chain.anvil.url}, AGC faucet EVM key ${devnet.evmFaucetPath}`}\n`)

    if (args.demo) {
      // the demo's lines scroll; the status block would overwrite them
      void runDemo(clients, devnet.faucetPath, (line) => { process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`) }, controller.signal)
        .catch((err: unknown) => { if (!controller.signal.aborted) process.stderr.write(`demo stopped: ${errorMessage(err)}\n`) })
    } else if (process.stdout.isTTY) {
      const started = Date.now()
      let drawn = 0
      statusTimer = setInterval(() => {
        void Promise.all(clients.map(c => c.call('node_health', []).catch(() => undefined)))
          .then((rows) => {
            if (controller.signal.aborted) return
            const lines = rows.map((r, i) => r === undefined
              ? `  node ${i}  down`
              : `  node ${i}  ${r.state.padEnd(8)} peers ${String(r.peers).padStart(3)}  uptime ${formatUptime(r.uptimeSeconds)}`)
            lines.unshift(`status (devnet up ${formatUptime(Math.floor((Date.now() - started) / 1000))})`)
            process.stdout.write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map(l => `\x1b[2K${l}`).join('\n')}\n`)
            drawn = lines.length
          })
      }, STATUS_INTERVAL_MS)
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
