import test from 'ava'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { f32ToBytes } from '../../src/compute/blob.ts'
import { matmulReference } from '../../src/compute/kernels/matmul.ts'
import { bytesToF32 } from '../../src/compute/blob.ts'
import { toHex } from '../../src/core/codec.ts'
import { createIdentity, loadIdentity } from '../../src/core/keys/identity.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { createWalletFile } from '../../src/core/keys/wallet.ts'
import { addressFromPublicKey } from '../../src/core/address.ts'
import { createLogger } from '../../src/core/logger.ts'
import { openDatabase, sublevel } from '../../src/core/storage.ts'
import { loadGenesis } from '../../src/dag/index.ts'
import { encodeTx } from '../../src/dag/tx.ts'
import { BlobService, BlobStore, generateKemKeyPair, open, taskKeySeed } from '../../src/market/blobs/index.ts'
import { sealedInputsTopic } from '../../src/market/sealed-inputs-board.ts'
import type { SealedInputsNotice } from '../../src/market/sealed-inputs.ts'
import { GossipRegistry } from '../../src/network/gossip.ts'
import { createHost } from '../../src/network/host.ts'
import { PeerBindingService } from '../../src/network/peer-binding.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { keyTail, tagRange } from '../../src/market/blobs/keys.ts'
import { buildTaskAnnounce } from '../../src/market/kinds/index.ts'
import { providerKemKey } from '../../src/node/market-node.ts'
import { inputContext, outputContext } from '../../src/market/seal-contexts.ts'
import { fundAccounts, openAccount, seededF32, submitMatmul, type SubmittedTask } from '../../src/cli/market-workload.ts'
import { fetchTaskOutput, requesterKemKey, RpcClientError, type RpcResultOf, waitForTask, type TaskRecord } from '../../src/sdk/index.ts'
import { DEFAULT_PROVIDER_BOND } from '../../src/market/provider/config.ts'
import { runHarmonyd, tempDir, waitFor } from '../helpers/harmonyd.ts'
import { AGC, FAULT_WINDOWS, startMarketDevnet, totalHeld, type MarketDevnet } from '../helpers/market-devnet.ts'
import { matmulAnnounce } from '../helpers/market.ts'

const TASKS = 50
const NODES = 5
/** Nodes 0-3 are validators; node 4, a provider like the others, forwards its transactions to them (an operator's node). */
const VALIDATORS = 4
/** Tasks open at once. */
const IN_FLIGHT = 8

function reference (task: SubmittedTask): Uint8Array {
  const { m, k, n } = task.params
  return f32ToBytes(matmulReference(bytesToF32(task.inputs[0]), bytesToF32(task.inputs[1]), m, k, n))
}

/** What every node must agree on for one task: its awards (winners, checker, considered reveals) and settlement. */
function decisions (t: TaskRecord): unknown {
  return { state: t.state, awards: t.awards.map(a => ({ round: a.round, winners: a.winners, checker: a.spotChecker, considered: [...a.considered].sort(), txId: a.txId })), settlement: t.settlement }
}

let net: MarketDevnet
/** Node 0's provider_status before the devnet funded it. */
let unfunded: RpcResultOf<'provider_status'> | undefined
test.before(async () => {
  net = await startMarketDevnet({
    nodes: NODES,
    validators: VALIDATORS,
    provider: () => ({ enabled: true, capacity: 16 }),
    beforeFunding: async (clients) => {
      unfunded = await waitFor('node 0\'s provider to find it cannot pay its bond', async () => {
        const s = await clients[0].call('provider_status')
        return s.registrationWait?.reason === 'unfunded' ? s : undefined
      })
    }
  })
})
test.after.always(async () => { await net?.stop() })

