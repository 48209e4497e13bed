/**
 * A DAG commit rule in the spirit of Mysticeti (Babel et al., 2023): finality read from the shape of a round-based
 * DAG, with no message sent only to vote (docs/consensus-next.md; the ledger's under `consensus.rule: 'commit'`,
 * through commit-core.ts).
 *
 * - A vertex of round r names vertices of round r − 1 as parents (the quorum Q of their stake, at most one vertex
 *   per author among them), and may name vertices of lower rounds (weak links: a vertex that came too late to be
 *   named by the round above it is ordered through them, not dropped). Each round has `leaders` slots (Mysticeti's
 *   multi-leader setting), slot i led by `leaderOf(r, i)`, distinct authors within a round; slots are taken in the
 *   order (round, index).
 * - A round-(r + 1) vertex **supports** a round-r vertex B of a slot's leader when B is one of its parents. A
 *   round-(r + 2) vertex **certifies** B when its parents that support B hold at least Q of stake.
 * - **Direct rule**: a slot is committed to B when the authors of vertices certifying B hold Q; it is skipped when
 *   the authors of round-(r + 1) vertices that support none of that slot's leader's round-r vertices hold Q.
 * - **Indirect rule**: otherwise the slot follows its anchor, the first slot of round ≥ r + 3 that is not skipped:
 *   undecided if the anchor is; if the anchor is committed to A, the slot is committed to the B that a certifier in
 *   A's causal past certifies, and skipped if there is none.
 * - **Order**: the decided slots are taken in slot order up to the first undecided one; each committed leader
 *   brings its causal past not yet ordered, down to `gcDepth` rounds below it, sorted by round, then author, then
 *   id. Rounds below that are forgotten. (With one leader a round, a vertex that is not its round's leader is
 *   ordered by the next round's: a round later than with every author a leader.)
 *
 * Safety (Q > 2/3 of the stake, Byzantine stake < 1/3): two quorums share an honest author, and an honest author
 * makes one vertex per round, so no slot is committed to B by one view and skipped or committed to B' by another
 * (each slot by itself: the argument does not depend on how many slots a round has);
 * views that are causally closed subsets of one DAG therefore output sequences of which one is a prefix of the other
 * (test/unit/dag-commit-rule.test.ts checks it over random DAGs with equivocating authors).
 */

export interface RoundVertex {
  /** The vertex id (hex). */
  id: string
  /** Its author's validator key (hex): a key of the stake table. */
  author: string
  /** ≥ 1; round 0 is the genesis. */
  round: number
  /** Parent ids: vertices of round − 1 holding the quorum, and weak links to lower rounds (none in round 1). */
  parents: readonly string[]
}

export interface CommitRuleParams {
  /** Stake of each validator key. */
  stake: ReadonlyMap<string, number>
  /** The stake a decision needs: ⌈α/k · W⌉ > 2/3 · W (docs/protocol.md §6). */
  quorum: number
  /** The leader of slot `index` (0 ≤ index < `leaders`) of a round: a key of `stake`, distinct within a round. */
  leaderOf: (round: number, index: number) => string
  /** Leader slots per round, 1 to the number of validators. @default 1 */
  leaders?: number
  /**
   * Rounds kept below a committed leader: its ordering skips vertices older than this many rounds below it, and
   * the rule forgets them (bounded memory; the same cut-off at every node, so the order stays the same).
   * @default 50
   */
  gcDepth?: number
}

/** A leader slot: its round and its index within the round. */
export interface Slot { round: number, index: number }

export type SlotDecision =
  | Slot & { kind: 'commit', leader: RoundVertex }
  | Slot & { kind: 'skip' }
  | Slot & { kind: 'undecided' }

/** A committed leader (or a skipped slot) and the vertices it orders, in order. */
export interface CommittedSlot {
  round: number
  /** The slot's index in its round. */
  index: number
  /** Undefined for a skipped slot, which orders nothing. */
  leader: RoundVertex | undefined
  vertices: RoundVertex[]
  /** Vertices this commit collected (gcDepth rounds below the leader) that no leader ordered: never will. */
  dropped: RoundVertex[]
}

/** Equivocation evidence kept (the oldest is dropped first). */
const MAX_EQUIVOCATIONS = 64

