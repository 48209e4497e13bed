// Unproven credits live beside the account records (dag-u, one key per account and vertex), so a credit is one small
// write however many an account holds. These tests check the ledger's outcomes against the rule itself, computed
// here from each vertex's causal past (a debit in V may spend only what past(V) and V's earlier transactions gave
// the account), over random DAGs applied in random orders and rounds, with the credit lists in memory and without;
// that a long list (read from disk at a debit) is proven as a short one; and that a datadir of the earlier format
// (credits inside the record) is upgraded once, in place.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { fromHex, toHex, Writer } from '../../src/core/codec.ts'
import { type BinaryDb, openDatabase } from '../../src/core/storage.ts'
import { FEE_POOL_ACCOUNT } from '../../src/dag/fee-pool.ts'
import { DagGraph } from '../../src/dag/graph.ts'
import { CACHED_CREDITS_MAX, LedgerState } from '../../src/dag/ledger-state.ts'
import { ACCOUNT_RECORD_BYTES } from '../../src/dag/account-record.ts'
import { DagStore } from '../../src/dag/store.ts'
import { buildTransfer, encodeTx, txInfo } from '../../src/dag/tx.ts'
import { requireTxKind } from '../../src/dag/tx-kinds.ts'
import { buildVertexInfo, type VertexInfo } from '../../src/dag/vertex.ts'
import { addr, author, type Built, CHAIN, GENESIS, randomDag, randomOrder, rng, seeded, START, users } from '../helpers/random-dag.ts'

interface Node { db: BinaryDb, store: DagStore, state: LedgerState, graph: DagGraph }

async function node (path: string, holders: Uint8Array[], caches: { accounts: number, credits: number }): Promise<Node> {
  const db = await openDatabase(path)
  const store = new DagStore(db)
  const graph = new DagGraph(GENESIS)
  const state = new LedgerState(store, graph, caches.accounts, caches.credits)
  const b = store.batch()
  for (const a of holders) store.putAccountSnapshot(b, a, { balance: START, nonce: 0n, unproven: [] })
  store.putAccountsFormat(b)
  await b.commit()
  return { db, store, state, graph }
}

/** Applies `order` in rounds of 1..6 vertices (each round one batch); returns `vertex:tx` → final or the reason. */
async function applyInRounds (n: Node, next: () => number, order: VertexInfo[]): Promise<Map<string, string>> {
  const outcomes = new Map<string, string>()
  for (let i = 0; i < order.length;) {
    const size = 1 + Math.floor(next() * 6)
    n.state.beginRound()
    const b = n.store.batch()
    for (const v of order.slice(i, i + size)) {
      for (const o of await n.state.applyVertex(b, v)) outcomes.set(`${v.idHex}:${o.info.idHex}`, o.ok ? 'final' : o.reason)
    }
    await b.commit()
    n.state.commitRound()
    i += size
  }
  return outcomes
}

/**
 * The rule, straight from its statement: a transaction of A in V is final when what past(V) (V excluded) and V's
 * earlier transactions credited A, less what they debited it, covers its amount and fee. `dag` in a topological order.
 */
function expectedOutcomes (dag: Built[]): Map<string, string> {
  const effectsOf = new Map<string, Array<{ from: string, need: bigint, to: string, amount: bigint }>>()
  const out = new Map<string, string>()
  for (const b of dag) {
    const mine: Array<{ from: string, need: bigint, to: string, amount: bigint }> = []
    for (const t of b.info.txs) {
      const kind = requireTxKind(t.tx.kind)
      const e = kind.effects(kind.decode(t.tx.payload), { account: t.account, nonce: t.tx.nonce })
      const to = toHex(e.credits[0].to)
      let available = START
      const seen = [...[...b.past].filter(id => id !== b.info.idHex).flatMap(id => effectsOf.get(id) ?? []), ...mine]
      for (const x of seen) {
        if (x.to === t.accountHex) available += x.amount
        if (x.from === t.accountHex) available -= x.need
      }
      const need = e.debit + t.tx.fee
      const ok = available >= need
      out.set(`${b.info.idHex}:${t.idHex}`, ok ? 'final' : 'insufficient-balance')
      if (ok) mine.push({ from: t.accountHex, need, to, amount: e.credits[0].amount })
    }
    effectsOf.set(b.info.idHex, mine)
  }
  return out
}