test.serial(`${TASKS} matmul tasks are auctioned, run and paid; each output is the CPU reference; every node agrees on every award; money is conserved`, async (t) => {
  const genesis = await loadGenesis(net.devnet.genesisPath)
  const supply = genesis.allocations.reduce((sum, a) => sum + a.balance, 0n)
  // at most IN_FLIGHT tasks open at once, a new one announced as one ends (what a requester's client does)
  const submitted: SubmittedTask[] = []
  // announces that expired with no valid bid and were announced again (their escrow was refunded)
  const expired: string[] = []
  const done: TaskRecord[] = []
  // one account's nonces chain: its submits go one at a time
  let submitting = Promise.resolve()
  const one = async (i: number): Promise<void> => {
    const size = [4, 8, 16][i % 3]
    const turn = submitting
    let release = (): void => {}
    submitting = new Promise<void>(resolve => { release = resolve })
    await turn
    const announce = async (): Promise<SubmittedTask> => await submitMatmul(net.faucet, { m: size, k: size + 4, n: size, budget: AGC / 100n, bidWindowMs: 3000, revealWindowMs: 2500, reannounce: true, ...(i % 10 === 9 ? { verification: 'redundancy' as const, redundancy: 2 } : {}) })
    let s = await announce().finally(release)
    // followed by push (task_status over each node's WebSocket): the same end states as polling, or the test fails
    let end = await waitForTask(net.clients[i % NODES], s.taskId, undefined, { timeoutMs: 90_000, push: true })
    // a task that drew no commit final inside its bid window (a loaded machine) expired and was refunded whole:
    // its requester asked for a re-announce, which only its own client can sign (docs/market.md)
    for (let again = 0; end.state === 'expired' && again < 3; again++) {
      expired.push(s.taskId)
      let releaseAgain = (): void => {}
      const turnAgain = submitting
      submitting = new Promise<void>(resolve => { releaseAgain = resolve })
      await turnAgain
      s = await announce().finally(releaseAgain)
      end = await waitForTask(net.clients[i % NODES], s.taskId, undefined, { timeoutMs: 90_000, push: true })
    }
    submitted[i] = s
    done[i] = end
  }
  let next = 0
  // submits are sequential (one account's nonces chain), runs overlap
  const lanes = Array.from({ length: IN_FLIGHT }, async () => {
    while (next < TASKS) {
      const i = next++
      await one(i)
    }
  })
  await Promise.all(lanes)
  t.log(`${expired.length} announces expired with no valid bid and were announced again`)
  for (const [i, task] of done.entries()) {
    t.is(task.state, 'settled', `task ${task.taskId}: ${JSON.stringify(task.settlement)}`)
    t.is(task.settlement?.outcome, 'paid')
    // read from another node than the one waited on: wait for that node to hold the settle as well
    const reader = net.clients[(i + 2) % NODES]
    await waitForTask(reader, task.taskId, ['settled'], { timeoutMs: 30_000 })
    const output = await fetchTaskOutput(reader, task.taskId)
    t.truthy(output)
    t.true(Buffer.from(output as Uint8Array).equals(Buffer.from(reference(submitted[i]))), `task ${task.taskId}: output differs from the CPU reference`)
  }
  // every node holds the same decisions for every task (each recomputed and checked them before voting)
  for (const s of submitted) {
    const views = await Promise.all(net.clients.map(async c => await waitForTask(c, s.taskId, ['settled'], { timeoutMs: 30_000 })))
    for (const v of views.slice(1)) t.deepEqual(decisions(v), decisions(views[0]))
    const bids = await Promise.all(net.clients.map(async c => await c.call('market_bids', [s.taskId])))
    for (const b of bids) t.true(b?.sealed, 'an awarded auction is sealed on every node')
    for (const b of bids.slice(1)) t.deepEqual(b?.bids.map(x => [x.provider, x.status, x.reason, x.price]), bids[0]?.bids.map(x => [x.provider, x.status, x.reason, x.price]))
  }
  // balances + escrows + bonds + fee pool = the genesis supply, on every node
  const accounts = [net.faucet.key.address, ...net.addresses]
  for (const client of net.clients) {
    t.is(await totalHeld(client, accounts, net.addresses, [...submitted.map(s => s.taskId), ...expired]), supply)
  }
  // providers were paid: the sum of payouts shows in provider_status as received. Each ends under the registration it
  // wants: one slashed late on a loaded machine (replaced, the task still settled) tops its bond up, and says
  // `submitted` until that is final (a loop run, s46, read it then)
  const slashes = done.flatMap(d => d.slashes.map(x => `${x.provider} ${x.reason} (task ${d.taskId})`))
  if (slashes.length > 0) t.log(`slashed: ${slashes.join(', ')}`)
  const statuses = await Promise.all(net.clients.map(async (c, i) => await waitFor(`node ${i}'s provider registered as it wants`, async () => {
    const s = await c.call('provider_status')
    return s.registered && s.registrationWait === null ? s : undefined
  }, 60_000)))
  // before the devnet funded it, node 0's provider said why it was not registered; funded, it registered
  t.like(unfunded, { registered: false, provider: null, registrationWait: { reason: 'unfunded', balance: '0', txId: null, error: null } })
  t.true(BigInt(unfunded?.registrationWait?.needed ?? 0) > DEFAULT_PROVIDER_BOND, 'bond and a fee')
  const receivedBy = statuses.map(s => s.payments.received.reduce((x, p) => x + BigInt(p.amount), 0n))
  const received = receivedBy.reduce((a, b) => a + b, 0n)
  const paid = done.reduce((sum, d) => sum + (d.settlement?.payouts.reduce((x, p) => x + BigInt(p.amount), 0n) ?? 0n), 0n)
  t.true(received > 0n && received <= paid)
  // the provider outside the validator set bid, won and was paid like the others (its commits, reveals and results
  // all went through a validator: docs/protocol.md "Transaction forwarding")
  const plain = net.addresses[VALIDATORS]
  t.true(done.some(d => d.settlement?.payouts.some(p => p.provider === plain)), 'the plain node\'s provider won and was paid for some task')
  t.true(receivedBy[VALIDATORS] > 0n)
})

