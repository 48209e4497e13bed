import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import type { CommandModule } from 'yargs'
import { canonicalJson } from '../compute/task.ts'
import { KERNEL_NAMES, type KernelName } from '../compute/types.ts'
import { MARKET_MAX_INPUT_BYTES, MARKET_MAX_INPUTS } from '../api/market-definitions.ts'
import { readBoundedFile } from '../core/bounded-file.ts'
import { toHex } from '../core/codec.ts'
import { ConfigError, errorMessage } from '../core/errors.ts'
import { encodeTx } from '../dag/tx.ts'
import { buildTaskAnnounce, buildTaskCancel, REQUIRED_EXECUTORS, VERIFICATION_MODES, type RequiredExecutor, type VerificationMode } from '../market/kinds/index.ts'
import { TaskOutputError } from '../sdk/errors.ts'
import { fetchTaskOutput, requesterKemKey, submitTask, type TaskRecord, waitForTask } from '../sdk/market.ts'
import { budgetFlag, feeFlag } from './amount-flags.ts'
import { clientFor, ledgerChainId, output } from './common.ts'
import { amount, taskLine, taskReport } from './market-format.ts'
import { agreeingResults, checkAnnounceFlags } from './task-flags.ts'
import { type ResendOptions, waitForTx, walletAddress, walletOptions, walletSigningKey, type WalletArgs } from './wallet-common.ts'

/** `task submit --reannounce --wait`: announces after the first, for a task that keeps expiring with no valid bid. */
const MAX_REANNOUNCES = 3

interface SubmitArgs extends WalletArgs {
  kernel: string
  params: string
  inputs?: string
  budget: string
  redundancy: number
  k?: number
  verify: string
  private: boolean
  wait: boolean
  'bid-window': number
  'reveal-window': number
  deadline: number
  'output-limit': number
  executor: string
  'min-gflops': number
  attested: boolean
  reannounce: boolean
  fee: string
  timeout: number
}

// Defaults for a small task on a devnet: a 2 s bid window and a 1 s reveal window leave room for the DAG's
// finality (≈ 1 s on loopback) between a commit's gossip and its final record.
const DEFAULT_BID_WINDOW_MS = 2000
const DEFAULT_REVEAL_WINDOW_MS = 1000
const DEFAULT_DEADLINE_MS = 30_000
const DEFAULT_OUTPUT_LIMIT = 1 << 20

function taskIdArg (id: string): string {
  const hex = id.startsWith('0x') ? id : `0x${id}`
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`not a task id (32 bytes of hex): ${id}`)
  return hex.toLowerCase()
}

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
  handler: async (args) => {
    const fee = feeFlag(args.fee)
    const budget = budgetFlag(args.budget)
    let params: unknown
    try {
      params = JSON.parse(args.params)
    } catch {
      throw new Error(`--params is not JSON: ${args.params}`)
    }
    const inputs = await readInputs(args.inputs)
    const verification = args.verify as VerificationMode
    const k = agreeingResults(args)
    const key = await walletSigningKey(args)
    const client = await clientFor(args)
    try {
      const chainId = await ledgerChainId(client)
      // --reannounce: a task that expires with no valid bid is announced again (this client signs it: no node can),
      // at most MAX_REANNOUNCES times; the expired one is refunded whole
      const announce = async (): Promise<{ taskId: string, txId: string, resend: ResendOptions }> => {
        const nonce = await client.call('account_getNonce', [key.address])
        const { tx } = buildTaskAnnounce({ chainId, keys: key, nonce: BigInt(nonce), fee }, {
          spec: { kernel: args.kernel as KernelName, paramsJson: canonicalJson(params) },
          inputs: inputs.map(b => new Uint8Array(createHash('sha256').update(b).digest())),
          outputLimitBytes: args['output-limit'],
          budget,
          redundancy: args.redundancy,
          k,
          verification,
          bidWindowMs: args['bid-window'],
          revealWindowMs: args['reveal-window'],
          executionDeadlineMs: args.deadline,
          requirements: { executor: args.executor as RequiredExecutor, minGflopsMilli: Math.round(args['min-gflops'] * 1000), minMemoryMiB: 0, attested: args.attested },
          private: args.private,
          ...(args.private ? { requesterKemKey: requesterKemKey(key.secretKey).publicKey } : {}),
          reannounce: args.reannounce
        })
        const signed = `0x${toHex(encodeTx(tx))}`
        const { taskId, txId } = await submitTask(client, signed, inputs)
        return { taskId, txId, resend: { resend: signed, sendWith: async (again: string) => await submitTask(client, again, inputs) } }
      }
      /** The announce decided (sent again while the node does not know it), then the task at its end. */
      const follow = async ({ taskId, txId, resend }: Awaited<ReturnType<typeof announce>>): Promise<TaskRecord> => {
        const status = await waitForTx(client, txId, resend, args.timeout * 1000)
        if (status.status === 'rejected') throw new Error(`the announce ${txId} of task ${taskId} was rejected: ${status.reason ?? 'no reason given'}`)
        // pushed by the node (task_status) over the client's WebSocket, closed with the client below
        return await waitForTask(client, taskId, undefined, { timeoutMs: args.timeout * 1000, push: true })
      }
      let submitted = await announce()
      if (!args.wait) {
        output(args.json, { taskId: submitted.taskId, txId: submitted.txId, state: 'submitted' }, () => `task ${submitted.taskId} submitted (announce ${submitted.txId})`)
        return
      }
      let task = await follow(submitted)
      for (let again = 0; args.reannounce && task.state === 'expired' && again < MAX_REANNOUNCES; again++) {
        process.stderr.write(`task ${submitted.taskId} expired with no valid bid: announcing it again\n`)
        submitted = await announce()
        task = await follow(submitted)
      }
      const bids = await client.call('market_bids', [submitted.taskId])
      output(args.json, { taskId: submitted.taskId, txId: submitted.txId, task, bids }, () => taskReport(task, bids))
      if (task.state !== 'settled') process.exitCode = 1
    } finally {
      await client.close()
    }
  }
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

