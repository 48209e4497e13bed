import test from 'ava'
import { AvalancheCore } from '../../src/dag/consensus/avalanche-core.ts'
import { DagGraph } from '../../src/dag/graph.ts'

const params = { k: 3, alpha: 2, betaVirtuous: 3, betaRogue: 5 }

function setup (): { graph: DagGraph, core: AvalancheCore } {
  const graph = new DagGraph('g')
  return { graph, core: new AvalancheCore(graph, params) }
}

function add (graph: DagGraph, core: AvalancheCore, id: string, parents: string[], txs: Array<[string, string]>): void {
  graph.add(id, parents, 'processing')
  core.add(id, txs.map(([conflictKey, txIdHex]) => ({ conflictKey, txIdHex })))
}

test('a virtuous vertex is accepted after beta_virtuous successful polls, not before', t => {
  const { graph, core } = setup()
  add(graph, core, 'v1', ['g'], [['a:0', 't1']])
  for (let i = 0; i < params.betaVirtuous - 1; i++) t.deepEqual(core.recordVotes('v1', new Map([['v1', 3]]), 2).accepted, [])
  t.is(graph.get('v1')?.status, 'processing')
  t.deepEqual(core.recordVotes('v1', new Map([['v1', 3]]), 2).accepted, ['v1'])
  t.is(graph.get('v1')?.status, 'accepted')
})

test('votes below alpha do not count; conflicting sets need beta_rogue; the loser and its descendants are rejected', t => {
  const { graph, core } = setup()
  add(graph, core, 'x', ['g'], [['a:0', 'spend-to-b']])
  add(graph, core, 'y', ['g'], [['a:0', 'spend-to-c']])
  add(graph, core, 'y-child', ['y'], [['d:0', 'other']])
  t.true(core.isStronglyPreferred('x'), 'first seen is preferred')
  t.false(core.isStronglyPreferred('y'))
  t.false(core.isStronglyPreferred('y-child'), 'a child of a non-preferred vertex is not preferred')
  // one vote is below alpha: nothing changes
  core.recordVotes('y', new Map([['y', 1]]), 2)
  t.true(core.isStronglyPreferred('x'))
  // two polls for y flip the preference (more chits), then y needs beta_rogue in a row
  core.recordVotes('y-child', new Map([['y', 2], ['y-child', 2]]), 2)
  core.recordVotes('y-child', new Map([['y', 2], ['y-child', 2]]), 2)
  t.true(core.isStronglyPreferred('y'))
  t.false(core.isStronglyPreferred('x'))
  let decided = { accepted: [] as string[], rejected: [] as string[] }
  for (let i = 2; i < params.betaRogue; i++) decided = core.recordVotes('y-child', new Map([['y', 2], ['y-child', 2]]), 2)
  t.deepEqual(decided.accepted, ['y', 'y-child'], 'the virtuous child follows its parent in the same round')
  t.deepEqual(decided.rejected, ['x'])
  t.is(graph.get('x')?.status, 'rejected')
  // a late vertex holding the decided (account, nonce) is rejected on arrival
  graph.add('late', ['g'], 'processing')
  t.deepEqual(core.add('late', [{ conflictKey: 'a:0', txIdHex: 'spend-to-b' }]).rejected, ['late'])
})

test('rejection cascades to descendants, and a vertex built on a rejected parent is rejected on arrival', t => {
  const { graph, core } = setup()
  add(graph, core, 'x', ['g'], [['a:0', 't1']])
  add(graph, core, 'y', ['g'], [['a:0', 't2']])
  add(graph, core, 'x-child', ['x'], [['b:0', 't3']])
  let d = { accepted: [] as string[], rejected: [] as string[] }
  for (let i = 0; i < params.betaRogue; i++) d = core.recordVotes('y', new Map([['y', 3]]), 2)
  t.true(d.accepted.includes('y'))
  t.deepEqual(d.rejected.sort(), ['x', 'x-child'])
  graph.add('grandchild', ['x-child'], 'processing')
  t.deepEqual(core.add('grandchild', [{ conflictKey: 'e:0', txIdHex: 't9' }]).rejected, ['grandchild'])
  t.deepEqual(graph.tips().map(n => n.id).sort(), ['y'])
})