test.serial('a task no provider can run gets no valid bid, expires and is refunded whole', async (t) => {
  const before = BigInt(await net.clients[1].call('account_getBalance', [net.faucet.key.address]))
  const task = await submitMatmul(net.faucet, { m: 4, k: 4, n: 4, budget: AGC / 100n, executor: 'webgpu' })
  const end = await waitForTask(net.clients[1], task.taskId, undefined, { timeoutMs: 60_000 })
  t.is(end.state, 'expired')
  t.is(end.settlement?.refund, end.escrow)
  const bids = await net.clients[2].call('market_bids', [task.taskId])
  t.is(bids?.bids.filter(b => b.status === 'won').length, 0)
  // only the announce's fee is gone
  const after = BigInt(await net.clients[1].call('account_getBalance', [net.faucet.key.address]))
  t.is(before - after, 1000n)
  // the providers say why they did not bid
  const status = await net.clients[3].call('provider_status')
  t.true(status.skipped.some(s => s.taskId === task.taskId && s.reason.startsWith('capability')), JSON.stringify(status.skipped.slice(0, 3)))
})

test.serial('bad input to task_submit is refused with its typed error and nothing is announced', async (t) => {
  const client = net.clients[2]
  const account = await openAccount(client, net.faucet.key)
  // the inputs of matmulAnnounce's 2×2 by 2×2 matmul
  const a = new Uint8Array(16).fill(1)
  const b = new Uint8Array(16).fill(2)
  const sha = (x: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(x).digest())
  const signed = (inputs: Uint8Array[], keys = account.key, nonce = account.nextNonce): string =>
    `0x${toHex(encodeTx(buildTaskAnnounce({ chainId: account.chainId, keys, nonce, fee: 1000n }, matmulAnnounce({ inputs: inputs.map(sha) })).tx))}`
  const b64 = (x: Uint8Array): string => Buffer.from(x).toString('base64')
  const reason = (err: unknown): unknown => (err as RpcClientError).data
  // inputs that are not the announced ones
  const mismatch = await t.throwsAsync(client.call('task_submit', [{ announce: signed([a, b]), inputs: [b64(b), b64(a)] }]))
  t.like(reason(mismatch), { reason: 'TASK_INPUTS_MISMATCH' })
  // the announced inputs, which cannot be the task's: one where a matmul takes two
  const misfit = await t.throwsAsync(client.call('task_submit', [{ announce: signed([a]), inputs: [b64(a)] }]))
  t.like(reason(misfit), { reason: 'TASK_INPUTS_MISMATCH' })
  t.is((misfit as RpcClientError).message, 'the inputs do not fit the task: matmul takes 2 inputs, got 1')
  // a malformed announce
  const malformed = await t.throwsAsync(client.call('task_submit', [{ announce: '0x0102', inputs: [] }]))
  t.like(reason(malformed), { reason: 'TASK_ANNOUNCE_INVALID' })
  // an underfunded announce (an account with no balance): the DAG refuses it, the inputs are released
  const poor = generateKeyPair()
  const underfunded = await t.throwsAsync(client.call('task_submit', [{ announce: signed([a, b], { ...poor, address: addressFromPublicKey(poor.publicKey) } as never, 0n), inputs: [b64(a), b64(b)] }]))
  t.is((underfunded as RpcClientError).code, -32003)
  t.like(reason(underfunded), { reason: 'INSUFFICIENT_BALANCE' })
  // an oversize input blob
  const oversize = await t.throwsAsync(client.call('task_submit', [{ announce: signed([a]), inputs: [b64(new Uint8Array(600 * 1024))] }]))
  t.is((oversize as RpcClientError).code, -32602)
  // nothing of these reached the DAG: the account's nonce did not move
  t.is(await client.call('account_getNonce', [account.key.address]), account.nextNonce.toString())
})

