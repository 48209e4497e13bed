// The commit rule's round guard (src/dag/round-guard.ts). A validator builds a vertex that reaches one peer only, then
// loses its ledger as a resync clears it (the ledger's sublevels, RESYNC_SUBLEVELS; the `meta` sublevel stays) and gets
// the history back from a peer that never saw that vertex. Its graph then says the round is not built. With the guard
// it does not build there again: it waits for the others' round and builds above it, and no node records an
// equivocation. The positive control: the same with the `meta` sublevel cleared too (a datadir lost whole), where the
// ledger alone does build a second vertex in that round and its peers record the equivocation. (A node guards that
// case by waiting to catch up before it builds: test/net/dag-commit.test.ts.)
import test, { type ExecutionContext } from 'ava'
import { toHex } from '../../src/core/codec.ts'
import type { VertexInfo } from '../../src/dag/vertex.ts'
import { close, deliver, history, loseVertex, type Net, runUntil, statuses } from '../helpers/commit-ledgers.ts'
import { transfer } from '../helpers/dag-net.ts'

/**
 * The scenario up to the resynced node's first chance to build: node 0's lost vertex reached node 1 only, node 0's
 * ledger was cleared, and it got the history back from node 2, which never saw that vertex.
 */
async function lostVertex (t: ExecutionContext, clearMeta: boolean): Promise<{ net: Net, round: number, lost: VertexInfo }> {
  const { net, round, lost } = await loseVertex(clearMeta)
  const { nodes } = net
  for (const info of await history(nodes[2])) await deliver(info, [nodes[0]])
  t.is(nodes[0].ledger.roundView()?.round, round, 'the resynced node stands where it built the lost vertex')
  t.false(nodes[0].ledger.commit?.hasVertexOf(toHex(nodes[0].key.publicKey), round), 'and its graph does not hold it')
  return { net, round, lost }
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
