import type { CommandModule } from 'yargs'
import { createLogger } from '../core/logger.ts'
import { HarmonyNode } from '../node/node.ts'
import type { GlobalArgs } from './common.ts'
import { withConfigFlags, configFromArgs } from './config-flags.ts'
import { isLedgerKeyEncrypted } from '../core/keys/identity.ts'
import { passwordFileOption, requirePassword, type PasswordArgs } from './password.ts'

/** Runs the daemon in the foreground until SIGINT/SIGTERM; a second signal forces exit. */
export const startCommand: CommandModule<GlobalArgs, GlobalArgs & PasswordArgs> = {
  command: 'start',
  describe: 'Run the daemon in the foreground',
  builder: (y) => withConfigFlags(y).option('password-file', { ...passwordFileOption, describe: 'file whose first line unlocks an encrypted ledger key, for an unattended start [env HARMONY_PASSWORD_FILE]' }),
  handler: async (args) => {
    const { datadir, config } = await configFromArgs(args as Record<string, unknown>)
    const logger = createLogger({ level: config['log-level'] })
    // an encrypted ledger key is unlocked before anything starts; an uninitialised datadir is reported by start()
    const keyPassword = await isLedgerKeyEncrypted(datadir).catch(() => false) ? await requirePassword(args, `the ledger key of ${datadir}`) : undefined
    const node = new HarmonyNode({ datadir, config, logger, keyPassword })
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
