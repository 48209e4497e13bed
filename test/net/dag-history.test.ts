// Flat memory under real consensus (issue 11): four libp2p nodes with a window of 4 heights drop decided history
// from memory while they finalize; a node stopped mid-load and restarted catches up from peers that serve the
// vertices it lacks from disk, and every node ends with the same state root. The safety tests run with the
// default window; this one makes every node evict. Under the commit rule the window is at least 4 × the rounds the rule
// keeps (200 heights) whatever is asked, so the transfers go on, one per account at a time, until the nodes evict.
import test from 'ava'
import type { ConsensusRule } from '../../src/dag/genesis.ts'
import { addressOf, createTestNet, transfer, waitFor } from '../helpers/dag-net.ts'

const WINDOW = 4
/** Under the commit rule: the most nonces per account sent while waiting for the running nodes to evict. */
const MAX_NONCES = 2_000

const history = test.macro(async (t, rule: ConsensusRule) => {
  const net = await createTestNet({ nodes: 4, accounts: 4, accountBalance: 10n ** 21n, consensus: { rule }, dag: { historyWindow: WINDOW } })
  try {
    await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === 3), 'peers bound')
    const accts = net.accounts
    const firstIds: string[] = []
    const submitRange = async (from: number, to: number, nodes: number[]): Promise<void> => {
      await Promise.all(accts.map(async (a, i) => {
        for (let n = from; n < to; n++) {
          const id = await net.nodes[nodes[i % nodes.length]].dag.submitTransaction(transfer(net.genesis, a, accts[(i + 1) % accts.length], 10n, BigInt(n)))
          if (n === 0) firstIds.push(id)
        }
      }))
    }
    const load = submitRange(0, 40, [0, 1, 2])
    await waitFor(async () => (await net.nodes[3].dag.stats()).finalTxs >= 20, 'node 3 has finalized some transactions')
    await net.stop(3)
    await load
    await submitRange(40, 60, [0, 1, 2])
    await waitFor(async () => {
      for (const i of [0, 1, 2]) if ((await net.nodes[i].dag.stats()).finalTxs < 240) return false
      return true
    }, '240 final on the running nodes', 120_000)
    let nonces = 60
    const evicted = (): boolean => [0, 1, 2].every(i => net.nodes[i].dag.ledger.memoryView().evicted > 0)
    while (rule === 'commit' && !evicted() && nonces < MAX_NONCES) {
      // each transfer final before the next: every step takes rounds of its own (an idle network builds none)
      await submitRange(nonces, nonces + 1, [0, 1, 2])
      nonces++
      await waitFor(async () => {
        for (const i of [0, 1, 2]) if ((await net.nodes[i].dag.stats()).finalTxs < 4 * nonces) return false
        return true
      }, `${4 * nonces} final on the running nodes`)
    }
    t.log(`${nonces} transfers per account sent`)
    for (const i of [0, 1, 2]) {
      const view = net.nodes[i].dag.ledger.memoryView()
      const stats = await net.nodes[i].dag.stats()
      t.true(view.evicted > 0, `node ${i} evicted ${view.evicted}`)
      t.true(view.graphVertices < stats.vertices, `node ${i}: ${view.graphVertices} in memory of ${stats.vertices}`)
    }
    const restarted = await net.start(3)
    t.true((await restarted.dag.stats()).finalTxs >= 20, 'finality survived the restart')
    await net.connectAll()
    await waitFor(async () => (await restarted.dag.stats()).finalTxs >= 4 * nonces, 'restarted node catches up', 120_000)
    const roots = await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot))
    t.is(new Set(roots).size, 1)
    for (const a of accts) t.deepEqual(await Promise.all(net.nodes.map(async n => await n.dag.getNonce(addressOf(a)))), Array(4).fill(BigInt(nonces)))
    // the first transactions lie in history every node has evicted by now, and still answer
    for (const n of net.nodes) for (const id of firstIds) t.is((await n.dag.getTx(id))?.status, 'final')
  } finally {
    await net.close()
  }
})
test.serial('4 nodes with a small history window finalize, evict, serve evicted history to a restarted node, and agree (commit rule)', history, 'commit')
test.serial('the same under Avalanche', history, 'avalanche')
