// Four (or more) validators' ledgers under `consensus.rule: 'commit'`, each on its own LevelDB, exchanging their
// signed vertices directly (no network: the delivery is the test's to choose, which is what lets it partition them).
// Used by test/unit/dag-commit-ledger.test.ts, dag-round-guard.test.ts and dag-catch-up.test.ts.
import type { DagMetrics } from '../../src/dag/metrics.ts'
import { join } from 'node:path'
import { generateKeyPair, type KeyPair, verify } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinaryDb, openDatabase } from '../../src/core/storage.ts'
import { type Genesis, generateGenesis } from '../../src/dag/genesis.ts'
import { DagLedger } from '../../src/dag/ledger.ts'
import type { SignatureVerifier } from '../../src/dag/verify-pool.ts'
import { vertexInfo, type VertexInfo } from '../../src/dag/vertex.ts'
import { RESYNC_SUBLEVELS } from '../../src/node/state-sync.ts'
import { sublevel } from '../../src/core/storage.ts'
import { addressOf, transfer } from './dag-net.ts'
import { parseAddress } from '../../src/core/address.ts'
import { tempDirUntilExit } from './temp.ts'

export const verifier: SignatureVerifier = { verifyBatch: async items => items.map(i => verify(i.sig, i.msg, i.publicKey)) }
export const START = 10n ** 15n

export interface Node { key: KeyPair, dir: string, db: BinaryDb, ledger: DagLedger }
export interface Net { genesis: Genesis, nodes: Node[], users: KeyPair[] }

/** Opens a validator's ledger on `dir` (its bodies in the LevelDB), started unless `start` is false. */
export async function open (genesis: Genesis, key: KeyPair, dir: string, { start = true, metrics }: { start?: boolean, metrics?: DagMetrics } = {}): Promise<Node> {
  const db = await openDatabase(join(dir, 'db'))
  const ledger = new DagLedger({ db, genesis, identity: key, verifier, logger: silentLogger(), ...(metrics !== undefined ? { metrics } : {}) })
  if (start) await ledger.start()
  return { key, dir, db, ledger }
}

export async function close (n: Node): Promise<void> { await n.ledger.stop(); await n.db.close() }

/** `metrics`: the validators' metrics, by index (those given). */
export async function network (validators = 4, { metrics = [] }: { metrics?: DagMetrics[] } = {}): Promise<Net> {
  const keys = Array.from({ length: validators }, () => generateKeyPair())
  const users = Array.from({ length: 4 }, () => generateKeyPair())
  const genesis = generateGenesis({
    chainId: 'harmony-commit',
    validatorPublicKeys: keys.map(k => k.publicKey),
    faucetPublicKey: generateKeyPair().publicKey,
    allocations: users.map(u => ({ address: parseAddress(addressOf(u)), balance: START })),
    consensus: { rule: 'commit' }
  })
  const nodes: Node[] = []
  for (const [i, key] of keys.entries()) nodes.push(await open(genesis, key, await tempDirUntilExit('harmony-commit-'), { ...(metrics[i] !== undefined ? { metrics: metrics[i] } : {}) }))
  return { genesis, nodes, users }
}

/**
 * One step of the network: every node of each group that may build (its round's quorum held, work waiting) builds
 * its vertex, then each is delivered to the other nodes of its group. Returns the vertices built.
 */
export async function step (groups: Node[][]): Promise<VertexInfo[]> {
  const built: VertexInfo[] = []
  for (const group of groups) {
    const fresh: Array<[Node, VertexInfo]> = []
    for (const n of group) {
      const view = n.ledger.roundView()
      if (view === undefined || view.built || !view.work) continue
      const info = await n.ledger.buildVertex({ empty: true })
      if (info !== undefined) fresh.push([n, info])
    }
    for (const [from, info] of fresh) {
      for (const to of group) {
        if (to === from) continue
        await to.ledger.checkStandalone(info)
        await to.ledger.insertVertex(info)
      }
      built.push(info)
    }
  }
  return built
}

export async function runUntil (groups: Node[][], done: () => Promise<boolean>, maxSteps = 40): Promise<number> {
  for (let i = 0; i < maxSteps; i++) {
    if (await done()) return i
    await step(groups)
  }
  return await done() ? maxSteps : -1
}

export async function statuses (nodes: Node[], txId: string): Promise<Array<string | undefined>> {
  return await Promise.all(nodes.map(async n => (await n.ledger.getTx(txId))?.status))
}

export async function roots (nodes: Node[]): Promise<string[]> { return await Promise.all(nodes.map(async n => (await n.ledger.stats()).stateRoot)) }


/** Delivers `info` to each of `to` that lacks it (as gossip or a sync would). */
export async function deliver (info: VertexInfo, to: Node[]): Promise<void> {
  for (const n of to) {
    if (await n.ledger.knowsVertex(info.idHex)) continue
    await n.ledger.checkStandalone(info)
    await n.ledger.insertVertex(info)
  }
}

/** Every vertex `from` holds, parents first. */
export async function history (from: Node): Promise<VertexInfo[]> {
  const out: VertexInfo[] = []
  for (const v of [...from.ledger.graph.values()].sort((a, b) => a.height - b.height)) {
    const bytes = await from.ledger.getVertexBytes(v.id)
    if (bytes !== undefined) out.push(vertexInfo(bytes))
  }
  return out
}

/**
 * Four validators finalize a transfer; node 0 then builds the next round's vertex (`lost`, in `round`), which reaches
 * node 1 only, and loses its ledger: as a resync clears it (RESYNC_SUBLEVELS, the round guard kept), or whole with
 * `clearMeta`. Node 0 is open again on what is left, its graph holding the genesis only.
 */
export async function loseVertex (clearMeta: boolean): Promise<{ net: Net, round: number, lost: VertexInfo }> {
  const net = await network()
  const { nodes, users, genesis } = net
  const first = await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 10n, 0n))
  if (await runUntil([nodes], async () => (await statuses(nodes, first)).every(s => s === 'final')) < 0) throw new Error('the first transfer is not final')
  if (await runUntil([nodes], async () => nodes.every(n => n.ledger.roundView()?.work === false)) < 0) throw new Error('the network is not idle')
  await nodes[0].ledger.submitTransaction(transfer(genesis, users[1], users[2], 20n, 0n))
  const view = nodes[0].ledger.roundView()
  if (view === undefined || view.built || !view.work) throw new Error(`node 0 cannot build: ${JSON.stringify(view)}`)
  const lost = await nodes[0].ledger.buildVertex({ empty: true })
  if (lost === undefined) throw new Error('no vertex built')
  await deliver(lost, [nodes[1]])
  await nodes[0].ledger.stop()
  for (const name of [...RESYNC_SUBLEVELS, ...(clearMeta ? ['meta' as const] : [])]) await sublevel(nodes[0].db, name).clear()
  await nodes[0].db.close()
  nodes[0] = await open(genesis, nodes[0].key, nodes[0].dir)
  return { net, round: view.round, lost }
}
