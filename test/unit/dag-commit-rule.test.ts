import test from 'ava'
import { type CommittedSlot, CommitRule, type RoundVertex } from '../../src/dag/consensus/commit-rule.ts'
import { prng as seeded } from '../../src/core/prng.ts'

interface Committee { authors: string[], stake: Map<string, number>, quorum: number, byzantine: Set<string> }

/** n validators of stake 1, Q = ⌊2n/3⌋ + 1, the first f = ⌊(n − 1)/3⌋ Byzantine. */
function committee (n: number, byzantineCount = Math.floor((n - 1) / 3)): Committee {
  const authors = Array.from({ length: n }, (_, i) => `v${i}`)
  return { authors, stake: new Map(authors.map(a => [a, 1])), quorum: Math.floor((2 * n) / 3) + 1, byzantine: new Set(authors.slice(0, byzantineCount)) }
}

/** The leader of slot i of round r: the authors in turn from r (distinct within a round). */
function leaderOf (c: Committee): (round: number, index: number) => string {
  return (r, i) => c.authors[(r + i) % c.authors.length]
}

function rule (c: Committee, gcDepth?: number, leaders = 1): CommitRule {
  return new CommitRule({ stake: c.stake, quorum: c.quorum, leaderOf: leaderOf(c), leaders, ...(gcDepth !== undefined ? { gcDepth } : {}) })
}

/**
 * Parents for a new vertex: one vertex per author from `previous`, shuffled, at least Q of stake, sometimes more.
 * `leader` set: the previous round's leader is left out (its vertex reached this author late) when Q remain, and
 * `withLeader` true: it is put in when it exists.
 */
function pickParents (previous: RoundVertex[], c: Committee, random: () => number, leader: { author: string, withLeader: boolean } | undefined): string[] {
  const byAuthor = new Map<string, RoundVertex[]>()
  for (const v of previous) byAuthor.set(v.author, [...(byAuthor.get(v.author) ?? []), v])
  let authors = [...byAuthor.keys()].sort(() => random() - 0.5)
  if (leader !== undefined) {
    const others = authors.filter(a => a !== leader.author)
    if (leader.withLeader && others.length < authors.length) authors = [leader.author, ...others]
    else if (!leader.withLeader && others.length >= c.quorum) authors = others
  }
  const parents: string[] = []
  for (const a of authors) {
    if (parents.length >= c.quorum && random() < 0.5) break
    const options = byAuthor.get(a) ?? []
    parents.push(options[Math.floor(random() * options.length)].id)
  }
  return parents
}

/**
 * A random round-based DAG: honest authors make at most one vertex a round (some miss rounds) and often leave the
 * last leader out (`omitLeader`: what splits a slot between its supporters and its blamers), Byzantine ones make
 * none, one or two (an equivocation: one naming the leader, one not). Every round keeps at least Q authors so the
 * next round can be built.
 */
function randomDag (c: Committee, rounds: number, random: () => number, omitLeader = 0.35, leaders = 1): RoundVertex[] {
  const all: RoundVertex[] = []
  let previous: RoundVertex[] = []
  let serial = 0
  for (let r = 1; r <= rounds; r++) {
    const current: RoundVertex[] = []
    // the leader some vertices leave out: with several slots a round, one of them at random
    const lastLeader = leaderOf(c)(r - 1, leaders === 1 ? 0 : Math.floor(random() * leaders))
    const make = (author: string, withLeader: boolean | undefined): void => {
      const parents = r === 1 ? [] : pickParents(previous, c, random, withLeader === undefined ? undefined : { author: lastLeader, withLeader })
      // a weak link now and then: a vertex two to four rounds down (what a builder adds for a late vertex)
      const older = all.filter(v => v.round >= r - 4 && v.round <= r - 2)
      if (older.length > 0 && random() < 0.3) parents.push(older[Math.floor(random() * older.length)].id)
      current.push({ id: `r${r}-${author}-${serial++}`, author, round: r, parents })
    }
    for (const author of c.authors) {
      if (c.byzantine.has(author)) {
        const copies = Math.floor(random() * 3)
        for (let k = 0; k < copies; k++) make(author, copies === 2 ? k === 0 : undefined)
      } else if (random() < 0.85) make(author, random() < omitLeader ? false : undefined)
    }
    const authorsHere = new Set(current.map(v => v.author))
    for (const author of c.authors) {
      // keep a quorum of authors present: the DAG must go on (a real network waits for it)
      if (authorsHere.size >= c.quorum) break
      if (authorsHere.has(author) || c.byzantine.has(author)) continue
      make(author, undefined)
      authorsHere.add(author)
    }
    all.push(...current)
    previous = current
  }
  return all
}