test.serial('harmonyd task submit --wait, a process: waits through the auction to the settle and prints the paid task and its result, as task_get has it on every node; a budget the wallet cannot pay exits 1 with the ledger\'s refusal and announces nothing', async (t) => {
  await using d = await tempDir('harmony-task-wait-')
  // a wallet of its own: the faucet's nonces chain in net.faucet, which a CLI-signed announce would put out of step
  const wallet = join(d.path, 'requester.json')
  const requester = await createWalletFile(wallet)
  await fundAccounts(net.faucet, [requester.address], AGC)
  // through the node outside the validator set: the announce is forwarded to a validator, and --wait follows it there
  const node = net.nodes[VALIDATORS]
  const client = net.clients[VALIDATORS]
  // funded as that node sees it: its nonce and balance are what the refused submit below must leave alone
  await waitFor('the funding on the plain node', async () => BigInt(await client.call('account_getBalance', [requester.address])) === AGC ? true : undefined)
  const m = 4
  const a = f32ToBytes(seededF32('cli-wait/a', m * m))
  const b = f32ToBytes(seededF32('cli-wait/b', m * m))
  const inputs = [join(d.path, 'a.bin'), join(d.path, 'b.bin')]
  await writeFile(inputs[0], a)
  await writeFile(inputs[1], b)
  const submit = ['task', 'submit', '--wallet', wallet, '--kernel', 'matmul', '--params', JSON.stringify({ m, k: m, n: m }), '--inputs', inputs.join(','),
    '--bid-window', String(FAULT_WINDOWS.bidWindowMs), '--reveal-window', String(FAULT_WINDOWS.revealWindowMs),
    '--rpc', node.rpc, '--datadir', node.datadir, '--wait']

  // --reannounce: on a loaded machine an announce can draw no commit final inside its bid window and expire (as in
  // the first test); the command announces it again and waits for that one
  const run = await runHarmonyd([...submit, '--budget', '0.01', '--reannounce'], 170_000)
  t.is(run.code, 0, `${run.stdout}\n${run.stderr}`)
  const taskId = /^task {8}(0x[0-9a-f]{64})$/m.exec(run.stdout)?.[1]
  t.truthy(taskId, run.stdout)
  t.regex(run.stdout, /^state {7}settled$/m)
  const settledLine = /^settled {5}(\w+) at /m.exec(run.stdout)
  const paidLines = [...run.stdout.matchAll(/^ {2}paid {6}(hmy1\w+) /gm)].map(x => x[1])
  const resultLines = [...run.stdout.matchAll(/^result {6}(hmy1\w+) round (\d+): (\w+) \((\d+) B, [^)]+\) (\w+)$/gm)]
  // the node's record agrees with what the command printed
  const task = await client.call('task_get', [taskId as string])
  t.is(task?.state, 'settled')
  t.is(task?.settlement?.outcome, 'paid')
  t.is(settledLine?.[1], 'paid')
  const winners = task?.awards.flatMap(x => x.winners) ?? []
  t.true((task?.settlement?.payouts.length ?? 0) > 0, JSON.stringify(task?.settlement))
  for (const p of task?.settlement?.payouts ?? []) {
    t.true(winners.includes(p.provider), `${p.provider} was paid and never won`)
    t.true(BigInt(p.amount) > 0n)
  }
  t.deepEqual(paidLines, task?.settlement?.payouts.map(p => p.provider))
  t.deepEqual(resultLines.map(x => ({ provider: x[1], round: Number(x[2]), commitment: x[3], outputBytes: Number(x[4]), verdict: x[5] })),
    task?.results.map(r => ({ provider: r.provider, round: r.round, commitment: r.commitment, outputBytes: r.outputBytes, verdict: r.verdict })))
  t.true(resultLines.some(x => Number(x[4]) === m * m * 4), run.stdout)
  // the paid output is the product of the files the command sent
  const output = await fetchTaskOutput(client, taskId as string)
  t.true(Buffer.from(output as Uint8Array).equals(Buffer.from(f32ToBytes(matmulReference(bytesToF32(a), bytesToF32(b), m, m, m)))), 'the output is the CPU reference')
  // every node holds the same decisions (and holds them before the next test reads balances)
  const views = await Promise.all(net.clients.map(async c => await waitForTask(c, taskId as string, ['settled'], { timeoutMs: 30_000 })))
  for (const v of views.slice(1)) t.deepEqual(decisions(v), decisions(views[0]))

  // a budget over the wallet's balance: the validator refuses the forwarded announce, the command says why and exits 1
  const nonce = await client.call('account_getNonce', [requester.address])
  const balance = await client.call('account_getBalance', [requester.address])
  const poor = await runHarmonyd([...submit, '--budget', '2'], 60_000)
  t.is(poor.code, 1, `${poor.stdout}\n${poor.stderr}`)
  t.is(poor.stdout, '')
  t.regex(poor.stderr, new RegExp(`^harmonyd: validator refused the transaction: balance ${balance} \\(after pending transactions\\) is below amount \\+ fee ${2n * AGC + 1000n} \\(INSUFFICIENT_BALANCE\\)$`, 'm'))
  t.is(await client.call('account_getNonce', [requester.address]), nonce, 'nothing was announced')
  t.is(await client.call('account_getBalance', [requester.address]), balance)
})

