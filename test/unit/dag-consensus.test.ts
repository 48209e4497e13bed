import test from 'ava'
import { AvalancheCore } from '../../src/dag/consensus/avalanche-core.ts'
import { DagError } from '../../src/dag/errors.ts'
import { DEFAULT_CONSENSUS, generateGenesis, genesisToJson, parseGenesis } from '../../src/dag/genesis.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
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
  // one vote each is below the quorum: no chit, and the liveness tie-break keeps x (the lower tx id)
  core.recordVotes('y', new Map([['x', 1], ['y', 1]]), 2)
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

test('liveness: a conflict split 2 | 2 (no member reaches the quorum) moves every node to the lowest tx id, then decides', t => {
  // four validators of stake 1, quorum 3: nodes A and B saw x first, C and D saw y first
  const nodes = ['A', 'B', 'C', 'D'].map((name, i) => {
    const { graph, core } = setup()
    const first: Array<[string, string]> = i < 2 ? [['x', 'tx-b'], ['y', 'tx-a']] : [['y', 'tx-a'], ['x', 'tx-b']]
    for (const [id, tx] of first) add(graph, core, id, ['g'], [['acct:0', tx]])
    return { name, graph, core }
  })
  t.deepEqual(nodes.map(n => n.core.isStronglyPreferred('x')), [true, true, false, false], 'split preferences')
  const prefersY = (n: typeof nodes[number]): boolean => n.core.isStronglyPreferred('y')
  // every node polls all four: the stake for x and for y, each below the quorum of 3
  const tally = (): Map<string, number> => {
    const votes = new Map<string, number>()
    for (const n of nodes) { const v = prefersY(n) ? 'y' : 'x'; votes.set(v, (votes.get(v) ?? 0) + 1) }
    return votes
  }
  const split = tally()
  t.deepEqual([split.get('x'), split.get('y')], [2, 2])
  // a poll that succeeds for nobody decides nothing, but leans each node to y (tx id 'tx-a' < 'tx-b')
  for (const n of nodes) t.deepEqual(n.core.recordVotes('x', split, 3), { accepted: [], rejected: [] })
  t.true(nodes.every(prefersY), 'every node moved to the same member')
  // now the quorum forms: y is decided after β_rogue polls everywhere, x rejected
  for (const n of nodes) {
    let d = { accepted: [] as string[], rejected: [] as string[] }
    for (let i = 0; i < params.betaRogue && d.accepted.length === 0; i++) d = n.core.recordVotes('y', tally(), 3)
    t.deepEqual(d, { accepted: ['y'], rejected: ['x'] }, `node ${n.name}`)
  }
})

test('liveness: the preference moves only to a member with at least as much stake in the poll; never decides by itself', t => {
  const { graph, core } = setup()
  add(graph, core, 'x', ['g'], [['acct:0', 'tx-b']])
  add(graph, core, 'y', ['g'], [['acct:0', 'tx-a']])
  t.true(core.isStronglyPreferred('x'))
  // x has more stake than y: stays on x although y has the lower tx id
  core.recordVotes('x', new Map([['x', 2], ['y', 1]]), 4)
  t.true(core.isStronglyPreferred('x'))
  // y has more stake (still below the quorum of 4): moves to y
  core.recordVotes('x', new Map([['x', 1], ['y', 3]]), 4)
  t.true(core.isStronglyPreferred('y'))
  // any number of polls below the quorum decides nothing
  for (let i = 0; i < 10 * params.betaRogue; i++) t.deepEqual(core.recordVotes('y', new Map([['y', 3]]), 4).accepted, [])
  t.is(graph.get('y')?.status, 'processing')
  // a member with chits from successful polls keeps the preference over a tie-break
  for (let i = 0; i < 2; i++) core.recordVotes('x', new Map([['x', 4]]), 4)
  t.true(core.isStronglyPreferred('x'))
})