/** A causally closed random subset of `dag` (a node's view at some moment). */
function randomView (dag: RoundVertex[], keep: number, random: () => number): RoundVertex[] {
  const inView = new Set<string>()
  const view: RoundVertex[] = []
  for (const v of dag) {
    if (v.parents.every(p => inView.has(p)) && random() < keep) { inView.add(v.id); view.push(v) }
  }
  return view
}

/** `dag` without `v` and everything that has `v` in its causal past (a node that never received `v`). */
function viewWithout (dag: RoundVertex[], v: RoundVertex): RoundVertex[] {
  const gone = new Set<string>([v.id])
  return dag.filter(u => { if (u.parents.some(p => gone.has(p))) gone.add(u.id); return !gone.has(u.id) })
}

/** One line per output slot: what two views must agree on. */
function describe (slots: CommittedSlot[]): string[] {
  return slots.map(s => s.leader === undefined ? `${s.round}.${s.index} skip` : `${s.round}.${s.index} ${s.leader.id}: ${s.vertices.map(v => v.id).join(',')}`)
}

function sequenceOf (c: Committee, vertices: RoundVertex[], leaders = 1): string[] {
  const r = rule(c, undefined, leaders)
  for (const v of vertices) r.add(v)
  return describe(r.next())
}

/**
 * Adds rounds 1 to `rounds` to `r`: every author but `silent` makes one vertex `r<round>-<author>` a round, naming
 * every vertex of the round below. Returns the last round's ids.
 */
function addRounds (r: CommitRule, authors: readonly string[], rounds: number, silent?: string): string[] {
  let previous: string[] = []
  for (let round = 1; round <= rounds; round++) {
    const ids: string[] = []
    for (const a of authors) {
      if (a === silent) continue
      ids.push(`r${round}-${a}`)
      r.add({ id: `r${round}-${a}`, author: a, round, parents: previous })
    }
    previous = ids
  }
  return previous
}

test('all honest and all linked: every slot with two rounds above it commits, and each vertex is ordered once, by round then author', t => {
  const c = committee(4, 0)
  const r = rule(c)
  const previous = addRounds(r, c.authors, 10)
  const slots = r.next()
  t.deepEqual(slots.map(s => s.round), [1, 2, 3, 4, 5, 6, 7, 8])
  t.true(slots.every(s => s.leader?.author === c.authors[s.round % 4]))
  const ordered = slots.flatMap(s => s.vertices.map(v => v.id))
  t.is(new Set(ordered).size, ordered.length, 'no vertex ordered twice')
  // slot 1's leader orders itself; slot 2's brings round 1's other three and itself; and so on
  t.deepEqual(slots[0].vertices.map(v => v.id), ['r1-v1'])
  t.deepEqual(slots[1].vertices.map(v => v.id), ['r1-v0', 'r1-v2', 'r1-v3', 'r2-v2'])
  t.deepEqual(r.next(), [], 'nothing new without new vertices')
  for (const [i, a] of c.authors.entries()) r.add({ id: `r11-${a}`, author: a, round: 11, parents: previous.slice(0, 3 + (i % 2)) })
  t.deepEqual(r.next().map(s => s.round), [9])
})

test('a leader that never made its vertex is skipped once Q of the next round lack it; the slots after it commit', t => {
  const c = committee(4, 0)
  const r = rule(c)
  addRounds(r, c.authors, 9, c.authors[3]) // the leader of rounds 3 and 7 is silent
  const slots = r.next()
  t.deepEqual(slots.map(s => `${s.round}:${s.leader === undefined ? 'skip' : 'commit'}`), ['1:commit', '2:commit', '3:skip', '4:commit', '5:commit', '6:commit', '7:skip'])
})

