/**
 * Under the commit rule, the state at a cut is the state after a committed slot (docs/protocol.md "State roots of
 * checkpoints"): an outcome there depends on the order, not only on a vertex's causal past. The walk and the
 * encoding are state-cut.ts's; this file chooses what the walk takes (the vertices the order reached since the
 * previous cut's slot) and the band a node needs to go on ordering from the cut (the rounds the rule keeps).
 */
import { COMMIT_GC_DEPTH } from './consensus/commit-core.ts'
import { DagError } from './errors.ts'
import type { LedgerReader } from './reader.ts'
import { type BandRecord, type CutReader, MAX_CUT_VERTICES, MAX_SLOT_BAND_RECORDS, type StateCut, walkCut } from './state-cut.ts'

/** What advanceCutToSlot reads besides a cut's usual reads: the slots of the commit rule's order. */
export type SlotCutReader = CutReader & Pick<LedgerReader, 'vertexDecision' | 'slotLeaders' | 'vertexAuthorIndex'>

/**
 * Under the commit rule: advances `prev` (the genesis cut, or a cut of an earlier slot) to the state after committed
 * slot `slot`, the state the ledger itself was in once it had applied that slot. A transaction's outcome there
 * depends on the order, not only on its vertex's causal past, so the cut is not past(vertex) but the vertices the
 * order reached through `slot` (O_s): each is in the causal past of the leader of the slot that ordered it, through
 * vertices of the same or earlier slots, so the walk starts at the leaders of the slots after `prev`'s through
 * `slot` and stops at vertices of `prev`'s slots and below; collected vertices (rejected: never ordered) carry
 * nothing. Balances are sums and nonces maxima, so the walk's own order does not matter. The cut's vertex is
 * `slot`'s leader. Throws as advanceCut, and PROTOCOL_ERROR when `slot` has no committed leader here or a vertex
 * of the walk has no slot recorded (a ledger from before slots were: s28).
 */
export async function advanceCutToSlot (reader: SlotCutReader, prev: StateCut, slot: number): Promise<StateCut> {
  const genesis = reader.genesisState().vertexId
  // a cut of past(vertex) holds no slot to stop at: only the genesis cut starts the slots' walk
  if (prev.slot === undefined && prev.vertexId !== genesis) throw new DagError('PROTOCOL_ERROR', 'state cut: the previous cut is not of a slot')
  const after = prev.slot ?? -1
  if (slot <= after) throw new DagError('PROTOCOL_ERROR', `state cut: slot ${slot} is not after the previous cut's ${after}`)
  // each committed slot orders its leader at least: more of them than a cut may add is refused before the walk
  const leaders = await reader.slotLeaders(after, slot, MAX_CUT_VERTICES + 1)
  if (leaders.length > MAX_CUT_VERTICES) throw new DagError('TOO_LARGE', `state cut: more than ${MAX_CUT_VERTICES} committed slots since the last cut`)
  const top = leaders[leaders.length - 1]
  if (top?.slot !== slot) throw new DagError('PROTOCOL_ERROR', `state cut: slot ${slot} has no committed leader here`)
  const cut = await walkCut(reader, prev, leaders.map(l => l.vertexId), top.vertexId, async id => {
    if (id === genesis) return 'below'
    const d = await reader.vertexDecision(id)
    if (d === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: vertex ${id.slice(0, 16)} is not decided here`)
    if (d.status === 'rejected') return 'skip'
    if (d.slot === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: vertex ${id.slice(0, 16)} has no slot recorded`)
    if (d.slot <= after) return 'below'
    if (d.slot > slot) throw new DagError('PROTOCOL_ERROR', `state cut: vertex ${id.slice(0, 16)} of slot ${d.slot} in the past of slot ${slot}'s leaders`)
    return 'walk'
  })
  return { ...cut, ...await slotBandOf(reader, slot, top.vertexId), slot }
}

/**
 * A commit-rule cut's band: the vertices ordered through `slot` at rounds ≥ the top leader's − COMMIT_GC_DEPTH
 * (the rounds the rule keeps after that slot), with their authors, by id. Each is in the past of a leader of a slot
 * ≤ `slot` of those rounds, through vertices of those rounds and slots.
 */
async function slotBandOf (reader: SlotCutReader, slot: number, topId: string): Promise<{ height: number, band: BandRecord[] }> {
  const top = await reader.vertexRecord(topId)
  if (top === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: no graph record of ${topId.slice(0, 16)}`)
  const floor = Math.max(1, top.height - COMMIT_GC_DEPTH)
  // a round has at most 64 leader slots (one per validator)
  const leaders = await reader.slotLeaders(Math.max(-1, slot - MAX_SLOT_BAND_RECORDS), slot, MAX_SLOT_BAND_RECORDS)
  const band: BandRecord[] = []
  const seen = new Set<string>()
  const stack = leaders.map(l => l.vertexId)
  while (stack.length > 0) {
    const id = stack.pop() as string
    if (seen.has(id)) continue
    seen.add(id)
    const r = await reader.vertexRecord(id)
    if (r === undefined || r.height < floor) continue
    const d = await reader.vertexDecision(id)
    // collected unordered, or (a leader's weak link) ordered by a later slot: not the rule's state at `slot`
    if (d?.status !== 'accepted' || d.slot === undefined || d.slot > slot) continue
    const author = await reader.vertexAuthorIndex(id)
    if (author === undefined) throw new DagError('PROTOCOL_ERROR', `state cut: no body of ${id.slice(0, 16)} to read its author from`)
    band.push({ id, height: r.height, timestampMs: r.timestampMs, parents: [...r.parents], author })
    if (band.length > MAX_SLOT_BAND_RECORDS) throw new DagError('TOO_LARGE', `state cut: more than ${MAX_SLOT_BAND_RECORDS} vertices in the rounds the rule keeps`)
    for (const p of r.parents) if (!seen.has(p)) stack.push(p)
  }
  band.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
  return { height: top.height, band }
}
