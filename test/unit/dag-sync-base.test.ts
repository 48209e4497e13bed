// Ancestry on a ledger started from a checkpoint cut (state sync): the graph knows the cut's band (its top heights)
// and base records of deeper vertices that accounts name, nothing else below. A vertex descending from the cut has
// every base vertex in its past; one concurrent with the cut has them when past(cut) \ past(it) closes inside the
// band; when that reaches below the band the answer is unknown here, and the walk says so instead of guessing.
import test from 'ava'
import { isDagError } from '../../src/dag/errors.ts'
import { DagGraph, type GraphRecord } from '../../src/dag/graph.ts'

/**
 * Two lanes a and b from height 1 to 8, each vertex on both of the height below (a_i: [a_{i-1}, b_{i-1}]). The cut
 * is a8 (height 8), its band heights 5..8: a5..a8 and b5..b7. a2 is a base record (an account's old credit).
 */
const name = (lane: string, h: number): string => h === 0 ? 'g' : `${lane}${h}`
const parentsOf = (lane: string, h: number): string[] => h === 1 ? ['g'] : [name('a', h - 1), name('b', h - 1)]
const FLOOR = 5

function setup (): { graph: DagGraph, records: Map<string, GraphRecord> } {
  const records = new Map<string, GraphRecord>()
  for (let h = FLOOR; h <= 8; h++) {
    for (const lane of h === 8 ? ['a'] : ['a', 'b']) {
      records.set(name(lane, h), { height: h, timestampMs: BigInt(h), parents: parentsOf(lane, h), underCut: name(lane, h) !== 'a8' })
    }
  }
  records.set('a2', { height: 0, timestampMs: 0n, parents: [], underCut: true, base: true })
  const graph = new DagGraph('g')
  graph.history = { record: async (id) => records.get(id) }
  graph.place('a8', records.get('a8') as GraphRecord, 'accepted', true)
  graph.setCut('a8', 8)
  graph.syncBase = { ids: ['a8'], floor: FLOOR }
  return { graph, records }
}

test('a vertex descending from the cut, or concurrent with it and meeting its past in the band, has the base vertices in its past', async (t) => {
  const { graph, records } = setup()
  graph.add('v1', ['a8'], 'accepted')
  t.deepEqual([...await graph.ancestorsAmong(['v1'], ['a2', 'a6'])].sort(), ['a2', 'a6'])
  // v2 is on b7 only: concurrent with a8; past(a8) \ past(v2) = {a8, a7}, inside the band
  graph.place('b7', records.get('b7') as GraphRecord, 'accepted', false)
  graph.add('v2', ['b7'], 'accepted')
  t.deepEqual(await graph.ancestorsAmong(['v2'], ['a2']), new Set(['a2']))
  t.deepEqual([...await graph.ancestorsAmong(['v2'], ['a7', 'a8', 'b7', 'a6', 'b5'])].sort(), ['a6', 'b5', 'b7'])
  t.true(await graph.isAncestorOrSelf('a2', ['v2', 'v1']))
})

test('a vertex whose past meets the cut\'s only below the band gets no answer for a base vertex, never a wrong one', async (t) => {
  const { graph } = setup()
  // z stands on a vertex this ledger never saw (below its band): nothing of past(a8) is known to be in past(z)
  graph.place('z', { height: 9, timestampMs: 9n, parents: ['unknown-deep'], underCut: false }, 'accepted', true)
  graph.add('v3', ['z'], 'accepted')
  const err = await t.throwsAsync(graph.ancestorsAmong(['v3'], ['a2']))
  t.true(isDagError(err))
  t.is((err as { code?: string }).code, 'SYNC_BASE_TOO_SHALLOW')
  // band targets are still answered by the walk: none of them is in past(v3)
  t.deepEqual(await graph.ancestorsAmong(['v3'], ['a7', 'b5']), new Set())
  // a ledger without a sync base has no base records to ask about
  const plain = new DagGraph('g')
  plain.history = { record: async () => undefined }
  plain.add('x', ['g'], 'accepted')
  t.deepEqual(await plain.ancestorsAmong(['x'], ['g', 'nothing']), new Set(['g']))
})

test('a sync base of several vertices (a commit-rule cut\'s maximal ones): a base vertex is in a past that holds them all, and unknown when one of them reaches below the band', async (t) => {
  const { graph, records } = setup()
  // b8 is the cut's other maximal vertex; it stands on a7 and on a vertex below the band
  records.set('b8', { height: 8, timestampMs: 8n, parents: ['a7', 'below-the-band'], underCut: false })
  graph.place('b8', records.get('b8') as GraphRecord, 'accepted', true)
  graph.syncBase = { ids: ['a8', 'b8'], floor: FLOOR }
  // on both: every base vertex is in its past
  graph.add('w1', ['a8', 'b8'], 'accepted')
  t.deepEqual(await graph.ancestorsAmong(['w1'], ['a2']), new Set(['a2']))
  // on a8 alone: past(b8) reaches below the band outside past(w2), so whether a2 is in past(w2) is unknown here
  graph.add('w2', ['a8'], 'accepted')
  const err = await t.throwsAsync(graph.ancestorsAmong(['w2'], ['a2']))
  t.is((err as { code?: string }).code, 'SYNC_BASE_TOO_SHALLOW')
})

test('a ledger synced from a commit-rule cut keeps its band above the genesis as history: what descends from the band reaches that cut, so the window moves on', async (t) => {
  // the band: heights 5..8 of the two lanes, their parents at height 4 below it (never in memory)
  const graph = new DagGraph('g')
  graph.history = { record: async () => undefined }
  graph.syncBase = { ids: ['a8', 'b8'], floor: FLOOR }
  for (let h = FLOOR; h <= 8; h++) {
    for (const lane of ['a', 'b']) graph.place(name(lane, h), { height: h, timestampMs: BigInt(h), parents: parentsOf(lane, h), underCut: false }, 'accepted', h === 8)
  }
  graph.setCut('g', 0)
  // twenty heights above the band
  let below = ['a8', 'b8']
  for (let h = 9; h <= 28; h++) {
    graph.add(`c${h}`, below, 'accepted')
    below = [`c${h}`]
  }
  // the lowest of the band stand for the genesis's children: every vertex above reaches the cut, and with a window
  // of 10 heights the next cut is the highest accepted vertex 10 below the top
  t.true([...graph.values()].filter(n => n.id !== 'g').every(n => n.reachesCut))
  t.is(graph.nextCut(10, 2)?.height, 18)
  // a ledger that did not sync: a vertex whose parents left memory does not reach the cut by that alone
  const plain = new DagGraph('g')
  plain.place('x5', { height: 5, timestampMs: 5n, parents: ['x4'], underCut: false }, 'accepted', true)
  plain.setCut('g', 0)
  t.false(plain.get('x5')?.reachesCut)
})
