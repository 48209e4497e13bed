/**
 * A pruned node (issue 11): with `archive` off, a node deletes vertex bodies below the last checkpoint anchored on
 * chain (the bridge's HistoryPruner calls the DAG's prune with the anchored epoch's close vertex). tx_get there
 * answers `pruned` with the outcome while an archive node still has the transaction; the pruned node keeps
 * finalizing with the same state root. A node that lacks history its peers pruned reports the gap (HISTORY_PRUNED,
 * node_health's consensus.historyGap) and `--state-sync --resync` starts it again from the anchored checkpoint.
 * Three real libp2p nodes with DagService + ChainService + DagBridge, anvil. Under either consensus rule
 * (test/chain/pruned-node*.test.ts register it); under the commit rule the history window is at least 4 × the rounds
 * the rule keeps, so transfers go on until the first ones have left the pruned node's memory before the checkpoint.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { getBytes } from 'ethers'
import { Registry } from 'prom-client'
import type { DagBridge } from '../../src/bridge/dag-bridge.ts'
import { buildWithdraw } from '../../src/bridge/kinds/builders.ts'
import { StateSyncServer } from '../../src/bridge/state-sync.ts'
import { type DevnetChain, writeContractsFile } from '../../src/chain/index.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { openDatabase } from '../../src/core/storage.ts'
import type { ConsensusRule } from '../../src/dag/genesis.ts'
import { DagService } from '../../src/dag/service.ts'
import { syncFromCheckpoint } from '../../src/node/state-sync.ts'
import { type BridgeNet, startBridgeNet } from './bridge-net.ts'
import { addressOf, createDagLibp2p, startDagNetworking, type TestNet, transfer, waitFor } from './dag-net.ts'

const NODES = 3
const PRUNED = 2
let b: BridgeNet
let devnet: DevnetChain
let net: TestNet
let bridges: DagBridge[]
const recipient = generateKeyPair()

/** Registers the scenario's tests on a network whose genesis names `rule`. */
export function registerPrunedNodeTests (rule: ConsensusRule): void {
  test.before(async () => {
    // a window of 4 heights: the transfers below leave memory long before the checkpoint is anchored (under the
    // commit rule the window is larger whatever is asked: see the first test)
    b = await startBridgeNet(`pruned-${rule}`, { nodes: NODES, accounts: 1, consensus: { rule, k: 2, alpha: 2, betaVirtuous: 3, betaRogue: 5 }, dag: { historyWindow: 4 } },
      i => ({ propose: i === 0, proposeDelayMs: 0, tickMs: 100, epochIntervalMs: 0, resubmitMs: 3000 }), { prunedNode: PRUNED })
    net = b.net
    devnet = b.devnet
    bridges = b.bridges
  })

  test.after.always(async () => { await b?.close() })

  async function finalEverywhere (id: string): Promise<boolean> {
    for (const n of net.nodes) if ((await n.dag.getTx(id))?.status !== 'final') return false
    return true
  }

  test.serial('a pruned node deletes bodies below the anchored checkpoint, answers tx_get with pruned, and keeps finalizing', async (t) => {
    const [user] = net.accounts
    t.is(bridges[0].pruner, undefined) // an archive node has no pruner
    const pruner = bridges[PRUNED].pruner
    if (pruner === undefined) return t.fail('the pruned node has no pruner')
    t.is(await pruner.tick(), 0) // nothing anchored yet: nothing pruned

    // history: transfers one after another, each final on every node before the next
    const ids: string[] = []
    for (let nonce = 0n; nonce < 12n; nonce++) {
      const id = await net.nodes[Number(nonce) % NODES].dag.submitTransaction(transfer(net.genesis, user, recipient, 1000n, nonce))
      await waitFor(async () => await finalEverywhere(id), `transfer ${nonce} final on every node`)
      ids.push(id)
    }
    if (rule === 'commit') {
      // the rule's window (4 × gcDepth heights) is far above the 4 asked: rounds go on until the first transfer's vertex
      // has left the pruned node's memory, each filler transfer final before the next
      const first = (await net.nodes[PRUNED].dag.getTx(ids[0]))?.vertexId ?? ''
      const sink = generateKeyPair()
      for (let n = 0n; net.nodes[PRUNED].dag.ledger.hasVertex(first) && n < 2000n; n++) {
        const id = await net.nodes[0].dag.submitTransaction(transfer(net.genesis, net.faucet, sink, 1n, n))
        await waitFor(async () => await finalEverywhere(id), `filler ${n} final on every node`)
      }
      t.false(net.nodes[PRUNED].dag.ledger.hasVertex(first), 'the first transfer\'s vertex left memory')
    }
    // a withdraw makes validator 0 close epoch 1; its checkpoint is anchored on chain
    const fee = net.genesis.minFee
    await net.nodes[0].dag.submitTransaction(buildWithdraw({ chainId: net.genesis.chainId, publicKey: user.publicKey, secretKey: user.secretKey, evmAddress: getBytes(b.userWallet.address), amount: 5000n, nonce: 12n, fee }))
    await waitFor(async () => await devnet.contracts.settlement.lastEpoch() >= 1n, 'checkpoint 1 on chain', 60_000)
    await waitFor(() => bridges.every(b => b.epoch >= 1n), 'epoch 1 processed on every node')

    const deleted = await pruner.tick()
    t.true(deleted >= 5, `deleted ${deleted}`)
    const pruned = await net.nodes[PRUNED].dag.getTx(ids[0])
    t.is(pruned?.status, 'pruned')
    t.is(pruned?.outcome, 'final')
    t.is(pruned?.tx, undefined)
    const archived = await net.nodes[0].dag.getTx(ids[0])
    t.is(archived?.status, 'final')
    t.is(`0x${archived?.tx?.idHex ?? ''}`, ids[0])
    t.is(await pruner.tick(), 0) // the same anchored epoch again: nothing more

    // the pruned node keeps finalizing; its nonce chain and ancestry run through pruned history; equal roots
    const next = await net.nodes[PRUNED].dag.submitTransaction(transfer(net.genesis, user, recipient, 1000n, 13n))
    await waitFor(async () => await finalEverywhere(next), 'a transfer after pruning final on every node')
    await waitFor(async () => {
      const roots = await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot))
      return roots.every(r => r === roots[0])
    }, 'equal state roots')
  })

  test.serial('a node whose peers pruned the history it lacks says so, and --resync starts it again from the checkpoint', async (t) => {
    const [user] = net.accounts
    const prunedNode = net.nodes[PRUNED]
    const last = await devnet.contracts.settlement.lastEpoch()
    t.true(last >= 1n)
    // the pruned validator serves its checkpoint cuts, as every node does (src/node/node.ts)
    const server = new StateSyncServer({ libp2p: prunedNode.libp2p, cuts: bridges[PRUNED], logger: silentLogger() })
    await server.start()
    t.teardown(async () => { await server.stop() })

    // a node that missed that history, reaching only the pruned validator: its datadir holds the genesis only, as one
    // offline since the start would
    const dir = await mkdtemp(join(tmpdir(), 'harmony-behind-'))
    const libp2p = await createDagLibp2p()
    const db = await openDatabase(dir)
    const key = generateKeyPair()
    const networking = await startDagNetworking(libp2p, key, silentLogger())
    const behindDag = (): DagService => new DagService({ libp2p, ...networking, db, identity: key, genesis: net.genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 }, syncIntervalMs: 200, bodyDir: join(dir, 'bodies') })
    let behind = behindDag()
    t.teardown(async () => { await behind.stop(); await networking.peerBinding.stop(); await libp2p.stop(); await db.close(); await rm(dir, { recursive: true, force: true }) })
    await behind.start()
    await libp2p.dial(prunedNode.libp2p.getMultiaddrs()[0])
    // its catch-up reaches the pruned ancestors: the gap is reported, and the node does not claim to be live
    await waitFor(() => behind.consensusHealth().historyGap !== undefined, 'the history gap reported')
    const health = behind.consensusHealth()
    t.false(health.live)
    t.regex(health.historyGap ?? '', /--state-sync --resync/)
    // nothing built on the gap could be placed
    const [tip] = prunedNode.dag.tips()
    t.false(await behind.ledger.knowsVertex(tip.slice(2)))
    t.is(await behind.getNonce(addressOf(user)), 0n)

    // --state-sync without --resync leaves a datadir that holds a ledger alone
    await behind.stop()
    behind = behindDag()
    const contractsPath = join(dir, 'contracts.json')
    await writeContractsFile(contractsPath, devnet.contractsFile)
    const sync = { libp2p, dag: behind, db, contractsPath, chainRpc: '', logger: silentLogger() }
    t.is(await syncFromCheckpoint(sync), undefined)
    // with --resync it is replaced by the anchored checkpoint's state
    t.is(await syncFromCheckpoint(sync, { resync: true }), last)
    const synced = await behind.getNonce(addressOf(user))
    t.true(synced > 0n)
    // and a ledger that reaches the checkpoint is kept: the flag left on does not wipe it at every start
    t.is(await syncFromCheckpoint(sync, { resync: true }), undefined)
    t.is(await behind.getNonce(addressOf(user)), synced)

    // it follows the network again: new traffic is applied, no gap, and the state roots agree (a node that is no
    // validator finalizes only through a quorum of validators, so it now reaches the other two, archive nodes)
    await behind.start()
    for (const n of net.nodes) if (n !== prunedNode) await libp2p.dial(n.libp2p.getMultiaddrs()[0])
    const nonce = await prunedNode.dag.getNonce(addressOf(user))
    const next = await prunedNode.dag.submitTransaction(transfer(net.genesis, user, recipient, 1000n, nonce))
    await waitFor(async () => (await behind.getTx(next))?.status === 'final', 'a transfer after the resync final on the resynced node')
    await waitFor(async () => new Set(await Promise.all([...net.nodes.map(n => n.dag), behind].map(async d => (await d.stats()).stateRoot))).size === 1, 'one state root on the validators and the resynced node')
    t.is(behind.consensusHealth().historyGap, undefined)
    t.true(behind.consensusHealth().live)
  })

  test.serial('the gap closes once a peer that keeps the history serves it', async (t) => {
    const [archive, , prunedNode] = net.nodes
    const dir = await mkdtemp(join(tmpdir(), 'harmony-behind-'))
    const libp2p = await createDagLibp2p()
    const db = await openDatabase(dir)
    const key = generateKeyPair()
    const networking = await startDagNetworking(libp2p, key, silentLogger())
    const behind = new DagService({ libp2p, ...networking, db, identity: key, genesis: net.genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 }, syncIntervalMs: 200, bodyDir: join(dir, 'bodies') })
    t.teardown(async () => { await behind.stop(); await networking.peerBinding.stop(); await libp2p.stop(); await db.close(); await rm(dir, { recursive: true, force: true }) })
    await behind.start()
    await libp2p.dial(prunedNode.libp2p.getMultiaddrs()[0])
    await waitFor(() => behind.consensusHealth().historyGap !== undefined, 'the history gap reported')
    // an archive validator has every body: the catch-up replays the whole history from it
    for (const n of net.nodes) if (n !== prunedNode) await libp2p.dial(n.libp2p.getMultiaddrs()[0])
    await waitFor(() => behind.consensusHealth().historyGap === undefined, 'the gap closed')
    await waitFor(async () => (await behind.stats()).stateRoot === (await archive.dag.stats()).stateRoot, 'the state root of the validators')
    t.true(behind.consensusHealth().live)
  })
}