export class CommitRule {
  private readonly p: CommitRuleParams
  private readonly byId = new Map<string, RoundVertex>()
  private readonly byRound = new Map<number, RoundVertex[]>()
  private readonly ordered = new Set<string>()
  // Kept as vertices arrive, so a decision reads counts instead of walking two rounds (bench:commit-rule): per
  // vertex, the leader proposals of the round below it that it names; per proposal, the vertices two rounds up
  // that certify it; per slot (its number), the vertices of the round above that name none of its leader's proposals.
  private readonly supports = new Map<string, string[]>()
  private readonly certifiers = new Map<string, RoundVertex[]>()
  private readonly blamers = new Map<number, RoundVertex[]>()
  private readonly gcDepth: number
  private readonly leaders: number
  /** round -> its leaders' keys -> slot index (the rounds kept) */
  private readonly leaderIndex = new Map<number, Map<string, number>>()
  /** Pairs of vertices of one author in one round, the latest MAX_EQUIVOCATIONS. */
  readonly equivocations: Array<[RoundVertex, RoundVertex]> = []
  /** Every such pair seen since start (the list keeps the latest only). */
  equivocationsSeen = 0
  private highestRound = 0
  /** The first slot not yet output, as a number: round × leaders + index. */
  private nextSlot: number
  /** The lowest round kept (the rounds below it were collected); its vertices' parents are not checked. */
  private keptFrom = 1

  constructor (params: CommitRuleParams) {
    this.p = params
    this.gcDepth = params.gcDepth ?? 50
    this.leaders = params.leaders ?? 1
    if (!Number.isSafeInteger(this.gcDepth) || this.gcDepth < 1) throw new RangeError(`gcDepth ${this.gcDepth}`)
    if (!Number.isSafeInteger(this.leaders) || this.leaders < 1 || this.leaders > params.stake.size) throw new RangeError(`leaders ${this.leaders} (1 to ${params.stake.size})`)
    this.nextSlot = this.slotNumber({ round: 1, index: 0 })
  }

  /** Vertices held. */
  get size (): number { return this.byId.size }

  /**
   * Whether `v` may be added: throws a RangeError for a vertex that breaks the round rules (author without stake,
   * round below 1, a parent not added, of another round than the one below, or a second parent of one author,
   * parents holding less than the quorum in rounds above 1); returns false for one whose round was collected (no
   * leader will order it: late, not invalid).
   */
  check (v: RoundVertex): boolean {
    if (!this.p.stake.has(v.author)) throw new RangeError(`vertex ${v.id}: author is not a validator`)
    if (!Number.isSafeInteger(v.round) || v.round < 1) throw new RangeError(`vertex ${v.id}: round ${v.round}`)
    if (v.round < this.keptFrom) return false
    if (v.round > 1 && v.round > this.keptFrom) {
      // the round rules: parents of the round below, one per author, holding the quorum between them; parents of
      // lower rounds are weak links (a late vertex the round below did not name, ordered through them)
      const authors: RoundVertex[] = []
      for (const id of v.parents) {
        const parent = this.byId.get(id)
        if (parent === undefined) throw new RangeError(`vertex ${v.id}: parent ${id} not added`)
        if (parent.round >= v.round) throw new RangeError(`vertex ${v.id}: parent ${id} of round ${parent.round}`)
        if (parent.round < v.round - 1) continue
        if (authors.some(a => a.author === parent.author)) throw new RangeError(`vertex ${v.id}: two parents of author ${parent.author}`)
        authors.push(parent)
      }
      const stake = this.stakeOf(authors)
      if (stake < this.p.quorum) throw new RangeError(`vertex ${v.id}: its parents hold ${stake} of stake, below the quorum ${this.p.quorum}`)
    }
    return true
  }

  /**
   * Adds a vertex whose parents were added before (views are causally closed). Adding one twice is a no-op. Throws
   * a RangeError, adding nothing, for a vertex `check` refuses or whose round was collected.
   */
  add (v: RoundVertex): void {
    if (this.byId.has(v.id)) return
    if (!this.check(v)) throw new RangeError(`vertex ${v.id}: round ${v.round} was collected (rounds from ${this.keptFrom} are kept)`)
    // a second vertex of one author in one round is kept (others may build on it; the rule is safe with it) and
    // recorded: the evidence of an equivocation
    const twin = this.byRound.get(v.round)?.find(u => u.author === v.author)
    if (twin !== undefined) {
      if (this.equivocations.length === MAX_EQUIVOCATIONS) this.equivocations.shift()
      this.equivocations.push([twin, v])
      this.equivocationsSeen++
    }
    this.byId.set(v.id, v)
    push(this.byRound, v.round, v)
    if (v.round > this.highestRound) this.highestRound = v.round
    if (v.round === 1) return
    // supports and certificates count the round below only (weak links name older rounds)
    const strong = v.parents.filter(id => this.byId.get(id)?.round === v.round - 1)
    const leaders = this.leadersOf(v.round - 1)
    const named = strong.filter(id => leaders.has(this.byId.get(id)?.author ?? ''))
    if (named.length > 0) this.supports.set(v.id, named)
    // v blames each slot of the round below whose leader it names no vertex of
    const supported = new Set(named.map(id => leaders.get(this.byId.get(id)?.author ?? '')))
    for (let i = 0; i < this.leaders; i++) if (!supported.has(i)) push(this.blamers, this.slotNumber({ round: v.round - 1, index: i }), v)
    // v certifies each proposal of round − 2 that its parents supporting it hold the quorum for (its parents of the
    // round below are of distinct authors, `check`: their stakes add up without a set)
    const supportStake = new Map<string, number>()
    for (const id of strong) {
      const parent = this.byId.get(id)
      if (parent === undefined) continue
      const stake = this.p.stake.get(parent.author) ?? 0
      for (const b of this.supports.get(id) ?? []) supportStake.set(b, (supportStake.get(b) ?? 0) + stake)
    }
    for (const [b, stake] of supportStake) if (stake >= this.p.quorum) push(this.certifiers, b, v)
  }

