// Flat memory (issue 11): decided history below a window of heights leaves the in-memory graph and is read from
// disk; ancestry stays exact across the cut; a vertex naming an evicted parent is accepted as before; a replayed old
// vertex is not inserted twice; a restart loads the window and decodes no decided vertex; an older datadir without
// the graph index is indexed once.
import { join } from 'node:path'
import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, verify } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { type BinaryDb, KEY_PREFIXES, keyBytes, openDatabase, sublevel } from '../../src/core/storage.ts'
import { type Genesis, generateGenesis } from '../../src/dag/genesis.ts'
import { DagLedger, type DagLedgerInit } from '../../src/dag/ledger.ts'
import { txInfo } from '../../src/dag/tx.ts'
import type { SignatureVerifier } from '../../src/dag/verify-pool.ts'
import { buildVertexInfo, type VertexInfo, vertexInfo } from '../../src/dag/vertex.ts'
import { transfer, finalizeAll } from '../helpers/dag-net.ts'
import { tempDirUntilExit } from '../helpers/temp.ts'

const START = 10n ** 12n
const WINDOW = 8
const verifier: SignatureVerifier = { verifyBatch: async items => items.map(i => verify(i.sig, i.msg, i.publicKey)) }

interface Fixture { dir: string, genesis: Genesis, validator: KeyPair, a: KeyPair, c: KeyPair, b: KeyPair }

async function fixture (): Promise<Fixture> {
  const validator = generateKeyPair()
  const [a, c, b] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
  const genesis = generateGenesis({
    // one validator decided by hand (finalizeAll: Avalanche's polls)
    consensus: { rule: 'avalanche' },
    chainId: 'harmony-history',
    validatorPublicKeys: [validator.publicKey],
    faucetPublicKey: generateKeyPair().publicKey,
    faucetBalance: 1n,
    // b starts with nothing: what it spends later is credits from vertices that have left memory by then
    allocations: [a, c].map(k => ({ address: addr(k), balance: START }))
  })
  return { dir: await tempDirUntilExit('harmony-history-'), genesis, validator, a, c, b }
}

function addr (k: KeyPair): Uint8Array { return parseAddress(addressFromPublicKey(k.publicKey)) }

async function open (f: Fixture, init: DagLedgerInit = {}): Promise<{ db: BinaryDb, ledger: DagLedger, close: () => Promise<void> }> {
  const db = await openDatabase(join(f.dir, 'db'))
  const ledger = new DagLedger({ db, genesis: f.genesis, identity: f.validator, verifier, logger: silentLogger() }, init)
  await ledger.start()
  return { db, ledger, close: async () => { await ledger.stop(); await db.close() } }
}


/** One transaction per vertex, each finalized before the next: a chain of vertices, heights 1..n. */
async function chain (ledger: DagLedger, f: Fixture, n: number, firstNonce = 0n): Promise<Array<{ vertex: VertexInfo, txId: string }>> {
  const out: Array<{ vertex: VertexInfo, txId: string }> = []
  for (let i = 0; i < n; i++) {
    const txId = await ledger.submitTransaction(transfer(f.genesis, f.a, f.b, 1000n, firstNonce + BigInt(i)))
    const vertex = await ledger.buildVertex()
    if (vertex === undefined) throw new Error('no vertex built')
    await finalizeAll(ledger)
    out.push({ vertex, txId })
  }
  return out
}

