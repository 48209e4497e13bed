/**
 * Starting a ledger from a checkpoint's state cut instead of the genesis (state sync, docs/protocol.md "State
 * sync"). The cut (state-cut.ts) carries, per account, what LedgerState keeps: balance, nonce and the credits not
 * yet proven for a later debit. A node that stores these records and then applies every accepted vertex outside
 * past(cut) computes the outcomes and the state the others computed (test/unit/state-sync.test.ts checks it
 * against a node that applied everything, over random DAGs).
 */
import { fromHex, toHex } from '../core/codec.ts'
import type { BinarySublevel } from '../core/storage.ts'
import { getCutPart } from './cut-parts.ts'
import { DagError } from './errors.ts'
import type { DagHistory } from './history.ts'
import { type BandRecord, type StateCut, SYNC_BAND_HEIGHTS } from './state-cut.ts'
import { COMMIT_GC_DEPTH } from './consensus/commit-core.ts'
import type { AccountSnapshot, DagStore } from './store.ts'

/** The account records of a cut, as LedgerState stores them. */
export function cutAccountRecords (cut: StateCut): Array<{ address: Uint8Array, rec: AccountSnapshot }> {
  const out: Array<{ address: Uint8Array, rec: AccountSnapshot }> = []
  for (const [k, a] of cut.accounts) {
    if (a.balance === 0n && a.nonce === 0n) continue
    const unproven = [...a.unproven].map(([v, amount]) => ({ vertexId: fromHex(v), amount }))
    out.push({ address: fromHex(k), rec: { balance: a.balance, nonce: a.nonce, unproven } })
  }
  return out
}

/**
 * Writes a checkpoint cut (checked by the caller against the anchored checkpoint) into an empty datadir, in one
 * batch, so that the ledger starts from it: the genesis id, the accounts with their unproven credits, the
 * decision of each account's last transaction (the nonce chain of its next one), the band's graph records as
 * accepted history (the cut vertex its history cut and only tip), a base record for each deeper vertex an
 * account names, and the sync base (graph.ts `SyncBase`). Nothing below the cut is replayed or stored.
 * `extra`: writes of the floors above that start from the same cut (the bridge's epoch), in the same batch.
 * Throws SYNC_FAILED when the datadir already holds a ledger.
 */
export async function installCut (c: { store: DagStore, history: DagHistory, genesisId: Uint8Array }, cut: StateCut, extra: ReadonlyArray<{ sublevel: BinarySublevel, key: Uint8Array, value: Uint8Array }> = []): Promise<void> {
  const { store, history } = c
  if (await store.getGenesisId() !== undefined) throw new DagError('SYNC_FAILED', 'this datadir already holds a ledger; state sync starts only an empty one')
  const b = store.batch()
  store.putGenesisId(b, c.genesisId)
  // under the commit rule the cut is what the order reached through its slot: the band's vertices that no other
  // names are its maximal ones (the sync base's ids, and the tips); the band stays in memory above the genesis as
  // the history cut (the rule resumes from it, with the band's authors: CommitCore.resumeFromGraph)
  const slotted = cut.slot !== undefined
  const frontier = slotted ? frontierOf(cut.band) : [cut.vertexId]
  history.putCut(b, slotted ? { id: toHex(c.genesisId), height: 0 } : { id: cut.vertexId, height: cut.height })
  history.putSyncBase(b, { ids: frontier, floor: Math.max(0, cut.height - (slotted ? COMMIT_GC_DEPTH : SYNC_BAND_HEIGHTS)) })
  // a band record's slot is at most the cut's (all a later cut's walk needs: it stops there)
  const accepted = { status: 'accepted' as const, seq: 0n, ...(slotted ? { slot: cut.slot } : {}) }
  const band = new Set<string>()
  for (const r of cut.band) {
    band.add(r.id)
    history.putSynced(b, fromHex(r.id), { height: r.height, timestampMs: r.timestampMs, parents: r.parents, underCut: !slotted && r.id !== cut.vertexId })
    store.putDecision(b, fromHex(r.id), accepted)
  }
  for (const id of frontier) b.put(store.tips, fromHex(id), new Uint8Array(0))
  if (slotted) history.putSyncedAuthors(b, cut.band.map(r => ({ id: r.id, author: r.author ?? -1 })))
  const deep = new Set<string>()
  for (const { address, rec } of cutAccountRecords(cut)) store.putAccountSnapshot(b, address, rec)
  store.putAccountsFormat(b)
  for (const [k, a] of cut.accounts) {
    if (a.lastTx !== undefined) {
      store.putConflictDecision(b, fromHex(k), a.nonce - 1n, fromHex(a.lastTx.vertexId), fromHex(a.lastTx.txId))
      deep.add(a.lastTx.vertexId)
    }
    for (const v of a.unproven.keys()) deep.add(v)
  }
  // vertices below the cut a part names (the bridge's unsettled withdrawals): their ancestry is asked later
  for (const [id, state] of cut.parts) for (const v of getCutPart(id)?.baseVertices?.(state) ?? []) deep.add(v)
  for (const id of deep) {
    if (band.has(id) || id === cut.vertexId) continue
    history.putSynced(b, fromHex(id), { height: 0, timestampMs: 0n, parents: [], underCut: true, base: true })
    store.putDecision(b, fromHex(id), accepted)
  }
  // the bridge's cursor and cut (state-cuts.ts) in the same batch; fsync'd: a power loss keeps all or nothing
  for (const e of extra) b.put(e.sublevel, e.key, e.value)
  await b.commit({ sync: true })
}

/** The band's records that no other record names: a commit-rule cut's maximal vertices. */
function frontierOf (band: readonly BandRecord[]): string[] {
  const named = new Set(band.flatMap(r => r.parents))
  return band.filter(r => !named.has(r.id)).map(r => r.id).sort()
}