test.serial('a requester that bypasses its node\'s check: inputs that do not fit their task end in agreeing input-fault results, paid, nobody slashed', async (t) => {
  const f = net.faucet
  const sha = (x: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(x).digest())
  const announce = (kernel: 'elementwise' | 'matmul', paramsJson: string, inputs: Uint8Array[], outputLimitBytes: number): { hex: string, taskId: string } => {
    const { tx, taskId } = buildTaskAnnounce({ chainId: f.chainId, keys: f.key, nonce: f.nextNonce++, fee: 1000n }, {
      ...matmulAnnounce({ budget: AGC / 100n, redundancy: 2, k: 2, verification: 'redundancy', bidWindowMs: 3000, revealWindowMs: 2500 }),
      spec: { kernel, paramsJson }, inputs: inputs.map(sha), outputLimitBytes
    })
    return { hex: `0x${toHex(encodeTx(tx))}`, taskId: `0x${toHex(taskId)}` }
  }
  const x = f32ToBytes(new Float32Array([1, -2, 3, -4]))
  const y = f32ToBytes(new Float32Array([1, -2, 3]))
  // two tasks that fit put x (16 bytes) and y (12 bytes) in node 0's blob store
  const fits = [announce('elementwise', '{"n":4,"op":"relu"}', [x], 16), announce('elementwise', '{"n":3,"op":"relu"}', [y], 12)]
  await f.client.call('task_submit', [{ announce: fits[0].hex, inputs: [Buffer.from(x).toString('base64')] }])
  await f.client.call('task_submit', [{ announce: fits[1].hex, inputs: [Buffer.from(y).toString('base64')] }])
  // a 2×2 by 2×2 matmul naming x and y (its second input must be 16 bytes), sent as a bare transaction: no node checked it
  const misfit = announce('matmul', '{"k":2,"m":2,"n":2}', [x, y], 16)
  await f.client.call('account_sendTransaction', [misfit.hex])
  const end = await waitForTask(net.clients[1], misfit.taskId, undefined, { timeoutMs: 90_000 })
  t.is(end.state, 'settled', JSON.stringify(end))
  t.is(end.settlement?.outcome, 'paid')
  t.deepEqual(end.slashes, [], 'no winner is slashed for the requester\'s inputs')
  t.is(end.results.length, 2)
  for (const r of end.results) t.like(r, { profile: 'input-fault', outputBytes: 0, verdict: 'agrees' })
  t.deepEqual(end.settlement?.payouts.map(p => p.provider).sort(), end.results.map(r => r.provider).sort(), 'both winners are paid as for work done')
  const noOutput = await t.throwsAsync(net.clients[1].call('task_result', [misfit.taskId]))
  t.like((noOutput as RpcClientError).data, { reason: 'TASK_INPUT_FAULT' })
  for (const fit of fits) t.is((await waitForTask(net.clients[1], fit.taskId, undefined, { timeoutMs: 90_000 })).state, 'settled')
})