test('genesis refuses unsafe consensus parameters with GENESIS_INVALID, and accepts the defaults', t => {
  const base = generateGenesis({ validatorPublicKeys: [generateKeyPair().publicKey, generateKeyPair().publicKey], faucetPublicKey: generateKeyPair().publicKey })
  t.deepEqual(base.consensus, { ...DEFAULT_CONSENSUS, rule: 'commit', leaders: 2 }, 'the defaults pass (α/k = 15/20 > 2/3): a new network runs the commit rule, every validator a leader')
  const avalanche = generateGenesis({ validatorPublicKeys: [generateKeyPair().publicKey], faucetPublicKey: generateKeyPair().publicKey, consensus: { rule: 'avalanche' } })
  t.deepEqual(avalanche.consensus, { ...DEFAULT_CONSENSUS, rule: 'avalanche' })
  const many = Array.from({ length: 49 }, () => generateKeyPair().publicKey)
  t.throws(() => generateGenesis({ validatorPublicKeys: many, faucetPublicKey: many[0] }), { message: /commit rule \(the default for a new network\) allows at most 48 validators/ })
  t.is(generateGenesis({ validatorPublicKeys: many, faucetPublicKey: many[0], consensus: { rule: 'avalanche' } }).validators.length, 49)
  const withConsensus = (c: Record<string, number>): unknown => ({ ...genesisToJson(base), consensus: { ...DEFAULT_CONSENSUS, ...c } })
  const unsafe: Array<[Record<string, number>, RegExp]> = [
    [{ k: 3, alpha: 2 }, /above 2\/3/], // exactly 2/3: two quorums may share only a third
    [{ k: 20, alpha: 13 }, /above 2\/3/],
    [{ k: 20, alpha: 11 }, /above 2\/3/], // a bare majority, allowed by the first ledger
    [{ k: 5, alpha: 6 }, /at most k/],
    [{ alpha: 0 }, /alpha/],
    [{ betaVirtuous: 0 }, /betaVirtuous/],
    [{ betaVirtuous: 20, betaRogue: 10 }, /betaRogue/]
  ]
  for (const [c, message] of unsafe) {
    const err = t.throws(() => parseGenesis(withConsensus(c)), { instanceOf: DagError, message }, JSON.stringify(c))
    t.is((err as DagError).code, 'GENESIS_INVALID')
  }
  t.notThrows(() => parseGenesis(withConsensus({ k: 4, alpha: 3 })), '3/4 > 2/3')
  t.notThrows(() => parseGenesis(withConsensus({ k: 2, alpha: 2 })))
  // weights: positive integers
  const badWeight = genesisToJson(base)
  badWeight.validators[0].weight = 0
  t.throws(() => parseGenesis(badWeight), { instanceOf: DagError })
  badWeight.validators[0].weight = 1.5
  t.throws(() => parseGenesis(badWeight), { instanceOf: DagError })
})

test('a vertex\'s consensus stages: first counted, first chit, beta reached while its parent waits, taken once', t => {
  const graph = new DagGraph('g')
  let now = 1000
  const core = new AvalancheCore(graph, params, () => now)
  add(graph, core, 'p', ['g'], [['a:0', 't1']])
  add(graph, core, 'c', ['p'], [['b:0', 't2']])
  // counted below the quorum: polled, no chit
  now = 1010
  core.recordVotes('c', new Map([['c', 1]]), 2)
  // the child alone reaches beta (its parent gets no chit): ready, not accepted
  for (let i = 0; i < params.betaVirtuous; i++) { now = 1020 + i; core.recordVotes('c', new Map([['c', 2]]), 2) }
  t.is(graph.get('c')?.status, 'processing')
  // the parent's polls carry the child's too (a vote for a vertex is one for its ancestry): both accepted
  let accepted: string[] = []
  for (let i = 0; i < params.betaVirtuous; i++) { now = 1100 + i; accepted = core.recordVotes('c', new Map([['c', 2], ['p', 2]]), 2).accepted }
  t.deepEqual(accepted, ['p', 'c'])
  t.deepEqual(core.takeStages('c'), { polls: 1 + 2 * params.betaVirtuous, polledMs: 1010, chitMs: 1020, readyMs: 1020 + params.betaVirtuous - 1 })
  t.deepEqual(core.takeStages('p'), { polls: params.betaVirtuous, polledMs: 1100, chitMs: 1100, readyMs: 1100 + params.betaVirtuous - 1 })
  t.is(core.takeStages('c'), undefined, 'taken once')
})
