// A commit-rule ledger resumes its rule at start from the graph records alone: each record keeps its vertex's author
// (src/dag/history.ts, s31), so the start reads no vertex body but those of the undecided vertices it registers again
// (it read every kept vertex's body for its author before). A datadir whose records have no author (written before
// s31) still resumes, reading the bodies, to the same round.
import test from 'ava'
import { keyBytes, KEY_PREFIXES } from '../../src/core/storage.ts'
import { decodeGraphRecord, encodeGraphRecord } from '../../src/dag/history.ts'
import { close, network, type Node, open, runUntil, statuses } from '../helpers/commit-ledgers.ts'
import { transfer } from '../helpers/dag-net.ts'

/** Stops node `i` and starts its ledger again on the same datadir, counting the vertex bodies the start reads. */
async function restart (nodes: Node[], i: number): Promise<{ bodies: number }> {
  const n = nodes[i]
  const genesis = n.ledger.genesis
  await close(n)
  const reopened = await open(genesis, n.key, n.dir, { start: false })
  let bodies = 0
  const getVertex = reopened.ledger.store.getVertex.bind(reopened.ledger.store)
  reopened.ledger.store.getVertex = async (id) => { bodies++; return await getVertex(id) }
  await reopened.ledger.start()
  reopened.ledger.store.getVertex = getVertex
  nodes[i] = reopened
  return { bodies }
}

test('a commit-rule ledger resumes from its graph records without reading the bodies of the kept rounds; records without an author still resume, from the bodies', async t => {
  const { nodes, users, genesis } = await network()
  for (let k = 0; k < 3; k++) {
    const id = await nodes[k].ledger.submitTransaction(transfer(genesis, users[k], users[k + 1], 10n, 0n))
    t.true(await runUntil([nodes], async () => (await statuses(nodes, id)).every(s => s === 'final')) >= 0)
  }
  const view = nodes[0].ledger.roundView()
  const kept = [...nodes[0].ledger.graph.values()].filter(v => v.status === 'accepted' && v.height > 0).length
  t.true(kept >= 6, `${kept} accepted vertices in the kept rounds`)

  const { bodies } = await restart(nodes, 0)
  t.is(bodies, nodes[0].ledger.loadStats.decoded, 'only the undecided vertices\' bodies are read')
  t.like(nodes[0].ledger.roundView(), { round: view?.round, built: view?.built })

  // the records as a datadir from before s31 wrote them: no author
  const graph = nodes[0].ledger.store.graph
  const prefix = keyBytes(KEY_PREFIXES.dagGraph.record)
  let stripped = 0
  for await (const [k, v] of graph.iterator({ gte: prefix, lt: new Uint8Array([prefix[0] + 1]) })) {
    const r = decodeGraphRecord(v)
    if (r.author === undefined) continue
    delete r.author
    await graph.put(k, encodeGraphRecord(r))
    stripped++
  }
  t.true(stripped >= kept)
  const old = await restart(nodes, 0)
  t.true(old.bodies >= kept, `${old.bodies} bodies read`)
  t.like(nodes[0].ledger.roundView(), { round: view?.round, built: view?.built })

  // and the network goes on with it
  const later = await nodes[0].ledger.submitTransaction(transfer(genesis, users[3], users[0], 10n, 0n))
  t.true(await runUntil([nodes], async () => (await statuses(nodes, later)).every(s => s === 'final')) >= 0)
  for (const n of nodes) await close(n)
})