test('a slot one view commits directly is committed through its anchor in a view that lacks one of its certificates', t => {
  // 4 validators, Q = 3; slot 1's leader is v1, slot 3's is v3. Round 2: v0, v1, v2 name r1-v1 (v3 does not);
  // round 3: v0, v1, v2 certify it, v3's vertex (slot 3's leader, A) names only two of its supporters. Round 4 and
  // later never name r3-v0, so the DAG without it is a view too: there slot 1 has two certificates only and is
  // decided by its anchor, the first slot of round >= 4 (A, two rounds up, does not certify it: not an anchor)
  const c = committee(4, 0)
  const dag: RoundVertex[] = c.authors.map(a => ({ id: `r1-${a}`, author: a, round: 1, parents: [] }))
  const r1 = ['r1-v0', 'r1-v2', 'r1-v3']
  dag.push(...['v0', 'v1', 'v2'].map(a => ({ id: `r2-${a}`, author: a, round: 2, parents: [...r1, 'r1-v1'].slice(1) })))
  dag.push({ id: 'r2-v3', author: 'v3', round: 2, parents: r1 })
  dag.push(...['v0', 'v1', 'v2'].map(a => ({ id: `r3-${a}`, author: a, round: 3, parents: ['r2-v0', 'r2-v1', 'r2-v2'] })))
  dag.push({ id: 'r3-v3', author: 'v3', round: 3, parents: ['r2-v0', 'r2-v1', 'r2-v3'] })
  dag.push(...c.authors.map(a => ({ id: `r4-${a}`, author: a, round: 4, parents: ['r3-v1', 'r3-v2', 'r3-v3'] })))
  for (let round = 5; round <= 8; round++) dag.push(...c.authors.map(a => ({ id: `r${round}-${a}`, author: a, round, parents: c.authors.map(b => `r${round - 1}-${b}`) })))
  const whole = sequenceOf(c, dag)
  const view = sequenceOf(c, dag.filter(v => v.id !== 'r3-v0'))
  t.regex(whole[0], /^1\.0 r1-v1:/)
  t.deepEqual(view.slice(0, 4), whole.slice(0, 4))
  t.is(view.length, 6)
})

test('memory is bounded: rounds gcDepth below a committed leader are forgotten, and a vertex of a forgotten round is refused', t => {
  const c = committee(4, 0)
  const small = rule(c, 3)
  const large = rule(c)
  const outputs: string[][] = [[], []]
  let previous: string[] = []
  let largest = 0
  for (let round = 1; round <= 200; round++) {
    const ids = c.authors.map(a => `r${round}-${a}`)
    for (const [i, a] of c.authors.entries()) {
      // every other round one validator names only three of the last round: each vertex still ordered once
      const v = { id: ids[i], author: a, round, parents: round % 2 === 0 && i === 0 ? previous.slice(1) : previous }
      small.add(v)
      large.add(v)
    }
    previous = ids
    outputs[0].push(...describe(small.next()))
    outputs[1].push(...describe(large.next()))
    largest = Math.max(largest, small.size)
  }
  t.deepEqual(outputs[0], outputs[1], 'the same order with 3 rounds kept as with 50')
  t.is(outputs[0].length, 198)
  t.true(largest <= 4 * (3 + 4), `at most ${largest} vertices held`)
  t.true(large.size > 4 * 50, 'the default keeps 50 rounds')
  t.throws(() => { small.add({ id: 'late', author: 'v1', round: 150, parents: [] }) }, { message: /was collected/ })
})

test('a vertex whose parent is missing or of another round, or whose author has no stake, is refused', t => {
  const c = committee(4, 0)
  const r = rule(c)
  r.add({ id: 'a', author: 'v0', round: 1, parents: [] })
  t.throws(() => { r.add({ id: 'b', author: 'v1', round: 2, parents: ['x'] }) }, { message: /parent x not added/ })
  // a parent of a lower round is a weak link: it does not count for the quorum of the round below
  t.throws(() => { r.add({ id: 'b', author: 'v1', round: 3, parents: ['a'] }) }, { message: /hold 0 of stake, below the quorum/ })
  t.throws(() => { r.add({ id: 'b', author: 'nobody', round: 2, parents: ['a'] }) }, { message: /not a validator/ })
  t.throws(() => { r.add({ id: 'b', author: 'v1', round: 0, parents: [] }) }, { message: /round 0/ })
  t.false(r.has('b'))
})

test('the round rules: parents hold the quorum, one per author; an equivocation is kept and recorded', t => {
  const c = committee(4, 0)
  const r = rule(c)
  for (const a of c.authors) r.add({ id: `r1-${a}`, author: a, round: 1, parents: [] })
  t.throws(() => { r.add({ id: 'few', author: 'v0', round: 2, parents: ['r1-v0', 'r1-v1'] }) }, { message: /hold 2 of stake, below the quorum 3/ })
  r.add({ id: 'r1-v1-twin', author: 'v1', round: 1, parents: [] })
  t.deepEqual(r.equivocations.map(([a, b]) => [a.id, b.id]), [['r1-v1', 'r1-v1-twin']])
  t.throws(() => { r.add({ id: 'both', author: 'v0', round: 2, parents: ['r1-v0', 'r1-v1', 'r1-v1-twin'] }) }, { message: /two parents of author v1/ })
  t.false(r.has('few') || r.has('both'))
  r.add({ id: 'ok', author: 'v0', round: 2, parents: ['r1-v0', 'r1-v1-twin', 'r1-v3'] })
  t.true(r.has('ok'))
  // a parent of the same round or above is refused; one of a lower round beside the quorum is a weak link, taken
  for (const a of ['v1', 'v2', 'v3']) r.add({ id: `r2-${a}`, author: a, round: 2, parents: ['r1-v0', 'r1-v1', 'r1-v3'] })
  t.throws(() => { r.add({ id: 'same', author: 'v1', round: 2, parents: ['r1-v0', 'r1-v1', 'r1-v3', 'r2-v2'] }) }, { message: /of round 2/ })
  r.add({ id: 'weak', author: 'v0', round: 3, parents: ['r2-v1', 'r2-v2', 'r2-v3', 'r1-v2'] })
  t.true(r.has('weak'))
})