/** The account's record on disk is the fixed 28 bytes and counts exactly the credits stored under it. */
async function checkStored (t: { is: (a: unknown, b: unknown, m?: string) => void }, n: Node, a: Uint8Array, label: string): Promise<number> {
  const raw = await n.store.accounts.get(a)
  t.is(raw?.length, ACCOUNT_RECORD_BYTES, `${label}: record bytes`)
  const rec = await n.store.getAccount(a)
  const credits = await n.store.getCredits(a)
  t.is(rec?.unprovenCount, credits.length, `${label}: record count = stored credits`)
  return credits.length
}

test('outcomes follow the causal-past rule in any acceptance order and rounding, credit lists cached or read from disk; the fee pool gains one credit per fee-paying vertex in a fixed-size record', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-credits-'))
  let rejected = 0
  try {
    for (let seed = 1; seed <= 10; seed++) {
      const next = rng(seed * 7919)
      const dag = randomDag(next, 40)
      const expected = expectedOutcomes(dag)
      for (const caches of [{ accounts: 100, credits: 100 }, { accounts: 1, credits: 0 }]) {
        const n = await node(join(dir, `${seed}-${caches.credits}`), users.map(addr), caches)
        for (const v of dag) n.graph.add(v.info.idHex, v.info.parentHex, 'accepted')
        const got = await applyInRounds(n, next, randomOrder(next, dag).map(b => b.info))
        t.deepEqual([...got].sort(), [...expected].sort(), `seed ${seed}, credit lists cached for ${caches.credits}`)
        const feeVertices = dag.filter(b => b.info.txs.some(x => got.get(`${b.info.idHex}:${x.idHex}`) === 'final')).length
        t.is(await checkStored(t, n, FEE_POOL_ACCOUNT, 'fee pool'), feeVertices, `seed ${seed}: one pool credit per fee-paying vertex`)
        let total = 0n
        for (const a of [...users.map(addr), FEE_POOL_ACCOUNT]) {
          await checkStored(t, n, a, `seed ${seed} ${toHex(a).slice(0, 8)}`)
          const rec = await n.state.account(a)
          t.deepEqual(rec, await n.store.getAccount(a), 'the committed view is what is on disk')
          total += rec.balance
        }
        t.is(total, START * BigInt(users.length), 'money is conserved')
        await n.db.close()
      }
      rejected += [...expected.values()].filter(o => o !== 'final').length
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  t.true(rejected > 0, 'some transfers were refused for their causal balance')
})

test('a list longer than the cache holds is read from disk and proven in part: a debit spends only the credits in its past', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-credits-'))
  const payer = seeded(40)
  const sink = seeded(41)
  const chain: VertexInfo[] = []
  let parent = fromHex(GENESIS)
  const CREDITS = CACHED_CREDITS_MAX + 14
  for (let i = 0; i < CREDITS; i++) {
    const tx = txInfo(encodeTx(buildTransfer({ chainId: CHAIN, publicKey: payer.publicKey, secretKey: payer.secretKey, to: addr(sink), amount: 10n, nonce: BigInt(i), fee: 1n })))
    const v = buildVertexInfo(CHAIN, { author: author.publicKey, secretKey: author.secretKey, parents: [parent], txs: [tx], timestampMs: BigInt(i) })
    chain.push(v)
    parent = v.id
  }
  const spend = (nonce: bigint, amount: bigint, parents: Uint8Array[], ts: bigint): VertexInfo => buildVertexInfo(CHAIN, {
    author: author.publicKey,
    secretKey: author.secretKey,
    parents,
    txs: [txInfo(encodeTx(buildTransfer({ chainId: CHAIN, publicKey: sink.publicKey, secretKey: sink.secretKey, to: addr(payer), amount, nonce, fee: 1n })))],
    timestampMs: ts
  })
  const proven = CACHED_CREDITS_MAX + 4 // the first debit's vertex descends from this many of the credits
  // the sink starts with nothing: the proven credits are all x may spend (amount and fee), the rest all y may
  const x = spend(0n, 10n * BigInt(proven) - 1n, [chain[proven - 1].id], 100n)
  const y = spend(1n, 10n * BigInt(CREDITS - proven) - 1n, [x.id, chain[CREDITS - 1].id], 101n)
  const tooMuch = spend(0n, 10n * BigInt(proven), [chain[proven - 1].id], 102n)
  try {
    for (const credits of [100, 0]) {
      for (const [label, first, ok] of [['exact', x, true], ['one over', tooMuch, false]] as const) {
        const n = await node(join(dir, `${label}-${credits}`), [addr(payer)], { accounts: 100, credits })
        for (const v of [...chain, x, tooMuch, y]) n.graph.add(v.idHex, v.parentHex, 'accepted')
        const got = await applyInRounds(n, rng(credits + 1), [...chain, first])
        t.is(got.get(`${first.idHex}:${first.txs[0].idHex}`), ok ? 'final' : 'insufficient-balance', `${label}, cached ${credits}`)
        // proving happens before the balance check: either way the proven credits leave the list
        t.is(await checkStored(t, n, addr(sink), 'sink'), CREDITS - proven)
        if (ok) {
          const last = await applyInRounds(n, rng(3), [y])
          t.is(last.get(`${y.idHex}:${y.txs[0].idHex}`), 'final', 'y has every credit in its past: it spends the rest')
          t.is(await checkStored(t, n, addr(sink), 'sink'), 0)
          t.is((await n.state.account(addr(sink))).balance, 0n)
        }
        await n.db.close()
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a datadir of the format before s20 (credits inside the record) is upgraded once, and its credits are proven as before', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-credits-'))
  const db = await openDatabase(join(dir, 'old'))
  try {
    const store = new DagStore(db)
    const sink = addr(users[0])
    const plain = addr(users[1])
    const from = [1, 2, 3].map(i => buildVertexInfo(CHAIN, { author: author.publicKey, secretKey: author.secretKey, parents: [fromHex(GENESIS)], txs: [], timestampMs: BigInt(i) }))
    const legacy = new Writer(28 + 3 * 48).u128(60n).u64(0n).u32(3)
    for (const v of from) legacy.fixed(v.id, 32).u128(20n)
    await store.accounts.put(sink, legacy.finish())
    await store.accounts.put(plain, new Writer(28).u128(START).u64(5n).u32(0).finish())
    t.is(await store.upgradeAccounts(), 1, 'the one record holding credits is rewritten')
    t.deepEqual(await store.getAccount(sink), { balance: 60n, nonce: 0n, unprovenCount: 3 })
    t.deepEqual((await store.getCredits(sink)).map(c => [toHex(c.vertexId), c.amount]).sort(), from.map(v => [v.idHex, 20n]).sort())
    t.deepEqual(await store.getAccount(plain), { balance: START, nonce: 5n, unprovenCount: 0 })
    t.is(await store.upgradeAccounts(), 0, 'once: the format is recorded')

    // a debit whose vertex has two of the three credits in its past may spend 40
    const graph = new DagGraph(GENESIS)
    for (const v of from) graph.add(v.idHex, v.parentHex, 'accepted')
    const spend = buildVertexInfo(CHAIN, {
      author: author.publicKey,
      secretKey: author.secretKey,
      parents: [from[0].id, from[1].id],
      txs: [txInfo(encodeTx(buildTransfer({ chainId: CHAIN, publicKey: users[0].publicKey, secretKey: users[0].secretKey, to: plain, amount: 39n, nonce: 0n, fee: 1n })))],
      timestampMs: 9n
    })
    graph.add(spend.idHex, spend.parentHex, 'accepted')
    const got = await applyInRounds({ db, store, graph, state: new LedgerState(store, graph) }, rng(1), [spend])
    t.is(got.get(`${spend.idHex}:${spend.txs[0].idHex}`), 'final')
    t.deepEqual((await store.getCredits(sink)).map(c => toHex(c.vertexId)), [from[2].idHex], 'the unproven third stays')

    await store.meta.put(new TextEncoder().encode('accounts'), Uint8Array.of(9))
    await t.throwsAsync(store.upgradeAccounts(), { message: /format 9/ }, 'a format this node does not know is refused, not read')
  } finally {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
})
