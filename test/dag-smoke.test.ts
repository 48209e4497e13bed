import test from 'ava'
import { createTestNet, transfer, waitFor, addressOf } from './helpers/dag-net.ts'

test.serial('4 nodes finalize a few transfers', async t => {
  const net = await createTestNet({ nodes: 4, accounts: 2 })
  try {
    await waitFor(() => net.nodes.every(n => n.dag.network.validatorPeers().length === 3), 'peers bound')
    const [a, b] = net.accounts
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push(await net.nodes[0].dag.submitTransaction(transfer(net.genesis, a, b, 10n, BigInt(i))))
    await waitFor(async () => {
      for (const n of net.nodes) for (const id of ids) if ((await n.dag.getTx(id))?.status !== 'final') return false
      return true
    }, 'finality', 60_000)
    const roots = await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot))
    t.is(new Set(roots).size, 1)
    t.is(await net.nodes[3].dag.getNonce(addressOf(a)), 5n)
  } finally {
    await net.close()
  }
})