for (const [n, leaders] of [[4, 1], [7, 1], [4, 4], [7, 3], [7, 7]]) {
  test(`safety over random DAGs (${n} validators, ${Math.floor((n - 1) / 3)} equivocating, ${leaders} leader${leaders > 1 ? 's' : ''} a round): any two views output sequences one of which is a prefix of the other`, t => {
    const c = committee(n)
    let commits = 0
    let skips = 0
    let differingLengths = 0
    for (let seed = 1; seed <= 300; seed++) {
      const random = seeded(seed * 7919 + n + 1000 * (leaders - 1))
      const dag = randomDag(c, 24, random, 0.35, leaders)
      const views = [dag, ...Array.from({ length: 6 }, () => randomView(dag, 0.6 + random() * 0.4, random))]
      const sequences = views.map(v => sequenceOf(c, v, leaders))
      for (const s of sequences[0]) { if (s.endsWith('skip')) skips++; else commits++ }
      for (let i = 0; i < sequences.length; i++) {
        for (let j = i + 1; j < sequences.length; j++) {
          const [a, b] = [sequences[i], sequences[j]]
          if (a.length !== b.length) differingLengths++
          const common = Math.min(a.length, b.length)
          if (common > 0) t.deepEqual(a.slice(0, common), b.slice(0, common), `seed ${seed}, views ${i} and ${j}`)
        }
      }
    }
    // the property is not vacuous: the rule committed and skipped slots, and views saw different amounts
    t.true(commits > 200 * leaders, `${commits} commits`)
    t.true(skips > 10, `${skips} skips`)
    t.true(differingLengths > 50, `${differingLengths} pairs of views of different lengths`)
  })
}

for (const [n, leaders] of [[4, 1], [7, 1], [4, 4], [7, 7]]) {
  test(`safety over random DAGs (${n} validators, ${leaders} leader${leaders > 1 ? 's' : ''} a round): the DAG without any one vertex and its descendants outputs a prefix of what the whole DAG outputs, or the reverse`, t => {
    const c = committee(n)
    let shorter = 0
    for (let seed = 1; seed <= 40; seed++) {
      const random = seeded(seed * 104729 + n + 1000 * (leaders - 1))
      const dag = randomDag(c, 16, random, 0.35, leaders)
      const whole = sequenceOf(c, dag, leaders)
      for (const v of dag) {
        const part = sequenceOf(c, viewWithout(dag, v), leaders)
        const common = Math.min(whole.length, part.length)
        if (part.length < whole.length) shorter++
        t.deepEqual(part.slice(0, common), whole.slice(0, common), `seed ${seed}, without ${v.id}`)
      }
    }
    t.true(shorter > 100, `${shorter} views decided less than the whole DAG`)
  })
}

for (const leaders of [1, 4]) {
  test(`a view that grows vertex by vertex outputs, across its calls, exactly what one call over the whole view outputs (${leaders} leader${leaders > 1 ? 's' : ''} a round)`, t => {
    const c = committee(4)
    for (let seed = 1; seed <= 30; seed++) {
      const random = seeded(seed + 1000 * (leaders - 1))
      const dag = randomDag(c, 20, random, 0.35, leaders)
      const growing = rule(c, undefined, leaders)
      const outputs: CommittedSlot[] = []
      for (const v of dag) {
        growing.add(v)
        if (random() < 0.3) outputs.push(...growing.next())
      }
      outputs.push(...growing.next())
      t.deepEqual(describe(outputs), sequenceOf(c, dag, leaders), `seed ${seed}`)
      const ordered = outputs.flatMap(s => s.vertices.map(v => v.id))
      t.is(new Set(ordered).size, ordered.length, `seed ${seed}: no vertex ordered twice`)
    }
  })
}