/**
 * A peer of the network that is neither a validator nor a provider: a fresh identity that proves its own ledger key,
 * follows the sealed-inputs notices on gossip (checked as every node checks them) and can ask any node for a blob.
 */
async function stranger (nodes: MarketDevnet['nodes']): Promise<{ notices: SealedInputsNotice[], fetchFrom: (node: number, id: string) => Promise<string>, held: (id: string) => Promise<boolean>, close: () => Promise<void> }> {
  const dir = await tempDir()
  const identity = await createIdentity(dir.path)
  const libp2p = await createHost({ privateKey: identity.p2pKey, listenHost: '127.0.0.1', listenPort: 0, allowPrivateAddresses: true })
  const logger = createLogger({ level: 'silent' })
  const binding = new PeerBindingService({ libp2p, identity, logger })
  await binding.start()
  const db = await openDatabase(join(dir.path, 'db'))
  const store = new BlobStore({ db: sublevel(db, 'blobs'), logger }, { sweepIntervalMs: 0 })
  await store.start()
  const service = new BlobService({ libp2p, store, logger })
  await service.start()
  const notices: SealedInputsNotice[] = []
  new GossipRegistry({ pubsub: libp2p.services.pubsub, logger }).register(sealedInputsTopic('harmony-devnet', { offer: (n) => notices.push(n) }))
  for (const n of nodes) await libp2p.dial(multiaddr(n.listenAddrs.find(a => a.startsWith('/ip4/127.0.0.1/')) ?? n.listenAddrs[0]))
  return {
    notices,
    fetchFrom: async (node, id) => await service.fetch(peerIdFromString(nodes[node].peerId), id).catch((err: { code?: string }) => err.code ?? String(err)),
    held: async (id) => await store.has(id),
    close: async () => {
      await service.stop()
      await binding.stop()
      await store.stop()
      await libp2p.stop()
      await db.close()
      await dir[Symbol.asyncDispose]()
    }
  }
}

