// State sync's ground truth: a node that starts from a checkpoint's cut (its accounts with their unproven credits)
// and applies only the accepted vertices outside the cut's past computes, for every transaction, the outcome a
// node that applied the whole DAG computed, and ends with the same accounts. Random DAGs with concurrent vertices
// and tight balances (some transfers fail for their balance), each node in its own random acceptance order; the
// real LedgerState on LevelDB, real signed transactions and vertices.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { type BinaryDb, openDatabase } from '../../src/core/storage.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import { DagGraph } from '../../src/dag/graph.ts'
import { LedgerState } from '../../src/dag/ledger-state.ts'
import type { AcceptedVertexView } from '../../src/dag/reader.ts'
import { advanceCut, type CutReader, genesisCut, type StateCut } from '../../src/dag/state-cut.ts'
import { cutAccountRecords } from '../../src/dag/state-sync.ts'
import { type AccountSnapshot, DagStore } from '../../src/dag/store.ts'
import { addr, type Built, GENESIS, randomDag, randomOrder, rng, START, users } from '../helpers/random-dag.ts'

interface Node { db: BinaryDb, store: DagStore, state: LedgerState, graph: DagGraph, outcomes: Map<string, string> }

async function node (dir: string, name: string, records: Array<{ address: Uint8Array, rec: AccountSnapshot }>): Promise<Node> {
  const db = await openDatabase(join(dir, name))
  const store = new DagStore(db)
  const graph = new DagGraph(GENESIS)
  const state = new LedgerState(store, graph)
  const b = store.batch()
  for (const r of records) store.putAccountSnapshot(b, r.address, r.rec)
  await b.commit()
  return { db, store, state, graph, outcomes: new Map() }
}

/** Every vertex of `all` goes into the graph (ancestry); those of `apply` are applied in their order. */
async function run (n: Node, all: Built[], apply: Built[]): Promise<void> {
  for (const v of all) n.graph.add(v.info.idHex, v.info.parentHex, 'accepted')
  for (const v of apply) {
    n.state.beginRound()
    const b = n.store.batch()
    const outcomes = await n.state.applyVertex(b, v.info)
    await b.commit()
    n.state.commitRound()
    for (const o of outcomes) n.outcomes.set(`${v.info.idHex}:${o.info.idHex}`, o.ok ? 'final' : o.reason)
  }
}

function cutReader (all: Built[], outcomes: Map<string, string>): CutReader {
  const byId = new Map(all.map((v) => [v.info.idHex, v]))
  const pastOf = (id: string): Set<string> => byId.get(id)?.past ?? new Set([GENESIS])
  return {
    validatorKeys: () => [],
    isAncestor: (ancestor, of) => pastOf(of).has(ancestor),
    ancestorsAmong: async (from, targets) => new Set(targets.filter((x) => from.some((f) => pastOf(f).has(x)))),
    genesisState: () => ({ vertexId: GENESIS, accounts: users.map((u) => ({ address: addr(u), balance: START })) }),
    vertexRecord: async (id) => id === GENESIS ? { height: 0, timestampMs: 0n, parents: [] } : byId.has(id) ? { height: (byId.get(id) as Built).height, timestampMs: 0n, parents: (byId.get(id) as Built).info.parentHex } : undefined,
    acceptedVertex: async (id) => {
      const v = byId.get(id)
      if (v === undefined) return undefined
      const txs: AcceptedVertexView['txs'] = v.info.txs.map((tx) => {
        const o = outcomes.get(`${id}:${tx.idHex}`)
        return o === 'final' ? { tx, status: 'final', recordVertexId: id } : { tx, status: 'rejected', reason: o, recordVertexId: id }
      })
      return { parents: v.info.parentHex, txs }
    }
  }
}

const accountsOf = async (n: Node): Promise<string[]> => await Promise.all([...users.map(addr), FEE_POOL_ACCOUNT].map(async (a) => {
  const r = await n.state.account(a)
  return `${r.balance}/${r.nonce}`
}))

test('a node started from a cut computes every later outcome and the final state as a node that applied everything', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-state-sync-'))
  let concurrentDebits = 0
  let caughtLies = 0
  try {
    for (let seed = 1; seed <= 12; seed++) {
      const next = rng(seed)
      const all = randomDag(next, 36)
      const full = await node(dir, `full-${seed}`, users.map((u) => ({ address: addr(u), rec: { balance: START, nonce: 0n, unproven: [] } })))
      await run(full, all, randomOrder(next, all))
      const close = all[Math.floor(all.length / 2)]
      const cut = await advanceCut(cutReader(all, full.outcomes), genesisCut(cutReader(all, full.outcomes)), close.info.idHex)
      const after = all.filter((v) => !close.past.has(v.info.idHex))
      // vertices concurrent with the cut that spend: the case the unproven credits are for
      concurrentDebits += after.filter((v) => !v.past.has(close.info.idHex)).length
      const synced = await node(dir, `synced-${seed}`, cutAccountRecords(cut))
      await run(synced, all, randomOrder(next, after))
      for (const [k, o] of synced.outcomes) t.is(o as string | undefined, full.outcomes.get(k), `seed ${seed}: outcome of ${k.slice(0, 12)}`)
      t.is(synced.outcomes.size, after.reduce((s, v) => s + v.info.txs.length, 0))
      t.deepEqual(await accountsOf(synced), await accountsOf(full), `seed ${seed}: accounts`)
      // the same start without the unproven credits (balances and nonces alone, what the state root proves)
      const bare: StateCut = { ...cut, accounts: new Map([...cut.accounts].map(([k, a]) => [k, { ...a, unproven: new Map() }])) }
      const lied = await node(dir, `bare-${seed}`, cutAccountRecords(bare))
      await run(lied, all, randomOrder(next, after))
      if ([...lied.outcomes].some(([k, o]) => full.outcomes.get(k) !== o)) caughtLies++
      for (const n of [full, synced, lied]) await n.db.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  t.true(concurrentDebits > 0, 'the DAGs have vertices concurrent with the cut')
  // without the credits a syncing node computes other outcomes on some DAGs: the cut's credits are needed
  t.true(caughtLies > 0, 'balances and nonces alone gave the same outcomes on every DAG')
})
