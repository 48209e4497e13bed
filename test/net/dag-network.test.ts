import test from 'ava'
import { addressOf, createTestNet, transfer, waitFor } from '../helpers/dag-net.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'

test.serial('4 nodes finalize 1,000 transfers from 10 accounts with equal state roots and balances', async t => {
  const net = await createTestNet({ nodes: 4, accounts: 10, accountBalance: 10n ** 21n })
  try {
    await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === 3), 'peers bound')
    const accts = net.accounts
    const perAccount = 100
    const txs: Array<{ node: number, bytes: Uint8Array }> = []
    for (let i = 0; i < accts.length; i++) {
      for (let n = 0; n < perAccount; n++) {
        const to = accts[(i + 1 + (n % (accts.length - 1))) % accts.length]
        txs.push({ node: i % 4, bytes: transfer(net.genesis, accts[i], to, 1000n + BigInt(n), BigInt(n)) })
      }
    }
    // Submit account streams in parallel, each account in nonce order.
    await Promise.all(accts.map(async (_a, i) => {
      for (const tx of txs.slice(i * perAccount, (i + 1) * perAccount)) await net.nodes[tx.node].dag.submitTransaction(tx.bytes)
    }))
    await waitFor(async () => {
      for (const n of net.nodes) if ((await n.dag.stats()).finalTxs < 1000) return false
      return true
    }, '1,000 final transactions on every node', 150_000)
    const stats = await Promise.all(net.nodes.map(async n => await n.dag.stats()))
    t.is(new Set(stats.map(s => s.stateRoot)).size, 1, 'equal state roots')
    for (const s of stats) t.is(s.finalTxs, 1000)
    for (const a of accts) {
      const balances = await Promise.all(net.nodes.map(async n => await n.dag.getBalance(addressOf(a))))
      t.is(new Set(balances.map(String)).size, 1, 'equal balances')
      const nonces = await Promise.all(net.nodes.map(async n => await n.dag.getNonce(addressOf(a))))
      t.deepEqual(nonces, [100n, 100n, 100n, 100n])
    }
    // Supply is conserved exactly: the fees (1,000 transfers x 1,000 base units) went to the validators' fee pool.
    let total = 0n
    for (const a of accts) total += await net.nodes[0].dag.getBalance(addressOf(a))
    const pool = await Promise.all(net.nodes.map(async n => (await n.dag.reader.account(FEE_POOL_ACCOUNT)).balance))
    t.deepEqual(pool, net.nodes.map(() => 1000n * 1000n))
    t.is(total + pool[0], 10n * 10n ** 21n)
  } finally {
    await net.close()
  }
})

test.serial('a double spend sent to two nodes at once: exactly one final on every node, the other rejected', async t => {
  const net = await createTestNet({ nodes: 4, accounts: 3 })
  try {
    await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === 3), 'peers bound')
    const [a, b, c] = net.accounts
    const tx1 = transfer(net.genesis, a, b, 5000n, 0n)
    const tx2 = transfer(net.genesis, a, c, 7000n, 0n)
    const [id1, id2] = await Promise.all([net.nodes[0].dag.submitTransaction(tx1), net.nodes[2].dag.submitTransaction(tx2)])
    await waitFor(async () => {
      for (const n of net.nodes) {
        const s1 = (await n.dag.getTx(id1))?.status
        const s2 = (await n.dag.getTx(id2))?.status
        if (s1 === 'pending' || s2 === 'pending' || s1 === undefined || s2 === undefined) return false
      }
      return true
    }, 'both decided on every node', 60_000)
    const statuses = await Promise.all(net.nodes.map(async n => [(await n.dag.getTx(id1))?.status, (await n.dag.getTx(id2))?.status]))
    const winner = statuses[0][0] === 'final' ? 0 : 1
    for (const s of statuses) {
      t.is(s[winner], 'final')
      t.is(s[1 - winner], 'rejected')
    }
    t.is(new Set((await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot)))).size, 1)
    for (const n of net.nodes) t.is(await n.dag.getNonce(addressOf(a)), 1n)
    // The account keeps working after the conflict.
    const id3 = await net.nodes[1].dag.submitTransaction(transfer(net.genesis, a, b, 1n, 1n))
    await waitFor(async () => (await net.nodes[3].dag.getTx(id3))?.status === 'final', 'follow-up transfer final')
    t.pass()
  } finally {
    await net.close()
  }
})

test.serial('a node stopped mid-load and restarted on the same datadir catches up to the same state root', async t => {
  const net = await createTestNet({ nodes: 4, accounts: 4, accountBalance: 10n ** 21n })
  try {
    await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === 3), 'peers bound')
    const accts = net.accounts
    const submitRange = async (from: number, to: number, nodes: number[]): Promise<void> => {
      await Promise.all(accts.map(async (a, i) => {
        for (let n = from; n < to; n++) {
          await net.nodes[nodes[i % nodes.length]].dag.submitTransaction(transfer(net.genesis, a, accts[(i + 1) % accts.length], 10n, BigInt(n)))
        }
      }))
    }
    const load = submitRange(0, 40, [0, 1, 2, 3].slice(0, 3))
    await waitFor(async () => (await net.nodes[3].dag.stats()).finalTxs >= 20, 'node 3 has finalized some transactions')
    await net.stop(3)
    await load
    await submitRange(40, 60, [0, 1, 2])
    await waitFor(async () => {
      for (const i of [0, 1, 2]) if ((await net.nodes[i].dag.stats()).finalTxs < 240) return false
      return true
    }, '240 final on the running nodes', 120_000)
    const restarted = await net.start(3)
    const before = await restarted.dag.stats()
    t.true(before.finalTxs >= 20, 'finality survived the restart')
    await net.connectAll()
    await waitFor(async () => (await restarted.dag.stats()).finalTxs >= 240, 'restarted node catches up', 120_000)
    const roots = await Promise.all(net.nodes.map(async n => (await n.dag.stats()).stateRoot))
    t.is(new Set(roots).size, 1)
  } finally {
    await net.close()
  }
})