test.serial('a private task: the winner alone reads the inputs, the requester alone reads the output', async (t) => {
  // a stranger on the network sees the notices that name the envelopes, but no node gives it one (envelope-access.ts)
  const outsider = await stranger(net.nodes)
  t.teardown(outsider.close)
  const task = await submitMatmul(net.faucet, { m: 8, k: 8, n: 8, budget: AGC / 100n, private: true })
  const end = await waitForTask(net.clients[3], task.taskId, undefined, { timeoutMs: 90_000 })
  t.is(end.state, 'settled', JSON.stringify(end.settlement))
  // the output is read on node 4, which may decide the settle after node 3 did
  await waitForTask(net.clients[4], task.taskId, ['settled'], { timeoutMs: 30_000 })
  const sealed = await net.clients[4].call('task_result', [task.taskId])
  t.is(sealed?.encoding, 'sealed')
  const output = await fetchTaskOutput(net.clients[4], task.taskId, requesterKemKey(net.faucet.key.secretKey).secretKey)
  t.true(Buffer.from(output as Uint8Array).equals(Buffer.from(reference(task))))
  // another key cannot open it
  await t.throwsAsync(fetchTaskOutput(net.clients[4], task.taskId, requesterKemKey(generateKeyPair().secretKey).secretKey))
  // the stranger heard the notices of this task and asks every node for every envelope they name: each answers as if
  // it held none (the holder's store still has them: read below), while the output goes to anyone
  const named = [...new Set(outsider.notices.filter(n => `0x${n.taskId}` === task.taskId).flatMap(n => n.envelopes))]
  t.true(named.length >= 2, `the stranger heard the task's notices (${outsider.notices.length} notices)`)
  for (const id of named) {
    for (let i = 0; i < NODES; i++) t.is(await outsider.fetchFrom(i, id), 'BLOB_NOT_FOUND', `node ${i} withholds envelope ${id} from a stranger`)
    t.false(await outsider.held(id))
  }
  const paidOutput = sealed?.outputBlob.replace(/^0x/, '') ?? ''
  const outputHolder = net.addresses.indexOf(sealed?.provider ?? '')
  t.true(outputHolder >= 0, `the paid provider ${sealed?.provider} is a node`)
  t.is(await outsider.fetchFrom(outputHolder, paidOutput), paidOutput, 'the sealed output goes to anyone')

  // with the nodes stopped, read every node's store: no node holds the plaintext inputs as a blob, and the
  // envelopes sealed to the winner open with no other node's key
  // every provider the inputs were sealed to: the winners of each award round (a loaded machine may have replaced a
  // late winner, whose successor got envelopes of its own)
  const winners = [...new Set(end.awards.flatMap(a => a.winners))]
  const outputs = new Set(end.results.map(r => r.outputBlob))
  const requesterSecret = requesterKemKey(net.faucet.key.secretKey).secretKey
  const opensAsOutput = (bytes: Uint8Array): boolean => {
    try { open(bytes, requesterSecret, { context: outputContext(task.taskId.slice(2)) }); return true } catch { return false }
  }
  await net.stopNodes()
  const logger = createLogger({ level: 'silent' })
  const plainIds = task.inputs.map(x => createHash('sha256').update(x).digest('hex'))
  const envelopes: Array<{ node: number, bytes: Uint8Array }> = []
  const keys: Array<{ address: string, secretKey: Uint8Array }> = []
  for (let i = 0; i < NODES; i++) {
    const dir = join(net.dir, `node-${i}`)
    const identity = await loadIdentity(dir)
    // each provider's key for this task (its bid revealed the public half; blobs/seal.ts taskKeySeed)
    const taskKey = generateKemKeyPair(taskKeySeed(providerKemKey(identity.ledgerKey.secretKey).secretKey, task.taskId.slice(2)))
    keys.push({ address: addressFromPublicKey(identity.ledgerKey.publicKey), secretKey: taskKey.secretKey })
    const db = await openDatabase(join(dir, 'db'))
    const blobsDb = sublevel(db, 'blobs')
    const store = new BlobStore({ db: blobsDb, logger }, { sweepIntervalMs: 0 })
    await store.start()
    for (const id of plainIds) t.false(await store.has(id), `node ${i} holds a private input in the clear`)
    for (const id of end.inputs) t.false(await store.has(id))
    // the envelopes sealed for this task: the blobs tagged with it that are not the (sealed) output
    const tagged: string[] = []
    for await (const key of blobsDb.keys(tagRange(task.taskId.slice(2)))) tagged.push(keyTail(key))
    for (const id of tagged) {
      if (outputs.has(id)) continue
      const bytes = await store.get(id)
      // an output sealed to the requester whose result did not count (a winner replaced for lateness may still
      // have run the task): not an input envelope
      if (opensAsOutput(bytes)) continue
      envelopes.push({ node: i, bytes })
    }
    await store.stop()
    await db.close()
  }
  t.true(envelopes.length >= 2, 'the requester node sealed the inputs to the winner')
  t.true(named.every(id => envelopes.some(e => createHash('sha256').update(e.bytes).digest('hex') === id)), 'the envelopes withheld from the stranger were held')
  for (const winner of winners) t.truthy(keys.find(k => k.address === winner), `winner ${winner} is one of the nodes`)
  const opens = (bytes: Uint8Array, secretKey: Uint8Array, sealedTo: string): boolean => [0, 1].some(index => {
    try { open(bytes, secretKey, { context: inputContext(task.taskId.slice(2), sealedTo, index) }); return true } catch { return false }
  })
  for (const { bytes } of envelopes) {
    // each envelope opens for exactly one winner, with that winner's key, and for no other node's key
    const sealedTo = winners.filter(w => opens(bytes, keys.find(k => k.address === w)!.secretKey, w))
    t.is(sealedTo.length, 1, 'one winner opens the envelope')
    for (const other of keys.filter(k => k.address !== sealedTo[0])) t.false(opens(bytes, other.secretKey, sealedTo[0]))
  }
})