test.serial('after many decided vertices memory holds the window; old history answers from disk, ancestry stays exact, an evicted parent is accepted', async t => {
  const f = await fixture()
  const { ledger, close } = await open(f, { historyWindow: WINDOW })
  try {
    const xs = await chain(ledger, f, 40)
    const view = ledger.memoryView()
    t.true(view.evicted >= 20, `evicted ${view.evicted}`)
    // window + the step between sweeps + the cut itself: nothing else is decided and in memory
    t.true(view.graphVertices <= WINDOW + ledger.history.step + 1, `in memory ${view.graphVertices}`)
    t.is(view.frontierHeight, 40)
    t.false(ledger.hasVertex(xs[0].vertex.idHex))

    // tx_get / vertex_get of old history: from disk
    const old = await ledger.getTx(xs[0].txId)
    t.is(old?.status, 'final')
    t.is(old?.vertexId, xs[0].vertex.idHex)
    t.is(old?.tx?.idHex, xs[0].txId)
    t.deepEqual(await ledger.history.place(xs[0].vertex.idHex), { status: 'accepted', height: 1 })
    t.truthy(await ledger.getVertexBytes(xs[0].vertex.idHex))
    t.true(await ledger.knowsVertex(xs[0].vertex.idHex))
    // a peer catching up asks about it: still preferred (accepted), so it gets this node's vote from an idle network,
    // and the accepted tip (the chain's last vertex) after it
    t.deepEqual(await ledger.preferredFrontier(xs[0].vertex.idHex, 8), [xs[0].vertex.idHex, xs[xs.length - 1].vertex.idHex])
    // asked about a vertex it does not prefer (here: one it never saw), it still names its accepted tip: a node that
    // prefers the loser of a conflict the others accepted hears of the winner this way (dag-partition)
    t.deepEqual(await ledger.preferredFrontier('ab'.repeat(32), 8), [xs[xs.length - 1].vertex.idHex])

    // a replayed old vertex is known: not inserted again, not back in memory
    t.false(await ledger.insertVertex(vertexInfo(xs[1].vertex.encoded)))
    t.false(ledger.hasVertex(xs[1].vertex.idHex))

    // a vertex naming an evicted parent (height 3) is accepted exactly as before
    const side = buildVertexInfo(f.genesis.chainId, {
      author: f.validator.publicKey,
      secretKey: f.validator.secretKey,
      parents: [xs[2].vertex.id],
      txs: [txInfo(transfer(f.genesis, f.c, f.b, 5n, 0n))],
      timestampMs: BigInt(Date.now())
    })
    await ledger.checkStandalone(side)
    t.deepEqual(await ledger.missingParents(side), [])
    t.true(await ledger.insertVertex(side))
    await finalizeAll(ledger)
    t.is(ledger.vertexStatus(side.idHex), 'accepted')
    t.is((await ledger.getTx(side.txs[0].idHex))?.status, 'final')
    t.is((await ledger.history.place(side.idHex))?.height, 4)

    // ancestry across the cut, exact both ways (walks through records on disk where the shortcut does not apply)
    const tip = xs[39].vertex.idHex
    t.true(await ledger.graph.isAncestorOrSelf(xs[1].vertex.idHex, [side.idHex]))
    t.false(await ledger.graph.isAncestorOrSelf(xs[10].vertex.idHex, [side.idHex]))
    t.true(await ledger.graph.isAncestorOrSelf(xs[10].vertex.idHex, [tip]))
    t.false(await ledger.graph.isAncestorOrSelf(side.idHex, [tip]))
    t.deepEqual([...await ledger.graph.ancestorsAmong([tip], [xs[0].vertex.idHex, xs[20].vertex.idHex, side.idHex])].sort(), [xs[0].vertex.idHex, xs[20].vertex.idHex].sort())

    // b spends credits whose vertices left memory: they are proven in its causal past (from disk), so it is final
    const spend = await ledger.submitTransaction(transfer(f.genesis, f.b, f.a, 30_000n, 0n))
    await ledger.buildVertex()
    await finalizeAll(ledger)
    const spent = await ledger.getTx(spend)
    t.is(spent?.status, 'final', JSON.stringify(spent?.reason))
    // and a's later nonces chain through evicted vertices
    await chain(ledger, f, 2, 40n)
    t.is((await ledger.getAccount(addr(f.a))).nonce, 42n)
  } finally {
    await close()
  }
})

