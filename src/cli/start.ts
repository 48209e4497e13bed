import type { CommandModule } from 'yargs'
import { createLogger } from '../core/logger.ts'
import { HarmonyNode } from '../node/node.ts'
import { withConfigFlags, configFromArgs, type GlobalArgs } from './common.ts'

/** Runs the daemon in the foreground until SIGINT/SIGTERM; a second signal forces exit. */
export const startCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'start',
  describe: 'Run the daemon in the foreground',
  builder: (y) => withConfigFlags(y),
  handler: async (args) => {
    const { datadir, config } = await configFromArgs(args as Record<string, unknown>)
    const logger = createLogger({ level: config['log-level'] })
    const node = new HarmonyNode({ datadir, config, logger })
    let stopping = false
    const shutdown = (signal: string): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now')
        process.exit(130)
      }
      stopping = true
      logger.info({ signal }, 'shutting down')
      node.stop().then(() => process.exit(0), (err: Error) => {
        logger.error({ err: err.message }, 'shutdown failed')
        process.exit(1)
      })
    }
    process.on('SIGINT', () => shutdown('SIGINT'))
    process.on('SIGTERM', () => shutdown('SIGTERM'))
    // a devnet child exits with its parent, even when the parent was killed with SIGKILL
    if (process.send !== undefined) process.on('disconnect', () => shutdown('parent-exit'))
    await node.start()
    process.send?.({ type: 'ready', peerId: node.libp2p.peerId.toString(), rpc: node.rpc.url, listenAddrs: node.listenAddrs() })
  }
}