  has (id: string): boolean { return this.byId.has(id) }

  /**
   * Starts an empty rule where a ledger stopped (a restart): slots before `nextSlot` were output, rounds below
   * `keptFrom` collected. Then `add` the kept vertices in round order (those of `keptFrom` are not checked against
   * their parents, which are gone) and `markOrdered` the ones already ordered.
   */
  resume (at: { nextSlot: Slot, keptFrom: number }): void {
    if (this.byId.size > 0) throw new Error('resume on a rule that holds vertices')
    this.nextSlot = Math.max(this.slotNumber({ round: 1, index: 0 }), this.slotNumber(at.nextSlot))
    this.keptFrom = Math.max(1, at.keptFrom)
  }

  /** The slot after the last one a committed leader of `round` by `author` could have been output in. */
  slotAfter (round: number, author: string): Slot | undefined {
    const index = this.leadersOf(round).get(author)
    if (index === undefined) return undefined
    return index + 1 < this.leaders ? { round, index: index + 1 } : { round: round + 1, index: 0 }
  }

  markOrdered (id: string): void { if (this.byId.has(id)) this.ordered.add(id) }

  get quorum (): number { return this.p.quorum }
  /** The leaders of a round, each with its slot index. */
  leadersOf (round: number): ReadonlyMap<string, number> {
    let leaders = this.leaderIndex.get(round)
    if (leaders === undefined) {
      leaders = new Map()
      for (let i = 0; i < this.leaders; i++) leaders.set(this.p.leaderOf(round, i), i)
      if (leaders.size !== this.leaders) throw new RangeError(`round ${round}: its ${this.leaders} leaders are not distinct`)
      // rounds below the kept ones are not asked again; the ones above may be asked early (a builder's view)
      if (round >= this.keptFrom) this.leaderIndex.set(round, leaders)
    }
    return leaders
  }

  /** The lowest round kept. */
  get lowestRound (): number { return this.keptFrom }
  /** The highest round of a vertex added. */
  get topRound (): number { return this.highestRound }

  /**
   * The vertices of rounds `fromRound` to `belowRound` − 1 that are neither ordered nor in the causal past of `ids`:
   * what a builder names as weak links so that a vertex too late for the round above it is still ordered.
   */
  outside (ids: readonly string[], fromRound: number, belowRound: number): RoundVertex[] {
    const seen = this.causalPast(ids.map(id => this.byId.get(id)).filter(v => v !== undefined), fromRound)
    const out: RoundVertex[] = []
    for (let r = Math.max(fromRound, this.keptFrom); r < belowRound; r++) {
      for (const v of this.byRound.get(r) ?? []) if (!seen.has(v.id) && !this.ordered.has(v.id)) out.push(v)
    }
    return out
  }

  /** The vertices of a round (an equivocating author's more than one). */
  round (r: number): readonly RoundVertex[] { return this.byRound.get(r) ?? [] }

  /** Stake of the distinct authors of `vertices`. */
  stakeOf (vertices: Iterable<RoundVertex>): number {
    let sum = 0
    const seen = new Set<string>()
    for (const v of vertices) {
      if (seen.has(v.author)) continue
      seen.add(v.author)
      sum += this.p.stake.get(v.author) ?? 0
    }
    return sum
  }

  /**
   * Outputs the slots decided since the last call, in slot order, up to the first undecided one. Slots are decided
   * from the next one up and stop at the first undecided: a slot above it is decided only as an anchor (so a call
   * costs the slots it outputs and the anchors they needed, not every slot of the rounds not yet output).
   */
  next (): CommittedSlot[] {
    const out: CommittedSlot[] = []
    const memo = new Map<number, SlotDecision>()
    for (let s = this.nextSlot; s <= this.lastSlot; s++) {
      const d = this.decide(s, memo)
      if (d.kind === 'undecided') break
      this.nextSlot = this.slotNumber(d) + 1
      if (d.kind === 'skip') {
        out.push({ round: d.round, index: d.index, leader: undefined, vertices: [], dropped: [] })
        continue
      }
      const vertices = this.order(d.leader)
      out.push({ round: d.round, index: d.index, leader: d.leader, vertices, dropped: this.collectBelow(d.round - this.gcDepth) })
    }
    return out
  }

