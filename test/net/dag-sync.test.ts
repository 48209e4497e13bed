// Catch-up over the sync protocol (issue 9): a node that missed hundreds of vertices fetches them over one reused
// stream to the peer, however many walks and requests the catch-up takes.
import test from 'ava'
import { PROTOCOLS } from '../../src/network/protocols.ts'
import { createTestNet, transfer, waitFor } from '../helpers/dag-net.ts'

test.serial('a node that missed hundreds of vertices catches up from a peer over one sync stream', async t => {
  // Avalanche: one of two validators builds vertices alone (under the commit rule no round passes without the quorum,
  // so a node away misses only what the quorum built: test/net/dag-commit and the crash campaigns catch up there)
  const net = await createTestNet({ nodes: 2, accounts: 4, consensus: { rule: 'avalanche' } })
  try {
    const [a] = net.nodes
    // b goes away; a keeps building vertices (one transaction each, chained through four accounts' nonces)
    await net.stop(1)
    const nonces = [0n, 0n, 0n, 0n]
    for (let i = 0; i < 240; i++) {
      const k = i % 4
      await a.dag.submitTransaction(transfer(net.genesis, net.accounts[k], net.accounts[(k + 1) % 4], 1n, nonces[k]++))
      await a.dag.ledger.buildVertex()
    }
    const want = a.dag.ledger.graph.size
    t.log(`a holds ${want} vertices`)
    t.true(want > 100, 'b missed many vertices')
    const back = await net.start(1)
    const dials: string[] = []
    const dial = back.libp2p.dialProtocol.bind(back.libp2p)
    back.libp2p.dialProtocol = (async (peer: Parameters<typeof dial>[0], protocols: Parameters<typeof dial>[1], options?: Parameters<typeof dial>[2]) => {
      dials.push(String(protocols))
      return await dial(peer, protocols, options)
    }) as typeof dial
    // the catch-up's lookups grow with what it inserts, not with its square: an insert pass that rescanned every
    // pending vertex after each layer held the walk slots for over a minute on a loaded machine
    let lookups = 0
    const knows = back.dag.ledger.knowsVertex.bind(back.dag.ledger)
    back.dag.ledger.knowsVertex = async (id: string) => { lookups++; return await knows(id) }
    await net.connectAll()
    await waitFor(() => back.dag.ledger.graph.size >= want, 'b has every vertex of a', 120_000)
    t.log(`${lookups} vertex lookups for ${want} vertices`)
    t.true(lookups <= 12 * want, `${lookups} lookups for ${want} vertices`)
    for (const id of a.dag.ledger.graph.tips().map(x => x.id)) t.true(back.dag.ledger.hasVertex(id), `tip ${id.slice(0, 8)} fetched`)
    t.is(dials.filter(p => p === PROTOCOLS.dagSync).length, 1, 'one sync stream to the peer, reused for every request')
  } finally {
    await net.close()
  }
})
