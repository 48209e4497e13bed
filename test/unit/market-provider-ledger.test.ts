/**
 * The provider agent on a real one-validator ledger (real LevelDB, real ML-DSA, libp2p on loopback) with the
 * market's real state and coordinator, and the CPU executor in its worker process: it registers with its bond,
 * bids on a final announce, reveals, runs what it is awarded, and is paid for a result equal to the CPU reference.
 */
import test from 'ava'
import { f32Blob, makeBlob } from '../../src/compute/blob.ts'
import { createExecutor } from '../../src/compute/device.ts'
import { referenceResult } from '../../src/compute/verify.ts'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { sublevel } from '../../src/core/storage.ts'
import { generateKemKeyPair } from '../../src/market/blobs/seal.ts'
import { buildTaskAnnounce, escrowAccount, marketRules, registerMarketKinds } from '../../src/market/index.ts'
import { ProviderAgent } from '../../src/market/provider/agent.ts'
import type { ProviderBlobs } from '../../src/market/provider/blobs.ts'
import { capabilityRecord } from '../../src/market/provider/capability.ts'
import { parseProviderConfig } from '../../src/market/provider/config.ts'
import { randomValues } from '../helpers/compute.ts'
import { createTestNet, waitFor } from '../helpers/dag-net.ts'
import { matmulAnnounce, Signer, startMarket } from '../helpers/market.ts'

registerMarketKinds()

test.serial('a provider agent registers, bids, reveals, runs its award and is paid for the reference result', async t => {
  const net = await createTestNet({ nodes: 1, accounts: 2, accountBalance: 10n ** 21n })
  const node = net.nodes[0]
  const market = await startMarket(node)
  const cpu = await createExecutor({ executor: 'cpu', logger: silentLogger() })
  const a = f32Blob(randomValues(4 * 3, 1))
  const b = f32Blob(randomValues(3 * 5, 2))
  const stored = new Map<string, Uint8Array>([[a.id, a.bytes], [b.id, b.bytes]])
  // the inputs are where the requester's node put them; the output is where the provider serves it from
  const blobs: ProviderBlobs = {
    input: async (_task, id) => { const bytes = stored.get(id); if (bytes === undefined) throw new Error(`no blob ${id}`); return bytes },
    output: async (_task, bytes) => { const blob = makeBlob(bytes); stored.set(blob.id, bytes); return blob.id }
  }
  const [requesterKeys, providerKeys] = net.accounts
  const agent = new ProviderAgent({
    market: market.reader,
    ledger: node.dag.reader,
    chainId: net.genesis.chainId,
    fee: net.genesis.minFee,
    submit: async (tx) => await node.dag.submitTransaction(tx),
    keys: providerKeys,
    kemPublicKey: new Uint8Array(1184).fill(9),
    taskKeys: { publicKey: () => generateKemKeyPair(new Uint8Array(64).fill(9)).publicKey, seedToReveal: () => undefined },
    executor: () => cpu,
    blobs,
    db: sublevel(node.db, 'market'),
    logger: silentLogger()
  }, {
    config: parseProviderConfig({ enabled: true, bond: marketRules.MIN_BOND.toString(), pricePerGflop: '1000000000', minPrice: '10' }),
    capability: capabilityRecord(cpu.info(), 1),
    tickMs: 50,
    sweepMs: 300
  })
  try {
    await agent.start()
    await waitFor(async () => (await market.reader.provider(agent.address)) !== undefined, 'the registration to be final', 30_000)
    t.is((await market.reader.provider(agent.address))?.bond, marketRules.MIN_BOND)
    await waitFor(() => agent.status().registered, 'the agent to see its registration', 30_000)

    const requester = new Signer(net.genesis.chainId, requesterKeys)
    const { tx, taskId } = buildTaskAnnounce(requester.next(), matmulAnnounce({
      spec: { kernel: 'matmul', paramsJson: '{"k":3,"m":4,"n":5}' },
      inputs: [Buffer.from(a.id, 'hex'), Buffer.from(b.id, 'hex')],
      budget: 1000n,
      bidWindowMs: 2500,
      revealWindowMs: 2500,
      executionDeadlineMs: 20_000
    }))
    await node.dag.submitTransaction(tx)
    const taskHex = toHex(taskId)
    await waitFor(async () => (await market.reader.task(taskHex))?.settlement !== undefined, 'the task to settle', 60_000)

    const task = await market.reader.task(taskHex)
    t.is(task?.phase, 'settled')
    t.deepEqual(task?.winners, [agent.address])
    const bids = await market.reader.bids(taskHex)
    t.is(bids.length, 1)
    // 2·4·3·5 = 120 FLOP at 10^9 base units per GFLOP = 120, the minimum is 10
    t.is(bids[0].price, 120n)
    t.is(bids[0].status, 'won')
    const expected = referenceResult({ spec: { v: 1, kernel: 'matmul', params: { m: 4, k: 3, n: 5 }, inputs: [a.id, b.id] }, inputs: [a, b] })
    t.is(task?.results[0].commitment, expected.commitment)
    t.deepEqual(stored.get(task?.results[0].outputBlob ?? ''), expected.outputs[0].bytes, 'the served output is the reference output')
    // paid as bid, less the 1 % fee; the rest of the escrow went back to the requester
    t.deepEqual(task?.settlement?.payouts, [{ provider: agent.address, amount: 119n }])
    t.is((await node.dag.reader.account(escrowAccount(taskId))).balance, 0n)
    t.is((await market.reader.provider(agent.address))?.received, 119n)
    await waitFor(() => agent.status().active.length === 0, 'the agent to let the task go')
    t.true((await node.dag.reader.account(addressBytesFromPublicKey(providerKeys.publicKey))).balance > 0n)
  } finally {
    await agent.stop()
    await cpu.close()
    await market.stop()
    await net.close()
  }
})
