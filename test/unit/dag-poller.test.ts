import test from 'ava'
import type { PeerId } from '@libp2p/interface'
import { AvalancheCore } from '../../src/dag/consensus/avalanche-core.ts'
import { DEFAULT_CONSENSUS } from '../../src/dag/genesis.ts'
import { DagGraph } from '../../src/dag/graph.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { Poller, type PollerComponents } from '../../src/dag/net/poller.ts'

// Four validators of stake 1: the quorum is ⌈15/20 × 4⌉ = 3, this node's own vote included.
function setup (answer: (peer: string) => Promise<string[] | undefined>): { poller: Poller, core: AvalancheCore, asked: string[] } {
  const graph = new DagGraph('g')
  const core = new AvalancheCore(graph, DEFAULT_CONSENSUS)
  graph.add('v', ['g'], 'processing')
  core.add('v', [{ conflictKey: 'a:0', txIdHex: 't' }])
  const asked: string[] = []
  const bound = new Map(['p1', 'p2', 'p3'].map(p => [`key-${p}`, { peerId: { toString: () => p } as unknown as PeerId, weight: 1 }]))
  const components = {
    ledger: {
      genesis: { consensus: DEFAULT_CONSENSUS, validators: [1, 2, 3, 4].map(() => ({ weight: 1 })) },
      isStronglyPreferred: (id: string) => core.isStronglyPreferred(id),
      decide: async <T>(step: (c: AvalancheCore) => { result: T }) => step(core).result
    },
    query: { query: async (peer: PeerId) => { asked.push(peer.toString()); return await answer(peer.toString()) } },
    peers: { soleValidator: false, ownKey: 'key-me', ownWeight: 1, totalWeight: 4, reachableWeight: () => 4, byKey: () => bound },
    logger: silentLogger()
  } as unknown as PollerComponents
  return { poller: new Poller(components), core, asked }
}

test('a poll ends once the answers preferring the queried vertex reach the quorum with its own vote; the slowest is not awaited', async t => {
  const never = new Promise<undefined>(() => {})
  const { poller, asked } = setup(async peer => peer === 'p3' ? await never : ['v'])
  t.true(await poller.poll('v'), 'two answers and its own vote: 3 of 4')
  t.deepEqual(asked.sort(), ['p1', 'p2', 'p3'], 'every validator was asked')
})

test('without the quorum a poll waits for every answer and fails: one answer for the vertex, one without it, one missing', async t => {
  const { poller, core } = setup(async peer => peer === 'p1' ? ['v'] : peer === 'p2' ? [] : undefined)
  for (let i = 0; i < 2 * DEFAULT_CONSENSUS.betaVirtuous; i++) t.false(await poller.poll('v'))
  t.true(core.isProcessing('v'), 'never final below the quorum')
  t.deepEqual(poller.health().polls, { success: 0, fail: 2 * DEFAULT_CONSENSUS.betaVirtuous })
})