  /** Forgets the rounds below `round`: no later leader orders them. Returns their vertices never ordered. */
  private collectBelow (round: number): RoundVertex[] {
    const dropped: RoundVertex[] = []
    for (; this.keptFrom < round; this.keptFrom++) {
      for (const v of this.byRound.get(this.keptFrom) ?? []) {
        if (!this.ordered.has(v.id)) dropped.push(v)
        this.byId.delete(v.id)
        this.ordered.delete(v.id)
        this.supports.delete(v.id)
        this.certifiers.delete(v.id)
      }
      this.byRound.delete(this.keptFrom)
      this.leaderIndex.delete(this.keptFrom)
      for (let i = 0; i < this.leaders; i++) this.blamers.delete(this.slotNumber({ round: this.keptFrom, index: i }))
    }
    return dropped
  }

  /** A slot's number: its position in the order of slots (round × leaders + index), the same at every node. */
  slotNumber (slot: Slot): number { return slot.round * this.leaders + slot.index }
  private get lastSlot (): number { return this.slotNumber({ round: this.highestRound, index: this.leaders - 1 }) }

  /** A slot's decision: the direct rule, else the indirect one (its anchors decided through `memo` first). */
  private decide (s: number, memo: Map<number, SlotDecision>): SlotDecision {
    let d = memo.get(s)
    if (d !== undefined) return d
    d = this.direct(s)
    if (d.kind === 'undecided') d = this.indirect(s, memo)
    memo.set(s, d)
    return d
  }
  private slotOf (s: number): Slot { return { round: Math.floor(s / this.leaders), index: s % this.leaders } }

  private direct (s: number): SlotDecision {
    const slot = this.slotOf(s)
    for (const b of this.proposals(slot)) {
      if (this.stakeOf(this.certifiers.get(b.id) ?? []) >= this.p.quorum) return { ...slot, kind: 'commit', leader: b }
    }
    if (this.stakeOf(this.blamers.get(s) ?? []) >= this.p.quorum) return { ...slot, kind: 'skip' }
    return { ...slot, kind: 'undecided' }
  }

  private indirect (s: number, memo: Map<number, SlotDecision>): SlotDecision {
    const slot = this.slotOf(s)
    const last = this.lastSlot
    for (let a = this.slotNumber({ round: slot.round + 3, index: 0 }); a <= last; a++) {
      const anchor = this.decide(a, memo)
      if (anchor.kind === 'undecided') return { ...slot, kind: 'undecided' }
      if (anchor.kind === 'skip') continue
      const past = this.causalPast([anchor.leader], slot.round + 2)
      for (const b of this.proposals(slot)) {
        if ((this.certifiers.get(b.id) ?? []).some(c => past.has(c.id))) return { ...slot, kind: 'commit', leader: b }
      }
      return { ...slot, kind: 'skip' }
    }
    return { ...slot, kind: 'undecided' }
  }

  /** The slot leader's vertices of its round (more than one only if it equivocated). */
  private proposals (slot: Slot): RoundVertex[] {
    const leader = this.p.leaderOf(slot.round, slot.index)
    return (this.byRound.get(slot.round) ?? []).filter(v => v.author === leader)
  }

  /** Ids of `from` and their ancestors down to round `lowest`. */
  private causalPast (from: readonly RoundVertex[], lowest: number): Set<string> {
    const seen = new Set<string>(from.map(v => v.id))
    const stack = [...from]
    for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
      if (v.round <= lowest) continue
      for (const id of v.parents) {
        if (seen.has(id)) continue
        seen.add(id)
        const parent = this.byId.get(id)
        if (parent !== undefined) stack.push(parent)
      }
    }
    return seen
  }

  /** The leader's causal past not ordered yet down to gcDepth rounds below it, by round, author, id; marks it ordered. */
  private order (leader: RoundVertex): RoundVertex[] {
    const out: RoundVertex[] = []
    const stack = [leader]
    const seen = new Set<string>([leader.id])
    const lowest = leader.round - this.gcDepth
    for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
      if (this.ordered.has(v.id) || v.round < lowest) continue
      out.push(v)
      for (const id of v.parents) {
        if (seen.has(id) || this.ordered.has(id)) continue
        seen.add(id)
        const parent = this.byId.get(id)
        if (parent !== undefined) stack.push(parent)
      }
    }
    out.sort((a, b) => a.round - b.round || compare(a.author, b.author) || compare(a.id, b.id))
    for (const v of out) this.ordered.add(v.id)
    return out
  }
}

function push<K, V> (map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
