import test from 'ava'
import { addressOf, createTestNet, type TestNet, transfer, waitFor } from '../helpers/dag-net.ts'

async function restarts (net: TestNet, i: number): Promise<number> {
  const m = net.nodes[i].registry.getSingleMetric('harmony_dag_verify_worker_restarts_total')
  if (m === undefined) return 0
  return (await m.get()).values.reduce((sum, v) => sum + v.value, 0)
}

async function allFinal (net: TestNet, ids: string[]): Promise<boolean> {
  for (const n of net.nodes) for (const id of ids) if ((await n.dag.getTx(id))?.status !== 'final') return false
  return true
}

test.serial('a killed verifier worker is replaced and the ledger keeps finalizing', async t => {
  // Each node's pool has one worker (the helper's default), so killing it leaves the node with none until healed.
  const net = await createTestNet({ nodes: 3, accounts: 3 })
  try {
    await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === 2), 'peers bound')
    // Account i streams its transfers through node i (a node queues an account's nonces in order).
    const ids: string[] = []
    const nonces = [0n, 0n, 0n]
    const send = async (count: number): Promise<void> => {
      await Promise.all(net.nodes.map(async (n, i) => {
        const from = net.accounts[i]
        const to = net.accounts[(i + 1) % 3]
        for (let c = 0; c < count; c++) ids.push(await n.dag.submitTransaction(transfer(net.genesis, from, to, 10n, nonces[i]++)))
      }))
    }
    for (let round = 1; round <= 2; round++) {
      await send(5)
      // Kill every node's verifier while those transfers are still being gossiped, checked and polled.
      await Promise.all(net.nodes.map(async n => await n.dag.verifier.threads[0].terminate()))
      await send(5)
      await waitFor(async () => await allFinal(net, ids), `round ${round}: every transfer final on every node`, 120_000)
      for (let i = 0; i < net.nodes.length; i++) t.is(await restarts(net, i), round, `node ${i} replaced its worker`)
    }
    const roots = await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot))
    t.is(new Set(roots).size, 1, 'equal state roots')
    for (const n of net.nodes) {
      for (const a of net.accounts) t.is(await n.dag.getNonce(addressOf(a)), 20n)
      t.is(n.dag.verifier.threads.length, n.dag.verifier.workerCount, 'full worker count')
      t.is(n.dag.verifier.queueDepth, 0)
      t.is(n.dag.verifier.inFlight, 0)
    }
  } finally {
    await net.close()
  }
})
