/**
 * What `harmonyd task submit | cancel | result` do once their flags are checked: sign with the wallet, send, follow,
 * open a private output. Loaded only when one of them runs (task.ts): the market's kinds, the task spec's schema and
 * the sealing code are no cost to `task status` or `task list`.
 */
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { canonicalJson } from '../compute/task.ts'
import type { KernelName } from '../compute/types.ts'
import { MARKET_MAX_INPUT_BYTES, MARKET_MAX_INPUTS } from '../api/market-definitions.ts'
import { readBoundedFile } from '../core/bounded-file.ts'
import { toHex } from '../core/codec.ts'
import { ConfigError, errorMessage } from '../core/errors.ts'
import { encodeTx } from '../dag/tx.ts'
import { buildTaskAnnounce, buildTaskCancel, type RequiredExecutor, type VerificationMode } from '../market/kinds/index.ts'
import { TaskOutputError } from '../sdk/errors.ts'
import { fetchTaskOutput, requesterKemKey, submitTask, type TaskRecord, waitForTask } from '../sdk/market.ts'
import { budgetFlag, feeFlag } from './amount-flags.ts'
import { clientFor, ledgerChainId, output } from './common.ts'
import { amount, taskReport } from './market-format.ts'
import { agreeingResults, taskIdArg } from './task-flags.ts'
import { type ResendOptions, waitForTx, walletSigningKey, type WalletArgs } from './wallet-common.ts'

/** `task submit --reannounce --wait`: announces after the first, for a task that keeps expiring with no valid bid. */
const MAX_REANNOUNCES = 3

export interface SubmitArgs extends WalletArgs {
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

export type CancelArgs = WalletArgs & { id: string, fee: string, wait: boolean }
export type ResultArgs = WalletArgs & { id: string, out: string }

export async function submit (args: SubmitArgs): Promise<void> {
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

export async function cancel (args: CancelArgs): Promise<void> {
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

export async function result (args: ResultArgs): Promise<void> {
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