const cancelCommand: CommandModule<WalletArgs, WalletArgs & { id: string, fee: string, wait: boolean }> = {
  command: 'cancel <id>',
  describe: 'Sign a cancel with the wallet: the escrow is refunded when no award is final yet',
  builder: (y) => walletOptions(y)
    .positional('id', { type: 'string', describe: 'task id' })
    .option('fee', { type: 'string', default: '1000', describe: 'fee in base units' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait until the cancel is final or rejected' }) as never,
  handler: async (args) => {
    const id = taskIdArg(args.id)
    const fee = feeFlag(args.fee)
    const key = await walletSigningKey(args)
    const client = await clientFor(args)
    try {
      const [chainId, nonce] = await Promise.all([ledgerChainId(client), client.call('account_getNonce', [key.address])])
      const tx = buildTaskCancel({ chainId, keys: key, nonce: BigInt(nonce), fee }, Buffer.from(id.slice(2), 'hex'))
      const signed = `0x${toHex(encodeTx(tx))}`
      const txId = await client.call('task_cancel', [signed])
      if (!args.wait) {
        output(args.json, { taskId: id, txId, status: 'pending' }, () => `cancel ${txId} submitted for task ${id}`)
        return
      }
      const status = await waitForTx(client, txId, { resend: signed, sendWith: async (again) => await client.call('task_cancel', [again]) })
      output(args.json, { taskId: id, ...status }, () => `cancel ${status.status}${status.reason === null ? '' : ` (${status.reason})`}`)
      if (status.status === 'rejected') process.exitCode = 1
    } finally {
      await client.close()
    }
  }
}

const resultCommand: CommandModule<WalletArgs, WalletArgs & { id: string, out: string }> = {
  command: 'result <id>',
  describe: 'Write a task\'s verified output to a file (a private output is opened with the wallet\'s ML-KEM key)',
  builder: (y) => walletOptions(y)
    .positional('id', { type: 'string', describe: 'task id' })
    .option('out', { type: 'string', demandOption: true, describe: 'output file' }) as never,
  handler: async (args) => {
    const id = taskIdArg(args.id)
    const client = await clientFor(args)
    try {
      const task = await client.call('task_get', [id])
      if (task === null) throw new Error(`task ${id} is unknown to this node`)
      // a private output is opened here, with the wallet's ML-KEM key: the node never holds it
      const kemSecretKey = task.private ? requesterKemKey((await walletSigningKey(args)).secretKey).secretKey : undefined
      const bytes = await fetchTaskOutput(client, id, kemSecretKey).catch((err: unknown) => {
        // the node served a sealed output for a task its record does not mark private: say so, not the SDK's advice
        if (err instanceof TaskOutputError && err.code === 'OUTPUT_KEY_REQUIRED') {
          throw new TaskOutputError(err.code, `task ${id}'s output is sealed to its requester's ML-KEM key, but the node's record of the task does not mark it private, so no wallet key was opened; nothing was written to ${args.out}`, err.meta, { cause: err })
        }
        throw err
      })
      if (bytes === null) throw new Error(`task ${id} has no verified result yet (state ${task.state})`)
      await writeFile(args.out, bytes)
      const paid = task.settlement?.payouts.reduce((sum, p) => sum + BigInt(p.amount), 0n)
      output(args.json, { taskId: id, bytes: bytes.byteLength, out: args.out, paid: paid?.toString() ?? null }, () =>
        `wrote ${bytes.byteLength} bytes to ${args.out}${paid === undefined ? '' : `; paid ${amount(paid.toString())}`}`)
    } finally {
      await client.close()
    }
  }
}

/**
 * The `--inputs` files, each read within what task_submit takes (MARKET_MAX_INPUT_BYTES; the node checks the count
 * and the total): a wrong path, a huge file or a device is a usage error naming the file, before the wallet opens.
 */
async function readInputs (list: string | undefined): Promise<Uint8Array[]> {
  const files = (list ?? '').split(',').filter(f => f !== '')
  if (files.length > MARKET_MAX_INPUTS) throw new ConfigError('CONFIG_INVALID', `--inputs names ${files.length} files; a task takes at most ${MARKET_MAX_INPUTS}`)
  return await Promise.all(files.map(async f => {
    try {
      return new Uint8Array(await readBoundedFile(f, MARKET_MAX_INPUT_BYTES))
    } catch (err) {
      throw new ConfigError('CONFIG_INVALID', `--inputs: cannot read ${f}: ${errorMessage(err)}`, { path: f })
    }
  }))
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