/** A vertex on `parent` this ledger never built or received: what another validator's vertex is before it arrives. */
function notInsertedChild (f: Awaited<ReturnType<typeof fixture>>, parent: Uint8Array): ReturnType<typeof buildVertexInfo> {
  return buildVertexInfo(f.genesis.chainId, {
    author: f.validator.publicKey,
    secretKey: f.validator.secretKey,
    parents: [parent],
    txs: [txInfo(transfer(f.genesis, f.c, f.b, 5n, 0n))],
    timestampMs: BigInt(Date.now())
  })
}

test.serial('a vertex asked about before it arrives is unknown, then known once inserted, in memory and after it left memory', async t => {
  const f = await fixture()
  const { ledger, close } = await open(f, { historyWindow: WINDOW })
  try {
    const [first] = await chain(ledger, f, 1)
    // built by "another validator" (same key, but never inserted here): a poll asks about it before gossip brings it
    const later = notInsertedChild(f, first.vertex.id)
    t.false(await ledger.knowsVertex(later.idHex))
    t.false(await ledger.knowsVertex(later.idHex), 'asked again (the miss is remembered)')
    t.is(await ledger.history.status(later.idHex), undefined)
    t.true(await ledger.insertVertex(later))
    t.true(await ledger.knowsVertex(later.idHex))
    await finalizeAll(ledger)
    // it leaves memory below the history cut: still known, from disk, and never inserted twice
    await chain(ledger, f, 3 * WINDOW, 1n)
    t.false(ledger.hasVertex(later.idHex))
    t.true(await ledger.knowsVertex(later.idHex))
    t.is(await ledger.history.status(later.idHex), 'accepted')
    t.false(await ledger.insertVertex(vertexInfo(later.encoded)))
  } finally {
    await close()
  }
})

test.serial('a decoded vertex its parents place above the history cut is unknown without a disk read when not in memory; an evicted one is still known', async t => {
  const f = await fixture()
  const { ledger, close } = await open(f, { historyWindow: WINDOW })
  try {
    const xs = await chain(ledger, f, 3 * WINDOW)
    t.true(ledger.memoryView().cutHeight > 1, 'the cut has moved')
    const graphDb = ledger.store.graph
    const realGet = graphDb.get.bind(graphDb)
    const realGetSync = graphDb.getSync.bind(graphDb)
    let reads = 0
    // a read goes through getSync on an open store (core/storage.ts getValue), through get otherwise
    graphDb.get = (async (key: Uint8Array) => { reads++; return await realGet(key) }) as typeof graphDb.get
    graphDb.getSync = ((key: Uint8Array) => { reads++; return realGetSync(key) }) as typeof graphDb.getSync
    const later = notInsertedChild(f, xs[xs.length - 1].vertex.id)
    t.false(await ledger.knowsVertex(later.idHex, later.parentHex))
    t.is(reads, 0, 'its parent is in memory at the top: had it been inserted, it would be in memory')
    // a replayed old vertex: its parents left memory too, so the index on disk answers
    const old = vertexInfo(xs[1].vertex.encoded)
    t.true(await ledger.knowsVertex(old.idHex, old.parentHex))
    t.true(reads > 0)
    graphDb.get = realGet
    graphDb.getSync = realGetSync
    t.true(await ledger.insertVertex(later))
    t.true(await ledger.knowsVertex(later.idHex, later.parentHex))
    await finalizeAll(ledger)
    await chain(ledger, f, 3 * WINDOW, BigInt(xs.length))
    t.false(ledger.hasVertex(later.idHex), 'it left memory')
    t.true(await ledger.knowsVertex(later.idHex, later.parentHex), 'known from disk once its parents left memory as well')
    t.false(await ledger.insertVertex(vertexInfo(later.encoded)))
  } finally {
    await close()
  }
})

