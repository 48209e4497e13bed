/**
 * `harmonyd task`: the commands and their flags. What submit, cancel and result do is task-send.ts, loaded only when
 * one of them runs, so that `task status` and `task list` start as fast as `harmonyd status`.
 */
import type { CommandModule } from 'yargs'
import { KERNEL_NAMES } from '../compute/types.ts'
import { REQUIRED_EXECUTORS, VERIFICATION_MODES } from '../market/kinds/ids.ts'
import { clientFor, output } from './common.ts'
import { taskLine, taskReport } from './market-format.ts'
import { checkAnnounceFlags, taskIdArg } from './task-flags.ts'
import type { CancelArgs, ResultArgs, SubmitArgs } from './task-send.ts'
import { walletAddress, walletOptions, type WalletArgs } from './wallet-common.ts'

// Defaults for a small task on a devnet: a 2 s bid window and a 1 s reveal window leave room for the DAG's
// finality (≈ 1 s on loopback) between a commit's gossip and its final record.
const DEFAULT_BID_WINDOW_MS = 2000
const DEFAULT_REVEAL_WINDOW_MS = 1000
const DEFAULT_DEADLINE_MS = 30_000
const DEFAULT_OUTPUT_LIMIT = 1 << 20

const submitCommand: CommandModule<WalletArgs, SubmitArgs> = {
  command: 'submit',
  describe: 'Sign a task announce with the wallet (the key stays here) and submit it with its inputs',
  builder: (y) => walletOptions(y)
    .option('kernel', { type: 'string', demandOption: true, choices: KERNEL_NAMES.filter(k => k !== 'custom'), describe: 'library kernel' })
    .option('params', { type: 'string', demandOption: true, describe: 'kernel parameters as JSON, e.g. \'{"m":64,"k":64,"n":64}\'' })
    .option('inputs', { type: 'string', describe: 'comma-separated input files (raw little-endian bytes), in the kernel\'s order' })
    .option('budget', { type: 'string', demandOption: true, describe: 'most paid per replica: AGC (0.01) or base units (10000wei)' })
    .option('redundancy', { type: 'number', default: 1, describe: 'providers that each run the task (1-5)' })
    .option('k', { type: 'number', describe: 'agreeing results needed (default: r for redundancy, 1 otherwise)' })
    .option('verify', { type: 'string', default: 'none', choices: VERIFICATION_MODES, describe: 'verification mode' })
    .option('private', { type: 'boolean', default: false, describe: 'seal inputs to the winner and the output to you (ML-KEM-768)' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait until the task is settled, expired or cancelled' })
    .option('bid-window', { type: 'number', default: DEFAULT_BID_WINDOW_MS, describe: 'ms during which sealed bids are taken' })
    .option('reveal-window', { type: 'number', default: DEFAULT_REVEAL_WINDOW_MS, describe: 'ms after the bid window for reveals' })
    .option('deadline', { type: 'number', default: DEFAULT_DEADLINE_MS, describe: 'ms after the award for the result' })
    .option('output-limit', { type: 'number', default: DEFAULT_OUTPUT_LIMIT, describe: 'most output bytes accepted' })
    .option('executor', { type: 'string', default: 'any', choices: REQUIRED_EXECUTORS, describe: 'required executor' })
    .option('min-gflops', { type: 'number', default: 0, describe: 'required measured GFLOP/s' })
    .option('attested', { type: 'boolean', default: false, describe: 'only providers that passed a benchmark challenge' })
    .option('reannounce', { type: 'boolean', default: false, describe: 'with --wait: a task that expires with no valid bid is announced again (at most 3 times); the expired one is refunded' })
    .option('fee', { type: 'string', default: '1000', describe: 'transaction fee in base units' })
    .option('timeout', { type: 'number', default: 120, describe: 'seconds --wait waits' })
    .check(checkAnnounceFlags) as never,
  handler: async (args) => { await (await import('./task-send.ts')).submit(args) }
}

const statusCommand: CommandModule<WalletArgs, WalletArgs & { id: string }> = {
  command: 'status <id>',
  describe: 'A task: state, escrow, award rounds, results, payments, and every bid with why it lost',
  builder: (y) => walletOptions(y).positional('id', { type: 'string', describe: 'task id' }) as never,
  handler: async (args) => {
    const id = taskIdArg(args.id)
    const client = await clientFor(args)
    const [task, bids] = await Promise.all([client.call('task_get', [id]), client.call('market_bids', [id])])
    await client.close()
    if (task === null) throw new Error(`task ${id} is unknown to this node (not announced, or its announce is not final yet)`)
    output(args.json, { task, bids }, () => taskReport(task, bids))
  }
}

interface ListArgs extends WalletArgs { state?: string, requester?: string, provider?: string, mine: boolean, limit: number, cursor?: string }

const listCommand: CommandModule<WalletArgs, ListArgs> = {
  command: 'list',
  describe: 'Tasks, newest first',
  builder: (y) => walletOptions(y)
    .option('state', { type: 'string', choices: ['bidding', 'revealing', 'awarded', 'executing', 'verifying', 'settled', 'refunded', 'expired', 'cancelled'] })
    .option('requester', { type: 'string', describe: 'hmy1... address' })
    .option('provider', { type: 'string', describe: 'hmy1... address' })
    .option('mine', { type: 'boolean', default: false, describe: 'only the wallet\'s tasks' })
    .option('limit', { type: 'number', default: 20, describe: 'tasks per page (1-100)' })
    .option('cursor', { type: 'string', describe: 'the `next` of the previous page' }) as never,
  handler: async (args) => {
    const requester = args.mine ? await walletAddress(args) : args.requester
    const client = await clientFor(args)
    const page = await client.call('task_list', [{
      limit: args.limit,
      ...(args.state === undefined ? {} : { state: args.state as 'settled' }),
      ...(requester === undefined ? {} : { requester }),
      ...(args.provider === undefined ? {} : { provider: args.provider }),
      ...(args.cursor === undefined ? {} : { cursor: args.cursor })
    }])
    await client.close()
    output(args.json, page, () => [...page.tasks.map(taskLine), ...(page.next === null ? [] : [`more: --cursor ${page.next}`])].join('\n') || 'no tasks')
  }
}

const cancelCommand: CommandModule<WalletArgs, CancelArgs> = {
  command: 'cancel <id>',
  describe: 'Sign a cancel with the wallet: the escrow is refunded when no award is final yet',
  builder: (y) => walletOptions(y)
    .positional('id', { type: 'string', describe: 'task id' })
    .option('fee', { type: 'string', default: '1000', describe: 'fee in base units' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait until the cancel is final or rejected' }) as never,
  handler: async (args) => { await (await import('./task-send.ts')).cancel(args) }
}

const resultCommand: CommandModule<WalletArgs, ResultArgs> = {
  command: 'result <id>',
  describe: 'Write a task\'s verified output to a file (a private output is opened with the wallet\'s ML-KEM key)',
  builder: (y) => walletOptions(y)
    .positional('id', { type: 'string', describe: 'task id' })
    .option('out', { type: 'string', demandOption: true, describe: 'output file' }) as never,
  handler: async (args) => { await (await import('./task-send.ts')).result(args) }
}

export const taskCommand: CommandModule<WalletArgs, WalletArgs> = {
  command: 'task <command>',
  describe: 'Compute market: submit tasks, follow their auctions, fetch results',
  builder: (y) => y
    .command(submitCommand as never)
    .command(statusCommand as never)
    .command(listCommand as never)
    .command(cancelCommand as never)
    .command(resultCommand as never)
    .demandCommand(1),
  handler: () => {}
}

