// A validator whose datadir was lost whole (its round guard with it) does not build until it has caught up
// (src/dag/net/anti-entropy.ts `caughtUp`, the proposer's `ready`). Its last vertex reached one peer only (node 1)
// before the loss. It catches up through AntiEntropy and the real ValidatorPeers, fed the peers as the peer binding
// reports them; a sync with a peer is that peer's whole history inserted, checked, parents first, as DagSync's walk
// inserts it. One complete sync with a peer that never saw the vertex leaves the node standing in that vertex's round
// with its graph not holding it: a build there would be a second vertex of the round. So the node waits for every
// validator it can reach, and finds its vertex at node 1.
import { EventEmitter } from 'node:events'
import { generateKeyPair as generatePeerKey } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { toHex } from '../../src/core/codec.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { quorumOf } from '../../src/dag/genesis.ts'
import { AntiEntropy } from '../../src/dag/net/anti-entropy.ts'
import { ValidatorPeers } from '../../src/dag/net/validator-peers.ts'
import type { BoundPeers, PeerBindingEvents, VerifiedPeer } from '../../src/network/peer-binding.ts'
import { close, deliver, history, loseVertex, type Node, runUntil, statuses } from '../helpers/commit-ledgers.ts'
import { transfer } from '../helpers/dag-net.ts'

/** The peer binding's events, as a connection's handshake would emit them. */
class Binding extends EventEmitter<PeerBindingEvents> {
  verifiedPeers (): VerifiedPeer[] { return [] }
}

/**
 * Node 0's anti-entropy against nodes 1–3 (none bound yet). `synced` resolves with a peer's index once a sync with
 * it has ended.
 */
async function catchUp (nodes: Node[], catchUpGraceMs: number): Promise<{ anti: AntiEntropy, bind: (i: number) => Promise<void>, stop: () => Promise<void> }> {
  const self = nodes[0]
  const binding = new Binding()
  const peerIds: PeerId[] = []
  for (let i = 0; i < nodes.length; i++) peerIds.push(peerIdFromPrivateKey(await generatePeerKey('Ed25519')))
  const synced = new Map<number, () => void>()
  const sync = {
    async syncWith (peer: PeerId): Promise<{ fetched: number, complete: boolean }> {
      const i = peerIds.findIndex(p => p.equals(peer))
      const from = await history(nodes[i])
      for (const info of from) await deliver(info, [self])
      synced.get(i)?.()
      return { fetched: from.length, complete: true }
    }
  }
  const genesis = self.ledger.genesis
  const peers = new ValidatorPeers({ binding: binding as unknown as BoundPeers, genesis, publicKey: self.key.publicKey })
  await peers.start()
  const anti = new AntiEntropy({ sync, peers, logger: silentLogger(), quorumStake: quorumOf(peers.totalWeight, genesis.consensus) }, { syncIntervalMs: 3_600_000, catchUpGraceMs })
  await anti.start()
  const bind = async (i: number): Promise<void> => {
    const done = new Promise<void>(resolve => synced.set(i, resolve))
    binding.emit('peer:bound', { peerId: peerIds[i], ledgerPublicKey: nodes[i].key.publicKey })
    await done
    await new Promise(resolve => setImmediate(resolve))
  }
  return { anti, bind, stop: async () => { await anti.stop(); await peers.stop() } }
}

test('a validator with its datadir lost waits for every validator it reaches: its vertex that reached one of them is found, and it builds above it', async t => {
  const { net, round, lost } = await loseVertex(true)
  const { nodes, users, genesis } = net
  const own = toHex(nodes[0].key.publicKey)
  const { anti, bind, stop } = await catchUp(nodes, 3_600_000)
  t.false(anti.caughtUp, 'nothing synced yet')
  await bind(2)
  await bind(3)
  t.is(nodes[0].ledger.roundView()?.round, round, 'two complete syncs leave it in the lost vertex\'s round')
  t.false(nodes[0].ledger.commit?.hasVertexOf(own, round), 'without that vertex')
  t.false(anti.caughtUp, 'so it is not caught up: node 1 is not synced yet')
  await bind(1)
  t.true(anti.caughtUp, 'caught up once every other validator is synced')
  t.true(nodes[0].ledger.commit?.hasVertexOf(own, round), 'node 1 held its vertex')
  t.like(nodes[0].ledger.roundView(), { round, built: true })
  t.is(await nodes[0].ledger.buildVertex({ empty: true }), undefined, 'nothing is built in that round')
  await stop()
  // the network goes on with node 0 in it: its transfer becomes final everywhere, and no node saw two vertices of
  // one validator in one round
  await deliver(lost, nodes.slice(2))
  const later = await nodes[0].ledger.submitTransaction(transfer(genesis, users[2], users[3], 30n, 0n))
  t.true(await runUntil([nodes], async () => (await statuses(nodes, later)).every(s => s === 'final')) >= 0)
  t.true(nodes[0].ledger.commit?.hasVertexOf(own, round + 1), 'node 0 built the round above')
  t.deepEqual(nodes.map(n => n.ledger.commit?.equivocationsSeen), [0, 0, 0, 0])
  for (const n of nodes) await close(n)
})

test('once the grace is over, one complete sync is enough: a validator it never reached cannot stall it (the case left open: its vertex held there only)', async t => {
  const { net, round, lost } = await loseVertex(true)
  const { nodes } = net
  const { anti, bind, stop } = await catchUp(nodes, 0)
  t.false(anti.caughtUp, 'not before a complete sync')
  await bind(2)
  t.true(anti.caughtUp, 'one complete sync, the grace over')
  // node 1, never reached, held the lost vertex: the node stands in its round without it, and a build there is a
  // second vertex of the round
  t.like(nodes[0].ledger.roundView(), { round, built: false })
  const twin = await nodes[0].ledger.buildVertex({ empty: true })
  if (twin === undefined) throw new Error('no vertex built')
  t.not(twin.idHex, lost.idHex)
  await deliver(twin, [nodes[1]])
  t.is(nodes[1].ledger.commit?.equivocationsSeen, 1, 'node 1 holds both of node 0\'s vertices of the round')
  await stop()
  for (const n of nodes) await close(n)
})