test.serial('a miss read from disk while the vertex is being inserted is not remembered: it stays known after it left memory', async t => {
  const f = await fixture()
  const { ledger, close } = await open(f, { historyWindow: WINDOW })
  try {
    const [first] = await chain(ledger, f, 1)
    const later = notInsertedChild(f, first.vertex.id)
    // a query's lookup reads the index before the insert commits, and its answer (a miss) comes back after the
    // insert (a LevelDB read in flight while the insert's batch commits: a loaded node's thread pool). Only an
    // asynchronous read can be in flight: this store is made to read as one without getSync does (a sublevel not
    // yet open does too; core/storage.ts getValue)
    const graphDb = ledger.store.graph
    const supports = graphDb.supports
    Object.defineProperty(graphDb, 'supports', { value: { ...supports, getSync: false }, configurable: true, writable: true })
    t.teardown(() => { Object.defineProperty(graphDb, 'supports', { value: supports, configurable: true, writable: true }) })
    const realGet = graphDb.get.bind(graphDb)
    let release = (): void => {}
    const held = new Promise<void>(resolve => { release = resolve })
    let reading = (): void => {}
    const read = new Promise<void>(resolve => { reading = resolve })
    let once = true
    graphDb.get = (async (key: Uint8Array) => {
      const v = await realGet(key)
      if (once) { once = false; reading(); await held }
      return v
    }) as typeof graphDb.get
    const asked = ledger.knowsVertex(later.idHex)
    await read
    t.true(await ledger.insertVertex(later))
    release()
    t.false(await asked, 'the vertex was not inserted when the lookup read the disk')
    graphDb.get = realGet
    t.true(await ledger.knowsVertex(later.idHex))
    await finalizeAll(ledger)
    await chain(ledger, f, 3 * WINDOW, 1n)
    t.false(ledger.hasVertex(later.idHex), 'it left memory')
    t.true(await ledger.knowsVertex(later.idHex), 'known from disk: the miss read during its insert was not kept')
    t.is(await ledger.history.status(later.idHex), 'accepted')
    // a peer catching up asks about it: this node votes for it (an accepted vertex that left memory)
    t.is((await ledger.preferredFrontier(later.idHex, 8))[0], later.idHex)
  } finally {
    await close()
  }
})

test.serial('a restart loads the window and decodes no decided vertex; the state is read, not replayed', async t => {
  const f = await fixture()
  let before: Awaited<ReturnType<DagLedger['stats']>>
  let oldTx: string
  {
    const { ledger, close } = await open(f, { historyWindow: WINDOW })
    const xs = await chain(ledger, f, 60)
    oldTx = xs[0].txId
    before = await ledger.stats()
    await close()
  }
  const { ledger, close } = await open(f, { historyWindow: WINDOW })
  try {
    t.is(ledger.loadStats.decoded, 0)
    t.true(ledger.loadStats.loaded <= WINDOW + ledger.history.step + 1, `loaded ${ledger.loadStats.loaded}`)
    t.is(ledger.memoryView().graphVertices, ledger.loadStats.loaded)
    t.deepEqual(await ledger.stats(), before)
    t.is((await ledger.getTx(oldTx))?.status, 'final')
    // the genesis is no tip once any vertex is (its first child left memory; it was one after a restart)
    t.deepEqual(ledger.tips(), [ledger.graph.tips().sort((a, b) => b.height - a.height)[0].id])
    t.false(ledger.tips().includes(ledger.genesisIdHex))
    // it carries on: builds on its loaded tips and finalizes
    await chain(ledger, f, 3, 60n)
    t.is((await ledger.getAccount(addr(f.a))).nonce, 63n)
    t.is((await ledger.stats()).finalized, before.finalized + 3)
  } finally {
    await close()
  }
})

test.serial('a datadir written before the graph index is indexed once, then starts from the index', async t => {
  const f = await fixture()
  let before: Awaited<ReturnType<DagLedger['stats']>>
  {
    const { db, ledger, close } = await open(f)
    await chain(ledger, f, 12)
    before = await ledger.stats()
    // what an older version left on disk: no graph index, no history cut
    const graph = sublevel(db, 'dagGraph')
    for await (const k of graph.keys()) await graph.del(k)
    await sublevel(db, 'dagMeta').del(keyBytes(KEY_PREFIXES.dagMeta.history))
    await close()
  }
  {
    const { ledger, close } = await open(f)
    t.is(ledger.loadStats.decoded, 12)
    t.is(ledger.loadStats.loaded, 12)
    t.deepEqual(await ledger.stats(), before)
    await close()
  }
  const { ledger, close } = await open(f)
  try {
    t.is(ledger.loadStats.decoded, 0)
    t.is(ledger.loadStats.loaded, 12)
    t.deepEqual(await ledger.stats(), before)
    t.is(toHex(fromHex(ledger.tips()[0])).length, 64)
  } finally {
    await close()
  }
})

