import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { type ConsensusRule, generateGenesis } from '../../src/dag/genesis.ts'
import { ConsensusProbe, waitStalled } from '../helpers/dag-consensus-probe.ts'
import { RPC_METHODS, type RpcResultOf } from '../../src/api/definitions.ts'
import type { DagService } from '../../src/dag/service.ts'
import { type NodeRpcParts, nodeRpcSource } from '../../src/node/rpc-source.ts'
import { createTestNet, transfer, waitFor } from '../helpers/dag-net.ts'
import { NodeProcess } from '../helpers/dag-processes.ts'

const CONSENSUS = { k: 20, alpha: 15, betaVirtuous: 8, betaRogue: 10 }
// Failed polls watched in each phase: several times the β_virtuous successful polls that finalized before the rule.
const POLLS_PER_PHASE = 3 * CONSENSUS.betaVirtuous

const quorum = test.macro(async (t, rule: ConsensusRule) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-dag-quorum-'))
  const nodes: NodeProcess[] = []
  try {
    // validators A, B, C, D of stake 1 each (quorum ⌈15/20 × 4⌉ = 3); B runs twice (B and B2, one ledger key, two
    // datadirs and libp2p identities); D never runs.
    const seeds = Array.from({ length: 4 }, () => randomBytes(32))
    const [payer, payee] = [generateKeyPair(), generateKeyPair()]
    const genesis = generateGenesis({
      chainId: 'harmony-quorum',
      validatorPublicKeys: seeds.map(s => generateKeyPair(s).publicKey),
      faucetPublicKey: generateKeyPair().publicKey,
      allocations: [{ address: parseAddress(addressFromPublicKey(payer.publicKey)), balance: 10n ** 21n }],
      consensus: { ...CONSENSUS, rule }
    })
    const [A, B, B2] = [await NodeProcess.start(dir, 'A', genesis, seeds[0]), await NodeProcess.start(dir, 'B', genesis, seeds[1]), await NodeProcess.start(dir, 'B2', genesis, seeds[1])]
    nodes.push(A, B, B2)
    const probe = new ConsensusProbe(A)
    await waitFor(() => nodes.every(n => n.addr !== ''), 'nodes listening')

    // phase 1: A has one validator peer
    A.dial(B.addr)
    await waitFor(() => A.peers === 1, 'A bound to B')
    const id = A.submit(transfer(genesis, payer, payee, 10n, 0n))
    await waitFor(async () => await probe.tx(id) === 'pending', 'the transfer pending on A')
    // stops early when the transfer was decided (the assertions after it then fail)
    const watchPolls = async (what: string): Promise<number[]> => await waitStalled([probe], rule, POLLS_PER_PHASE, what, async () => await probe.tx(id) !== 'pending')
    const stuck = await watchPolls('with one peer')
    let h = await probe.health()
    t.false(h.live, 'one peer: not live')
    t.deepEqual([h.reachableStake, h.quorumStake, h.totalStake], [2, 3, 4])
    t.is(h.polls.success, 0)
    t.is(await probe.tx(id), 'pending', 'one peer: never final')

    // phase 2: a second peer bound to the same validator key B; counted twice it would make the quorum (3)
    A.dial(B2.addr)
    await waitFor(() => A.peers === 2, 'A bound to B and B2 (one key)')
    await watchPolls('with two peers of one key')
    h = await probe.health()
    t.false(h.live, 'two peers of one key: still not live')
    t.is(h.reachableStake, 2, 'one key counts once')
    t.is(h.polls.success, 0)
    t.is(await probe.tx(id), 'pending', 'two peers of one key: never final')
    t.is(A.finals.size, 0)
    if (rule === 'commit') t.deepEqual([(await probe.rounds())?.round], stuck, 'no round past the one A reached with one peer')

    // phase 3: validator C joins: A reaches 3 of 4, the quorum; it is live and finalizes
    const C = await NodeProcess.start(dir, 'C', genesis, seeds[2])
    nodes.push(C)
    await waitFor(() => C.addr !== '', 'C listening')
    A.dial(C.addr)
    await waitFor(() => A.peers === 3, 'A bound to C')
    h = await probe.health()
    t.true(h.live, 'quorum in reach: live')
    t.is(h.reachableStake, 3)
    await waitFor(() => A.finals.has(id), 'the transfer final on A', 60_000)
    t.is(await probe.tx(id), 'final')

    // and not live again when the quorum goes away
    await C.kill()
    await waitFor(async () => !(await probe.health()).live, 'A not live once C is gone')
  } finally {
    await Promise.all(nodes.map(async n => { if (!n.exited) await n.kill() }))
    await rm(dir, { recursive: true, force: true })
  }
})
test('one peer of four validators never finalizes; two peers bound to one key count once; finality comes back with the quorum (commit rule)', quorum, 'commit')
test('the same under Avalanche', quorum, 'avalanche')

