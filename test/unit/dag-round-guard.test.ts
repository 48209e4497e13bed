// The commit rule's round guard (src/dag/round-guard.ts). A validator builds a vertex that reaches one peer only, then
// loses its ledger as a resync clears it (the ledger's sublevels, RESYNC_SUBLEVELS; the `meta` sublevel stays) and gets
// the history back from a peer that never saw that vertex. Its graph then says the round is not built. With the guard
// it does not build there again: it waits for the others' round and builds above it, and no node records an
// equivocation. The positive control: the same with the `meta` sublevel cleared too (a datadir lost whole), where the
// ledger alone does build a second vertex in that round and its peers record the equivocation. (A node guards that
// case by waiting to catch up before it builds: test/net/dag-commit.test.ts.)
import test, { type ExecutionContext } from 'ava'
import { toHex } from '../../src/core/codec.ts'
import { sublevel } from '../../src/core/storage.ts'
import { vertexInfo, type VertexInfo } from '../../src/dag/vertex.ts'
import { RESYNC_SUBLEVELS } from '../../src/node/state-sync.ts'
import { close, type Net, network, type Node, open, runUntil, statuses } from '../helpers/commit-ledgers.ts'
import { transfer } from '../helpers/dag-net.ts'

/** Delivers `info` to each of `to` (as gossip or a sync would). */
async function deliver (info: VertexInfo, to: Node[]): Promise<void> {
  for (const n of to) { await n.ledger.checkStandalone(info); await n.ledger.insertVertex(info) }
}

/** Every vertex `from` holds, parents first. */
async function history (from: Node): Promise<VertexInfo[]> {
  const out: VertexInfo[] = []
  for (const v of [...from.ledger.graph.values()].sort((a, b) => a.height - b.height)) {
    const bytes = await from.ledger.getVertexBytes(v.id)
    if (bytes !== undefined) out.push(vertexInfo(bytes))
  }
  return out
}

/**
 * The scenario up to the resynced node's first chance to build: returns the network (node 0 resynced), the round of
 * its lost vertex and the vertex.
 */
async function lostVertex (t: ExecutionContext, clearMeta: boolean): Promise<{ net: Net, round: number, lost: VertexInfo }> {
  const net = await network()
  const { nodes, users, genesis } = net
  const first = await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 10n, 0n))
  t.true(await runUntil([nodes], async () => (await statuses(nodes, first)).every(s => s === 'final')) >= 0)
  t.true(await runUntil([nodes], async () => nodes.every(n => n.ledger.roundView()?.work === false)) >= 0, 'idle')
  // node 0 builds the next round's vertex (carrying a transfer); it reaches node 1 only
  await nodes[0].ledger.submitTransaction(transfer(genesis, users[1], users[2], 20n, 0n))
  const view = nodes[0].ledger.roundView()
  if (view === undefined || view.built || !view.work) throw new Error(`node 0 cannot build: ${JSON.stringify(view)}`)
  const lost = await nodes[0].ledger.buildVertex({ empty: true })
  if (lost === undefined) throw new Error('no vertex built')
  await deliver(lost, [nodes[1]])
  // node 0's ledger is cleared as a resync clears it, and it starts again
  await nodes[0].ledger.stop()
  for (const name of [...RESYNC_SUBLEVELS, ...(clearMeta ? ['meta' as const] : [])]) await sublevel(nodes[0].db, name).clear()
  await nodes[0].db.close()
  nodes[0] = await open(genesis, nodes[0].key, nodes[0].dir)
  // it gets the history back from node 2, which never saw the lost vertex: its graph holds no vertex of its own there
  for (const info of await history(nodes[2])) await deliver(info, [nodes[0]])
  t.is(nodes[0].ledger.roundView()?.round, view.round, 'the resynced node stands where it built the lost vertex')
  t.false(nodes[0].ledger.commit?.hasVertexOf(toHex(nodes[0].key.publicKey), view.round), 'and its graph does not hold it')
  return { net, round: view.round, lost }
}

test('a resynced validator does not build again in a round it built in: it builds above it, and no node sees an equivocation', async t => {
  const { net, round, lost } = await lostVertex(t, false)
  const { nodes, users, genesis } = net
  t.like(nodes[0].ledger.roundView(), { round, built: true }, 'the guard counts the round as built')
  t.is(await nodes[0].ledger.buildVertex({ empty: true }), undefined, 'nothing is built in it')
  // the lost vertex reaches the others (a sync fetches it as a parent of node 1's next vertex); the network goes on,
  // node 0 with it: a transfer queued there becomes final everywhere
  await deliver(lost, [nodes[0], nodes[2], nodes[3]])
  const later = await nodes[0].ledger.submitTransaction(transfer(genesis, users[2], users[3], 30n, 0n))
  t.true(await runUntil([nodes], async () => (await statuses(nodes, later)).every(s => s === 'final')) >= 0)
  t.true(nodes[0].ledger.commit?.hasVertexOf(toHex(nodes[0].key.publicKey), round + 1), 'node 0 built the round above')
  t.deepEqual(nodes.map(n => n.ledger.commit?.equivocationsSeen), [0, 0, 0, 0])
  for (const n of nodes) await close(n)
})

test('positive control: the same resync with the round guard lost too, and the validator builds a second vertex in the round; its peers record the equivocation', async t => {
  const { net, round, lost } = await lostVertex(t, true)
  const { nodes } = net
  t.false(nodes[0].ledger.roundView()?.built)
  const twin = await nodes[0].ledger.buildVertex({ empty: true })
  if (twin === undefined) throw new Error('no vertex built')
  t.not(twin.idHex, lost.idHex)
  await deliver(twin, [nodes[1]])
  t.true(nodes[1].ledger.commit?.hasVertexOf(toHex(nodes[0].key.publicKey), round))
  t.is(nodes[1].ledger.commit?.equivocationsSeen, 1, 'node 1 holds both of node 0\'s vertices of the round')
  for (const n of nodes) await close(n)
})