const pruning = test.macro(async (t, bodyLog: boolean) => {
  const f = await fixture()
  const init: DagLedgerInit = { historyWindow: WINDOW, ...(bodyLog ? { bodyDir: join(f.dir, 'bodies') } : {}) }
  let xs: Array<{ vertex: VertexInfo, txId: string }>
  let rootAfter: string
  {
    const { ledger, close } = await open(f, init)
    xs = await chain(ledger, f, 40)
    const cut = xs[24].vertex.idHex
    const inMemoryBefore = ledger.memoryView().graphVertices
    const deleted = await ledger.pruneBelow(cut)
    // everything below the cut that has left memory: heights 1..24 minus what the window still holds
    const below = xs.slice(0, 24).filter(x => !ledger.hasVertex(x.vertex.idHex))
    t.is(deleted, below.length)
    t.true(deleted > 10, `deleted ${deleted}`)
    for (const x of below) t.is(await ledger.getVertexBytes(x.vertex.idHex), undefined)
    t.deepEqual(await ledger.getTx(xs[0].txId), { status: 'pruned', outcome: 'final', vertexId: xs[0].vertex.idHex })
    // the cut itself and what lies above it keep their bodies
    t.is((await ledger.getTx(xs[24].txId))?.status, 'final')
    t.is((await ledger.getTx(xs[39].txId))?.tx?.idHex, xs[39].txId)
    t.deepEqual(await ledger.history.place(xs[0].vertex.idHex), { status: 'accepted', height: 1 })
    t.is(ledger.memoryView().graphVertices, inMemoryBefore)
    // a second prune at the same cut finds nothing left; a pruned vertex is still known (never inserted again)
    t.is(await ledger.pruneBelow(cut), 0)
    t.true(await ledger.knowsVertex(xs[0].vertex.idHex))
    t.false(await ledger.insertVertex(vertexInfo(xs[0].vertex.encoded)))
    // a vertex naming a pruned parent is accepted; ancestry through pruned history stays exact
    const side = buildVertexInfo(f.genesis.chainId, {
      author: f.validator.publicKey,
      secretKey: f.validator.secretKey,
      parents: [xs[5].vertex.id],
      txs: [txInfo(transfer(f.genesis, f.c, f.b, 5n, 0n))],
      timestampMs: BigInt(Date.now())
    })
    await ledger.checkStandalone(side)
    t.true(await ledger.insertVertex(side))
    await finalizeAll(ledger)
    t.is(ledger.vertexStatus(side.idHex), 'accepted')
    t.true(await ledger.graph.isAncestorOrSelf(xs[0].vertex.idHex, [side.idHex]))
    t.false(await ledger.graph.isAncestorOrSelf(xs[6].vertex.idHex, [side.idHex]))
    // new transactions chain through pruned history (a's nonces 0..39 lie in pruned and evicted vertices)
    await chain(ledger, f, 2, 40n)
    rootAfter = (await ledger.stats()).stateRoot
    await close()
  }
  const { ledger, close } = await open(f, init)
  try {
    t.is(ledger.loadStats.decoded, 0)
    t.is((await ledger.stats()).stateRoot, rootAfter)
    t.is((await ledger.getTx(xs[1].txId))?.status, 'pruned')
    await chain(ledger, f, 1, 42n)
    t.is((await ledger.getAccount(addr(f.a))).nonce, 43n)
  } finally {
    await close()
  }
})

test.serial('pruning below a cut deletes old bodies only: tx_get answers pruned with the outcome, the rest keeps working, a restart too', pruning, false)
test.serial('the same with the bodies in the vertex body log', pruning, true)