test.serial('node_health.consensus and harmony_dag_live: a sole validator is live alone; one of two validators is not, and is again when the other comes back', async t => {
  const sole = await createTestNet({ nodes: 1, accounts: 2 })
  try {
    const [from, to] = sole.accounts
    const id = await sole.nodes[0].dag.submitTransaction(transfer(sole.genesis, from, to, 1n, 0n))
    await waitFor(async () => (await sole.nodes[0].dag.getTx(id))?.status === 'final', 'final on the sole validator')
    t.like(healthOf(sole.nodes[0].dag), { live: true, reachableStake: 1, quorumStake: 1, totalStake: 1 })
    await waitFor(async () => /^harmony_dag_live 1$/m.test(await sole.nodes[0].registry.metrics()), 'harmony_dag_live 1')
  } finally {
    await sole.close()
  }
  const pair = await createTestNet({ nodes: 2, accounts: 2 })
  try {
    await waitFor(() => pair.nodes.every(n => n.dag.validatorPeers.size === 1), 'the pair bound')
    t.like(healthOf(pair.nodes[0].dag), { live: true, reachableStake: 2, quorumStake: 2 })
    await pair.stop(1)
    await waitFor(() => !healthOf(pair.nodes[0].dag).live, 'not live without the other validator')
    t.like(healthOf(pair.nodes[0].dag), { live: false, reachableStake: 1, quorumStake: 2, totalStake: 2 })
    await waitFor(async () => /^harmony_dag_live 0$/m.test(await pair.nodes[0].registry.metrics()), 'harmony_dag_live 0')
    t.regex(await pair.nodes[0].registry.metrics(), /^harmony_dag_reachable_stake_ratio 0.5$/m)
    await pair.start(1)
    await pair.connectAll()
    await waitFor(() => healthOf(pair.nodes[0].dag).live, 'live again')
    const [from, to] = pair.accounts
    const id = await pair.nodes[0].dag.submitTransaction(transfer(pair.genesis, from, to, 1n, 0n))
    await waitFor(async () => (await pair.nodes[1].dag.getTx(id))?.status === 'final', 'final on both once the quorum is back')
  } finally {
    await pair.close()
  }
})

/** What node_health reports as `consensus`, through the node's RPC source (src/node/rpc-source.ts). */
function healthOf (dag: DagService): NonNullable<RpcResultOf<'node_health'>['consensus']> {
  const parts = {
    state: 'running',
    uptimeSeconds: () => 1,
    libp2p: { getPeers: () => [] },
    peerBinding: { verifiedPeers: () => [] }
  } as unknown as NodeRpcParts
  const health = nodeRpcSource(parts, undefined, () => {
    const { live, reachableStake, quorumStake, totalStake } = dag.consensusHealth()
    return { live, reachableStake, quorumStake, totalStake }
  }).health()
  const consensus = RPC_METHODS.node_health.result.parse(health).consensus
  if (consensus === undefined) throw new Error('node_health without consensus')
  return consensus
}