test('every author a leader: each vertex with two rounds above it is a slot of its own and orders itself, in slot order', t => {
  const c = committee(4, 0)
  const r = rule(c, undefined, 4)
  addRounds(r, c.authors, 10)
  const slots = r.next()
  t.is(slots.length, 8 * 4)
  t.true(slots.every((s, k) => s.round === 1 + Math.floor(k / 4) && s.index === k % 4 && s.leader?.author === c.authors[(s.round + s.index) % 4]))
  t.true(slots.every(s => s.vertices.length === 1 && s.vertices[0] === s.leader), 'each leader orders itself alone: its parents were ordered by the slots before it')
  // against one leader a round, the same DAG: round 8's three vertices that are not its leader wait for round 9's
  const single = rule(c)
  addRounds(single, c.authors, 10)
  const singleOrdered = single.next().flatMap(s => s.vertices.map(v => v.id))
  t.is(singleOrdered.length, 7 * 4 + 1)
  t.deepEqual(slots.flatMap(s => s.vertices.map(v => v.id)).slice(0, singleOrdered.length).sort(), [...singleOrdered].sort())
})

test('every author a leader: a silent validator\'s slot is skipped in each round, the others commit', t => {
  const c = committee(4, 0)
  const r = rule(c, undefined, 4)
  const silent = c.authors[3]
  addRounds(r, c.authors, 6, silent)
  const slots = r.next()
  // rounds 1 to 4 decided (two rounds above each), round 5's skip of the silent one too: its blamers are round 6
  t.deepEqual(slots.filter(s => s.leader === undefined).map(s => `${s.round}.${s.index}`), ['1.2', '2.1', '3.0', '4.3'])
  t.true(slots.filter(s => s.leader !== undefined).every(s => s.leader?.author !== silent))
  t.is(slots.filter(s => s.leader !== undefined).length, 4 * 3)
})

for (const leaders of [1, 4]) {
  test(`a rule resumed after the last committed leader (the highest ordered round's, latest slot) outputs what one that ran on outputs (${leaders} leader${leaders > 1 ? 's' : ''} a round)`, t => {
    const c = committee(4)
    let resumed = 0
    for (let seed = 1; seed <= 40; seed++) {
      const random = seeded(seed * 31 + leaders)
      const dag = randomDag(c, 30, random, 0.35, leaders)
      const cut = 8 + Math.floor(random() * (dag.length - 16))
      const running = rule(c, 6, leaders)
      for (const v of dag.slice(0, cut)) running.add(v)
      const before = running.next()
      const ordered = before.flatMap(s => s.vertices)
      if (ordered.length === 0) continue
      resumed++
      // what a restart finds in its graph: the ordered (accepted) vertices; the highest round of them holds only
      // committed leaders, and the rule starts after the latest of their slots
      const last = Math.max(...ordered.map(v => v.round))
      const fresh = rule(c, 6, leaders)
      const next = ordered.filter(v => v.round === last).map(v => fresh.slotAfter(last, v.author))
      t.true(next.every(s => s !== undefined), `seed ${seed}: every ordered vertex of round ${last} is a leader of it`)
      const nextSlot = next.reduce((a, b) => (b !== undefined && a !== undefined && (b.round > a.round || (b.round === a.round && b.index > a.index)) ? b : a))
      const keptFrom = Math.max(1, last - 6)
      fresh.resume({ nextSlot: nextSlot ?? { round: last + 1, index: 0 }, keptFrom })
      const orderedIds = new Set(ordered.map(v => v.id))
      // the kept rounds, as the ledger's graph holds them: everything of them that arrived (ordered or not), weak
      // links to collected rounds left out (commit-core's roundVertex)
      for (const v of dag.slice(0, cut)) {
        if (v.round < keptFrom || !running.has(v.id)) continue
        fresh.add({ ...v, parents: v.parents.filter(p => fresh.has(p)) })
        if (orderedIds.has(v.id)) fresh.markOrdered(v.id)
      }
      // a skip after the last committed leader may be output again (it orders nothing); a commit may not
      const committed = (slots: CommittedSlot[]): string[] => describe(slots.filter(s => s.leader !== undefined))
      t.deepEqual(committed(fresh.next()), [], `seed ${seed}: nothing ordered again`)
      for (const v of dag.slice(cut)) { running.add(v); fresh.add(v) }
      t.deepEqual(committed(fresh.next()), committed(running.next()), `seed ${seed}: the same commits after the restart`)
    }
    t.true(resumed > 30, `${resumed} restarts`)
  })
}
