// The commit rule over the network (genesis consensus.rule 'commit'; docs/consensus-next.md): four validators on
// real libp2p (loopback), vertices paced by rounds and gossiped, finality read from the DAG with no polls. Transfers
// become final everywhere with one state root; with one validator stopped the other three (the quorum, 3 of 4) go on;
// with two stopped the two left build their round and then wait, finalizing nothing; a stopped validator started
// again from its datadir catches up and the waiting transfer becomes final. A validator started again on an emptied
// datadir (its key kept) builds nothing until it has caught up, so it never signs a second vertex in a round it built.
import { mkdir, rm } from 'node:fs/promises'
import test from 'ava'
import { parseAddress } from '../../src/core/address.ts'
import { addressOf, createTestNet, type TestNet, transfer, waitFor } from '../helpers/dag-net.ts'

async function allFinal (net: TestNet, ids: string[], nodes = net.nodes.filter(n => n !== undefined)): Promise<boolean> {
  for (const n of nodes) {
    for (const id of ids) if ((await n.dag.getTx(id))?.status !== 'final') return false
  }
  return true
}

async function roots (net: TestNet): Promise<Set<string>> {
  const live = net.nodes.filter(n => n !== undefined)
  return new Set(await Promise.all(live.map(async n => (await n.dag.stats()).stateRoot)))
}

test.serial('four validators under the commit rule: final everywhere, a quorum of three goes on, two wait, a restart catches up', async t => {
  const net = await createTestNet({ nodes: 4, accounts: 8, consensus: { rule: 'commit' } })
  try {
    t.truthy(net.nodes[0].dag.ledger.commit, 'the ledger runs the commit rule')
    await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === 3), 'validators bound')
    // two nonces of each account, at two different validators: the second chains on a vertex gossiped to it
    const ids: string[] = []
    for (const [i, a] of net.accounts.entries()) ids.push(await net.nodes[i % 4].dag.submitTransaction(transfer(net.genesis, a, net.accounts[(i + 1) % 8], 100n + BigInt(i), 0n)))
    await waitFor(async () => await allFinal(net, ids), 'the first transfers final at every node')
    for (const [i, a] of net.accounts.entries()) ids.push(await net.nodes[(i + 1) % 4].dag.submitTransaction(transfer(net.genesis, a, net.accounts[(i + 2) % 8], 7n, 1n)))
    await waitFor(async () => await allFinal(net, ids), 'the second transfers final at every node')
    t.is((await roots(net)).size, 1, 'one state root')
    const balance = await net.nodes[2].dag.getBalance(addressOf(net.accounts[3]))
    t.is(balance, 10n ** 24n - 103n - 2000n + 100n + 2n - 7n + 7n)
    t.is((await net.nodes[0].dag.ledger.getAccount(parseAddress(addressOf(net.accounts[0])))).nonce, 2n)

    // one of four stopped: the other three hold the quorum (3) and finalize
    await net.stop(3)
    const three = await net.nodes[0].dag.submitTransaction(transfer(net.genesis, net.accounts[0], net.accounts[1], 1n, 2n))
    await waitFor(async () => await allFinal(net, [three]), 'final with three of four')

    // two stopped: the two left build their next round and then wait; nothing becomes final
    await net.stop(2)
    const [a, b] = [net.nodes[0].dag.ledger, net.nodes[1].dag.ledger]
    const waiting = await net.nodes[1].dag.submitTransaction(transfer(net.genesis, net.accounts[5], net.accounts[6], 1n, 2n))
    await waitFor(async () => {
      // the transfer is in a vertex both hold, and each built the round it can (2 of 4 < 3: none further)
      const carrier = (await net.nodes[1].dag.getTx(waiting))?.vertexId
      const [va, vb] = [a.roundView(), b.roundView()]
      return carrier !== undefined && a.hasVertex(carrier) && va?.built === true && vb?.built === true && va.round === vb.round
    }, 'the two left waiting for a quorum')
    const stuck = a.roundView()?.round
    t.is((await net.nodes[0].dag.getTx(waiting))?.status, 'pending')
    t.is((await net.nodes[1].dag.getTx(waiting))?.status, 'pending')
    t.false(net.nodes[0].dag.consensusHealth().live, 'not live: 2 of 4 below the quorum')
    t.is(a.roundView()?.round, stuck, 'no round past the quorum')

    // validator 2 starts again from its datadir: it catches up, the quorum is back, the transfer becomes final
    await net.start(2)
    await net.connectAll()
    await waitFor(async () => await allFinal(net, [waiting]), 'final once the quorum is back')
    t.is((await roots(net)).size, 1, 'one state root after the restart')
  } finally {
    await net.close()
  }
})

test.serial('a validator started again on an emptied datadir (its key kept) catches up before it builds: no node sees an equivocation', async t => {
  const net = await createTestNet({ nodes: 4, accounts: 8, consensus: { rule: 'commit' } })
  try {
    await waitFor(() => net.nodes.every(n => n.dag.validatorPeers.size === 3), 'validators bound')
    // rounds built by every validator: three transfers from each of accounts 0-5, sent to all four (6 and 7 wait)
    const ids: string[] = []
    for (let nonce = 0n; nonce < 3n; nonce++) {
      for (const [i, a] of net.accounts.slice(0, 6).entries()) ids.push(await net.nodes[i % 4].dag.submitTransaction(transfer(net.genesis, a, net.accounts[(i + 1) % 6], 10n, nonce)))
      await waitFor(async () => await allFinal(net, ids), `the transfers of nonce ${nonce} final at every node`)
    }
    t.true(net.nodes[3].dag.ledger.builtRound > 1, 'validator 3 built vertices in several rounds')
    // validator 3 loses its datadir and starts again with its key, a transfer queued at once: work for its rounds
    // before it holds any (its graph holds the genesis alone, so its next round is 1, which it built long ago)
    await net.stop(3)
    await rm(net.dirs[3], { recursive: true, force: true })
    await mkdir(net.dirs[3])
    const restarted = await net.start(3)
    t.is(restarted.dag.ledger.builtRound, 0, 'no record of its rounds')
    const late = await restarted.dag.submitTransaction(transfer(net.genesis, net.accounts[6], net.accounts[7], 5n, 0n))
    t.is(restarted.dag.ledger.roundView()?.round, 1)
    await net.connectAll()
    await waitFor(async () => await allFinal(net, [late]), 'the transfer queued at the restarted validator final at every node')
    t.true(restarted.dag.ledger.builtRound > 0, 'it builds again once caught up')
    t.deepEqual(net.nodes.map(n => n.dag.ledger.commit?.equivocationsSeen), [0, 0, 0, 0], 'no vertex of one author twice in a round, anywhere')
    t.is((await roots(net)).size, 1, 'one state root')
  } finally {
    await net.close()
  }
})
