// The ledger under `consensus.rule: 'commit'` (docs/consensus-next.md, steps 2-3): four validators' ledgers, each on
// its own LevelDB, exchange their signed vertices directly (no network: the delivery is the test's to choose, which
// is what lets it partition them). Transfers become final everywhere with one state root; a double spend has one
// winner, the same everywhere; two halves of a 2 | 2 split finalize nothing until they meet; the round rules refuse a
// vertex that breaks them; a ledger restarted from its datadir goes on where it stopped; a deposit credit needs a
// quorum of attestations before it.
import test from 'ava'
import { Registry } from 'prom-client'
import { createDagMetrics } from '../../src/dag/metrics.ts'
import type { KeyPair } from '../../src/core/crypto.ts'
import { fromHex, toHex } from '../../src/core/codec.ts'
import { buildVertexInfo, type VertexInfo, vertexAuthor } from '../../src/dag/vertex.ts'
import { addressOf, transfer } from '../helpers/dag-net.ts'
import { parseAddress } from '../../src/core/address.ts'
import { buildDepositAttest, buildDepositCredit, depositAccount, registerBridgeKinds } from '../../src/bridge/kinds/index.ts'
import type { DagError } from '../../src/dag/errors.ts'
import { encodeTx, type Transaction, txInfo } from '../../src/dag/tx.ts'
import { ledgerReader } from '../../src/dag/service.ts'
import { TX_KIND_TRANSFER } from '../../src/dag/tx-kinds.ts'
import { advanceCut, cutTree, decodeCut, encodeCut, genesisCut } from '../../src/dag/state-cut.ts'
import { advanceCutToSlot } from '../../src/dag/slot-cut.ts'
import { close, network, type Node, open, roots, runUntil, START, statuses, step } from '../helpers/commit-ledgers.ts'

test('transfers submitted at different validators become final at every one, with one state root', async t => {
  const net = await network()
  const { nodes, users, genesis } = net
  const ids: string[] = []
  // each account's nonces 0 and 1 queued at one validator: chained in one vertex or across rounds
  for (let i = 0; i < 4; i++) {
    ids.push(await nodes[i].ledger.submitTransaction(transfer(genesis, users[i], users[(i + 1) % 4], 1000n + BigInt(i), 0n)))
    ids.push(await nodes[i].ledger.submitTransaction(transfer(genesis, users[i], users[(i + 2) % 4], 10n, 1n)))
  }
  const all = [nodes]
  const allFinal = async (): Promise<boolean> => (await Promise.all(ids.map(async id => await statuses(nodes, id)))).every(s => s.every(x => x === 'final'))
  t.true(await runUntil(all, allFinal) >= 0, 'every transaction final at every node')
  // the next nonce at another validator than the account's earlier ones: it chains on vertices it received
  for (let i = 0; i < 4; i++) ids.push(await nodes[(i + 1) % 4].ledger.submitTransaction(transfer(genesis, users[i], users[(i + 3) % 4], 7n, 2n)))
  t.true(await runUntil(all, allFinal) >= 0, 'and the next nonces too')
  t.is(ids.length, 12)
  const r = await roots(nodes)
  t.is(new Set(r).size, 1)
  const b0 = await Promise.all(nodes.map(async n => (await n.ledger.getAccount(parseAddress(addressOf(users[1])))).balance))
  t.is(new Set(b0).size, 1)
  // with nothing left to carry, the rounds stop: an idle network builds nothing
  await runUntil(all, async () => nodes.every(n => n.ledger.roundView()?.work === false))
  t.deepEqual(await step(all), [])
  for (const n of nodes) await close(n)
})

test('a double spend sent to two validators: one winner, the same at every node, and the loser rejected', async t => {
  const { nodes, users, genesis } = await network()
  const a = await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 5000n, 0n))
  const b = await nodes[1].ledger.submitTransaction(transfer(genesis, users[0], users[2], 6000n, 0n))
  const steps = await runUntil([nodes], async () => {
    const s = [...await statuses(nodes, a), ...await statuses(nodes, b)]
    return s.every(x => x === 'final' || x === 'rejected')
  })
  t.true(steps >= 0, 'both decided everywhere')
  const sa = await statuses(nodes, a)
  const sb = await statuses(nodes, b)
  t.is(new Set(sa).size, 1)
  t.is(new Set(sb).size, 1)
  t.deepEqual([sa[0], sb[0]].sort(), ['final', 'rejected'])
  const spent = await Promise.all(nodes.map(async n => (await n.ledger.getAccount(parseAddress(addressOf(users[0])))).nonce))
  t.deepEqual(spent, [1n, 1n, 1n, 1n])
  t.is(new Set(await roots(nodes)).size, 1)
  for (const n of nodes) await close(n)
})

test('a 2 | 2 split finalizes nothing on either side (no quorum of 3); once joined, one side of a double spend wins', async t => {
  const { nodes, users, genesis } = await network()
  const left = nodes.slice(0, 2)
  const right = nodes.slice(2)
  const a = await left[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 5000n, 0n))
  const b = await right[0].ledger.submitTransaction(transfer(genesis, users[0], users[2], 6000n, 0n))
  for (let i = 0; i < 20; i++) await step([left, right])
  t.deepEqual(await statuses(nodes, a), ['pending', 'pending', undefined, undefined])
  t.deepEqual(await statuses(nodes, b), [undefined, undefined, 'pending', 'pending'])
  for (const n of nodes) t.is((await n.ledger.stats()).finalized, 0)
  // joined: every vertex each side built reaches the other (as sync would bring them), then rounds go on together
  for (const from of nodes) {
    for (const id of from.ledger.tips()) {
      for (const to of nodes) {
        if (to.ledger.hasVertex(id)) continue
        const bytes = await from.ledger.getVertexBytes(id)
        if (bytes === undefined) continue
        const { vertexInfo } = await import('../../src/dag/vertex.ts')
        const info = vertexInfo(bytes)
        await to.ledger.checkStandalone(info)
        await to.ledger.insertVertex(info)
      }
    }
  }
  const steps = await runUntil([nodes], async () => [...await statuses(nodes, a), ...await statuses(nodes, b)].every(x => x === 'final' || x === 'rejected'))
  t.true(steps >= 0)
  const sa = await statuses(nodes, a)
  t.is(new Set(sa).size, 1)
  t.is(new Set(await statuses(nodes, b)).size, 1)
  t.not(sa[0], (await statuses(nodes, b))[0])
  t.is(new Set(await roots(nodes)).size, 1)
  for (const n of nodes) await close(n)
})

test('the round rules: parents of two rounds, or below the quorum, are refused PARENTS_INVALID and nothing is stored', async t => {
  const { nodes, users, genesis } = await network()
  await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 1n, 0n))
  // round 1 everywhere (the others follow once the first vertex carrying work reaches them), then round 2 from three
  const n3 = nodes[3]
  const ofHeight = (n: Node, h: number): string[] => [...n.ledger.graph.values()].filter(v => v.height === h).map(v => v.id)
  await runUntil([nodes], async () => ofHeight(n3, 1).length === 4)
  await step([nodes.slice(0, 3)])
  const r1 = ofHeight(n3, 1)
  const r2 = ofHeight(nodes[0], 2)
  t.is(r1.length, 4)
  t.is(r2.length, 3)
  const forge = (parents: string[]): VertexInfo => buildVertexInfo(genesis.chainId, { author: n3.key.publicKey, secretKey: n3.key.secretKey, parents: parents.map(p => fromHex(p)), txs: [], timestampMs: BigInt(Date.now()) })
  // two parents of round 1 hold 2 of 4: below the quorum of 3
  const thin = forge(r1.slice(0, 2))
  await n3.ledger.checkStandalone(thin)
  await t.throwsAsync(n3.ledger.insertVertex(thin), { message: /quorum/, instanceOf: Error })
  t.false(n3.ledger.hasVertex(thin.idHex))
  t.is(await n3.ledger.getVertexBytes(thin.idHex), undefined)
  // a round-2 parent beside round-1 ones: the parents' rounds differ
  const insertAt0 = nodes[0]
  const mixed = forge([...r1.slice(0, 3), r2[0]])
  await insertAt0.ledger.checkStandalone(mixed)
  const err = await t.throwsAsync(insertAt0.ledger.insertVertex(mixed))
  t.is((err as { code?: string }).code, 'PARENTS_INVALID')
  t.is(await insertAt0.ledger.getVertexBytes(mixed.idHex), undefined)
  for (const n of nodes) await close(n)
})

test('a ledger restarted from its datadir resumes the rule where it stopped, with its final clock, and agrees with the others', async t => {
  const { nodes, users, genesis } = await network()
  const first = await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 10n, 0n))
  t.true(await runUntil([nodes], async () => (await statuses(nodes, first)).every(s => s === 'final')) >= 0)
  // more in flight, then node 2 stops and starts again from disk
  const second = await nodes[1].ledger.submitTransaction(transfer(genesis, users[1], users[2], 20n, 0n))
  await step([nodes])
  // the final clock (each validator's latest ordered vertex time) is the market's order clock: kept with the decisions
  const clock = nodes[2].ledger.sealedThroughMs()
  t.not(clock, undefined, 'every validator has an ordered vertex')
  await close(nodes[2])
  nodes[2] = await open(genesis, nodes[2].key, nodes[2].dir)
  t.is(nodes[2].ledger.sealedThroughMs(), clock, 'the final clock reads after the restart what it read before')
  t.is((await nodes[2].ledger.getTx(first))?.status, 'final')
  const third = await nodes[2].ledger.submitTransaction(transfer(genesis, users[2], users[3], 30n, 0n))
  const steps = await runUntil([nodes], async () => (await Promise.all([second, third].map(async id => await statuses(nodes, id)))).every(s => s.every(x => x === 'final')))
  t.true(steps >= 0)
  t.is(new Set(await roots(nodes)).size, 1)
  for (const n of nodes) await close(n)
})

test('a round one validator started while the others were idle is completed by them: its queued transfer becomes final', async t => {
  const { nodes, users, genesis } = await network()
  const first = await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 10n, 0n))
  t.true(await runUntil([nodes], async () => (await statuses(nodes, first)).every(s => s === 'final')) >= 0)
  t.true(await runUntil([nodes], async () => nodes.every(n => n.ledger.roundView()?.work === false)) >= 0, 'idle')
  // validator 0 alone builds the next round (empty: what a node whose work ended later than the others' leaves)
  const lone = await nodes[0].ledger.buildVertex({ empty: true })
  if (lone === undefined) throw new Error('no vertex built')
  for (const n of nodes.slice(1)) { await n.ledger.checkStandalone(lone); await n.ledger.insertVertex(lone) }
  // then a transfer queued there: it waits for the next round, which needs the quorum of this one
  const waiting = await nodes[0].ledger.submitTransaction(transfer(genesis, users[2], users[3], 5n, 0n))
  t.true(nodes[0].ledger.roundView()?.built)
  t.true(await runUntil([nodes], async () => (await statuses(nodes, waiting)).every(s => s === 'final')) >= 0, 'the others complete the round and the transfer is final')
  t.is(new Set(await roots(nodes)).size, 1)
  for (const n of nodes) await close(n)
})

test('a transfer queued while a validator signs an empty vertex is work for its next round: the vertex was chosen before it came', async t => {
  const { nodes, users, genesis } = await network()
  // the choice is made from the queue as the build starts (empty here); the transfer is queued while the vertex is
  // signed (off the event loop), so the vertex cannot carry it, and the queue it left is not one the vertex refused
  const building = nodes[0].ledger.buildVertex({ empty: true })
  const [lone, queued] = await Promise.all([building, nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 10n, 0n))])
  if (lone === undefined) throw new Error('no vertex built')
  t.deepEqual(lone.txs.map(x => x.idHex), [])
  for (const n of nodes.slice(1)) { await n.ledger.checkStandalone(lone); await n.ledger.insertVertex(lone) }
  t.true(await runUntil([nodes], async () => (await statuses(nodes, queued)).every(s => s === 'final')) >= 0, 'validator 0 carries the transfer in a later round and it is final everywhere')
  for (const n of nodes) await close(n)
})

test('a queue none of which a vertex can take is set aside and says so (metric), until the vertex carrying the nonce before it is in reach', async t => {
  const registry = new Registry()
  const { nodes, users, genesis } = await network(4, { metrics: [createDagMetrics(registry)] })
  const stalled = async (): Promise<number> => {
    nodes[0].ledger.consensusGauges()
    return (await registry.getSingleMetric('harmony_dag_mempool_stalled_txs')?.get())?.values[0]?.value ?? -1
  }
  // nonce 0 in validator 1's round-1 vertex, held by validator 0, which then queues nonce 1 (admitted: nonce 0 is in
  // a vertex it holds) and builds its own round-1 vertex: its parents (the genesis) do not reach nonce 0, so it can
  // take nothing (the nonce chain rule), and its queue is not work for the rounds
  await nodes[1].ledger.submitTransaction(transfer(genesis, users[0], users[1], 1n, 0n))
  const first = await nodes[1].ledger.buildVertex()
  if (first === undefined) throw new Error('validator 1 built nothing')
  await nodes[0].ledger.checkStandalone(first)
  await nodes[0].ledger.insertVertex(first)
  const second = await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 1n, 1n))
  t.is(await stalled(), 0)
  // the round proposer's call: its round needs a vertex from it (validator 1's is work), empty if need be
  const own = await nodes[0].ledger.buildVertex({ empty: true })
  t.deepEqual(own?.txs.map(x => x.idHex), [])
  t.is(await stalled(), 1, 'one queued transaction no vertex of this validator could take')
  for (const n of nodes.slice(2)) { await n.ledger.checkStandalone(first); await n.ledger.insertVertex(first) }
  for (const n of [nodes[1], ...nodes.slice(2)]) if (own !== undefined) { await n.ledger.checkStandalone(own); await n.ledger.insertVertex(own) }
  // the rounds go on (validator 1's vertex is work): a later vertex of validator 0 names the first and takes nonce 1
  t.true(await runUntil([nodes], async () => (await statuses(nodes, second)).every(s => s === 'final')) >= 0, 'nonce 1 final everywhere')
  t.is(await stalled(), 0)
  for (const n of nodes) await close(n)
})

test('every validator a leader: a validator waits for a late leader of the round below only if that leader made a vertex in the round before it', async t => {
  const { nodes, users, genesis } = await network()
  const ofHeight = (n: Node, h: number): number => [...n.ledger.graph.values()].filter(v => v.height === h).length
  await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 1n, 0n))
  t.true(await runUntil([nodes], async () => nodes.every(n => ofHeight(n, 1) === 4)) >= 0, 'round 1 everywhere')
  // round 2 from validators 0 to 2 only: validator 3 is a leader of round 2 that made a round-1 vertex, so it is
  // waited for (up to the proposer's leader wait)
  await step([nodes.slice(0, 3)])
  const view2 = nodes[0].ledger.roundView()
  t.is(view2?.round, 3)
  t.false(view2?.leaderSeen, 'a live leader of round 2 is missing: wait for it')
  // round 3 from the same three: validator 3 made nothing in round 2, so round 4 does not wait for it
  await step([nodes.slice(0, 3)])
  const view3 = nodes[0].ledger.roundView()
  t.is(view3?.round, 4)
  t.true(view3?.leaderSeen, 'a leader silent in the round before is not waited for')
  for (const n of nodes) await close(n)
})

test('a deposit credit under the commit rule is refused until a quorum of validators attested its exact payload, then minted once', async t => {
  registerBridgeKinds()
  const { nodes, users, genesis } = await network()
  const all = [nodes]
  const to = parseAddress(addressOf(users[0]))
  const deposit = { evmChainId: 31337n, txHash: new Uint8Array(32).fill(7), logIndex: 2, account: to, amount: 5000n }
  const submit = async (i: number, tx: Transaction): Promise<string> => await nodes[i].ledger.submitTransaction(encodeTx(tx))
  const settled = async (ids: string[]): Promise<void> => {
    t.true(await runUntil(all, async () => (await Promise.all(ids.map(async id => await statuses(nodes, id)))).every(s => s.every(x => x === 'final' || x === 'rejected'))) >= 0)
  }
  const reasons = async (id: string): Promise<Array<string | undefined>> => await Promise.all(nodes.map(async n => { const s = await n.ledger.getTx(id); return `${s?.status} ${s?.reason}` }))
  const balances = async (): Promise<Set<bigint>> => new Set(await Promise.all(nodes.map(async n => (await n.ledger.getAccount(to)).balance)))
  const creditAccount = depositAccount(deposit.evmChainId, deposit.txHash, deposit.logIndex)

  // the quorum is 3 of 4: a credit with its signer's stake alone is rejected where the order reaches it
  const early = await submit(0, buildDepositCredit(genesis.chainId, nodes[0].key, deposit))
  await settled([early])
  t.deepEqual(await reasons(early), Array(4).fill('rejected unattested'))
  t.deepEqual(await balances(), new Set([START]), 'nothing minted')
  t.is((await nodes[2].ledger.getAccount(creditAccount)).nonce, 0n, 'the deposit account\'s nonce stays unused')

  // node 1 attests another amount, node 2 the deposit as it is: with the credit's signer that is 2 of the 3 needed
  const wrong = await submit(1, buildDepositAttest(genesis.chainId, nodes[1].key, { ...deposit, amount: 9999n }))
  const right2 = await submit(2, buildDepositAttest(genesis.chainId, nodes[2].key, deposit))
  await settled([wrong, right2])
  t.deepEqual([...await reasons(wrong), ...await reasons(right2)], Array(8).fill('final undefined'), 'attestations are final and move nothing')
  t.deepEqual(await balances(), new Set([START]))
  const shortTx = buildDepositCredit(genesis.chainId, nodes[3].key, deposit)
  const short = await submit(3, shortTx)
  await settled([short])
  t.deepEqual(await reasons(short), Array(4).fill('rejected unattested'), 'an attestation of another payload does not count')

  // node 1 attests the deposit as it is: node 3's credit, signed again, holds 3 of 4 and is minted; a later one
  // loses its nonce
  const right1 = await submit(1, buildDepositAttest(genesis.chainId, nodes[1].key, deposit))
  await settled([right1])
  // the refused credit's own bytes now hold the quorum, but a transaction id has one decision: sent again they are
  // refused at once, and ordered again (a validator that builds them into its vertex) they stay refused, mint
  // nothing and leave the nonce unused
  t.is(await submit(2, shortTx).catch((err: DagError) => err.code), 'TX_KNOWN')
  const below = Math.max(...[...nodes[0].ledger.graph.values()].map(v => v.height))
  const parents = [...nodes[0].ledger.graph.values()].filter(v => v.height === below).map(v => fromHex(v.id))
  const replay = buildVertexInfo(genesis.chainId, { author: nodes[0].key.publicKey, secretKey: nodes[0].key.secretKey, parents, txs: [txInfo(encodeTx(shortTx))], timestampMs: BigInt(Date.now()) })
  for (const n of nodes) {
    await n.ledger.checkStandalone(replay)
    await n.ledger.insertVertex(replay)
  }
  t.true(await runUntil(all, async () => nodes.every(n => n.ledger.vertexStatus(replay.idHex) === 'accepted')) >= 0, 'the vertex carrying the replay is ordered')
  t.deepEqual(await reasons(short), Array(4).fill('rejected unattested'), 'the replayed credit keeps its decision')
  t.deepEqual(await balances(), new Set([START]), 'nothing minted by the replay')
  t.is((await nodes[1].ledger.getAccount(creditAccount)).nonce, 0n)
  const credit = await submit(3, buildDepositCredit(genesis.chainId, nodes[3].key, deposit))
  t.not(credit, short, 'signed again, the credit is another transaction')
  await settled([credit])
  t.deepEqual(await reasons(credit), Array(4).fill('final undefined'))
  t.deepEqual(await balances(), new Set([START + 5000n]))
  const again = await submit(1, buildDepositCredit(genesis.chainId, nodes[1].key, deposit)).catch((err: DagError) => err.code)
  t.is(again, 'NONCE_TOO_LOW', 'a second credit of a credited deposit is refused at once')
  t.is(new Set(await roots(nodes)).size, 1, 'one state root')

  // an attestation must come from a genesis validator, and once per validator and payload
  const stranger = await submit(0, buildDepositAttest(genesis.chainId, users[1], deposit)).catch((err: DagError) => err.code)
  t.is(stranger, 'AUTHOR_UNKNOWN')
  t.is(await submit(1, buildDepositAttest(genesis.chainId, nodes[1].key, deposit)).catch((err: DagError) => err.code), 'NONCE_TOO_LOW')

  for (const n of nodes) await close(n)
})

test('ten validators, more than the 8 parents Avalanche allows: a round names the ten vertices below it and transfers become final everywhere', async t => {
  const { nodes, users, genesis } = await network(10)
  const ids: string[] = []
  for (let i = 0; i < 4; i++) ids.push(await nodes[2 * i].ledger.submitTransaction(transfer(genesis, users[i], users[(i + 1) % 4], 50n + BigInt(i), 0n)))
  const allFinal = async (): Promise<boolean> => (await Promise.all(ids.map(async id => await statuses(nodes, id)))).every(s => s.every(x => x === 'final'))
  let widest = 0
  for (let i = 0; i < 40 && !await allFinal(); i++) for (const v of await step([nodes])) widest = Math.max(widest, v.vertex.parents.length)
  t.true(await allFinal(), 'every transfer final at all ten')
  t.true(widest >= 10, `a vertex named one vertex of each of the ten authors of the round below (widest: ${widest})`)
  t.is(new Set(await roots(nodes)).size, 1)
  for (const n of nodes) await close(n)
})

test('one transaction sent to two validators is carried by two vertices: final once, and an epoch cut over both vertices counts it once', async t => {
  const { nodes, users, genesis } = await network()
  const bytes = transfer(genesis, users[0], users[1], 5000n, 0n)
  const id = await nodes[0].ledger.submitTransaction(bytes)
  t.is(await nodes[1].ledger.submitTransaction(bytes), id)
  // both build their round-1 vertex before they see each other's: each carries the transaction
  const [v0, v1] = await Promise.all([nodes[0].ledger.buildVertex({ empty: true }), nodes[1].ledger.buildVertex({ empty: true })])
  t.truthy(v0?.txs.some(x => x.idHex === id))
  t.truthy(v1?.txs.some(x => x.idHex === id))
  for (const info of [v0, v1] as VertexInfo[]) {
    for (const to of nodes) {
      if (to.ledger.graph.get(info.idHex) !== undefined) continue
      await to.ledger.checkStandalone(info)
      await to.ledger.insertVertex(info)
    }
  }
  t.true(await runUntil([nodes], async () => (await statuses(nodes, id)).every(s => s === 'final') && nodes.every(n => n.ledger.graph.get(v0?.idHex ?? '')?.status === 'accepted' && n.ledger.graph.get(v1?.idHex ?? '')?.status === 'accepted')) >= 0, 'final everywhere, both vertices ordered')
  // a cut at a vertex above both (any vertex of a later round names both or reaches them)
  let top: string | undefined
  let nonce = 0n
  t.true(await runUntil([nodes], async () => {
    for (const v of nodes[2].ledger.graph.values()) {
      if (v.status === 'accepted' && await nodes[2].ledger.graph.isAncestorOrSelf(v0?.idHex ?? '', [v.id]) && await nodes[2].ledger.graph.isAncestorOrSelf(v1?.idHex ?? '', [v.id])) {
        top = v.id
        return true
      }
    }
    // more work for the rounds while none is above both yet
    if (nodes[2].ledger.roundView()?.work !== true) await nodes[2].ledger.submitTransaction(transfer(genesis, users[2], users[3], 1n, nonce++))
    return false
  }) >= 0, 'a vertex above both is accepted')
  const reader = ledgerReader(nodes[2].ledger)
  const cut = await advanceCut(reader, genesisCut(reader), top as string)
  const hexOf = (k: KeyPair): string => toHex(parseAddress(addressOf(k)))
  const sender = cut.accounts.get(hexOf(users[0]))
  t.is(sender?.nonce, 1n)
  t.is(sender?.balance, START - 5000n - (txInfo(bytes).tx.fee))
  t.is(cut.accounts.get(hexOf(users[1]))?.balance, START + 5000n)
  for (const n of nodes) await close(n)
})

test('the state after a committed slot: a cut over the order (not one vertex\'s past) is the ledger\'s own state, the same bytes at every node', async t => {
  const { nodes, users, genesis } = await network()
  const ids: string[] = []
  // a double spend (its winner is the order's choice, not any one vertex's past) and transfers at every validator
  ids.push(await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 5000n, 0n)))
  ids.push(await nodes[1].ledger.submitTransaction(transfer(genesis, users[0], users[2], 6000n, 0n)))
  for (let i = 1; i < 4; i++) ids.push(await nodes[i].ledger.submitTransaction(transfer(genesis, users[i], users[(i + 1) % 4], 100n * BigInt(i), 0n)))
  const decided = async (): Promise<boolean> => (await Promise.all(ids.map(async id => await statuses(nodes, id)))).every(s => s.every(x => x === 'final' || x === 'rejected'))
  t.true(await runUntil([nodes], decided) >= 0, 'every transaction decided at every node')
  // the slot reached so far, and one in the middle of the history
  const readers = nodes.map(n => ledgerReader(n.ledger))
  const firstSlots = await readers[0].slotLeaders(-1, Number.MAX_SAFE_INTEGER)
  t.true(firstSlots.length >= 2, 'several committed slots')
  const middle = firstSlots[Math.floor(firstSlots.length / 2) - 1].slot
  // more transfers, then quiet: every node has applied every slot it committed
  for (let i = 1; i < 4; i++) ids.push(await nodes[(i + 2) % 4].ledger.submitTransaction(transfer(genesis, users[i], users[0], 7n, 1n)))
  t.true(await runUntil([nodes], decided) >= 0, 'the second transfers decided')
  await runUntil([nodes], async () => nodes.every(n => n.ledger.roundView()?.work === false))
  const last = (await readers[0].slotLeaders(-1, Number.MAX_SAFE_INTEGER)).at(-1)?.slot as number
  const bytes: string[] = []
  const roots: string[] = []
  for (const [i, n] of nodes.entries()) {
    const reader = readers[i]
    t.is((await reader.slotLeaders(-1, Number.MAX_SAFE_INTEGER)).at(-1)?.slot, last, 'the same last slot everywhere')
    const whole = await advanceCutToSlot(reader, genesisCut(reader), last)
    // the ledger's own accounts (its stateRoot hashes these records: a different digest than the checkpoint's tree)
    const own = new Map<string, string>()
    for await (const [address, rec] of n.ledger.store.allAccounts()) own.set(toHex(address), `${rec.balance}/${rec.nonce}`)
    const cutAccounts = new Map([...whole.accounts].filter(([, x]) => x.balance !== 0n || x.nonce !== 0n).map(([k, x]) => [k, `${x.balance}/${x.nonce}`]))
    const sorted = (m: Map<string, string>): Array<[string, string]> => [...m].sort((x, y) => (x[0] < y[0] ? -1 : 1))
    t.deepEqual(sorted(cutAccounts), sorted(own), `node ${i}: the cut after the last slot holds the ledger's accounts`)
    // advanced in two steps, through a slot in the middle, it is the same cut
    const half = await advanceCutToSlot(reader, genesisCut(reader), middle)
    const stepped = await advanceCutToSlot(reader, decodeCut(encodeCut(half)), last)
    t.deepEqual(encodeCut(stepped), encodeCut(whole))
    t.is(whole.slot, last)
    // the band: every ordered vertex of the rounds the rule keeps (here all of them), each with its author
    const ordered = [...n.ledger.graph.values()].filter(v => v.status === 'accepted' && v.id !== n.ledger.graph.genesisId).map(v => v.id).sort()
    t.deepEqual(whole.band.map(r => r.id), ordered)
    for (const r of whole.band) {
      const body = await n.ledger.getVertexBytes(r.id)
      t.is(toHex(genesis.validators[r.author ?? -1]?.publicKey ?? new Uint8Array()), toHex(vertexAuthor(body ?? new Uint8Array())), 'the band names each vertex\'s author')
    }
    t.is(decodeCut(encodeCut(whole)).slot, last)
    bytes.push(toHex(encodeCut(whole)))
    roots.push(cutTree(whole).root)
    // a slot before the previous cut's, or one that is no committed slot, is refused
    await t.throwsAsync(advanceCutToSlot(reader, half, middle), { message: /not after/ })
    await t.throwsAsync(advanceCutToSlot(reader, genesisCut(reader), last + 1000), { message: /no committed leader/ })
  }
  t.is(new Set(bytes).size, 1, 'the same cut, byte for byte, at every node')
  t.is(new Set(roots).size, 1)
  // the double spend's sender: one of its two spends in the cut, its nonce used once
  const sender = decodeCut(fromHex(bytes[0])).accounts.get(toHex(parseAddress(addressOf(users[0]))))
  t.is(sender?.nonce, 1n)
  for (const n of nodes) await close(n)
})

test('a transaction in a vertex not yet final is read with that vertex\'s signed time at every node (the market issuer\'s reading), and not once final', async t => {
  const { nodes, users, genesis } = await network()
  const transfers = new Set([TX_KIND_TRANSFER])
  const id = await nodes[0].ledger.submitTransaction(transfer(genesis, users[0], users[1], 500n, 0n))
  t.deepEqual(ledgerReader(nodes[0].ledger).undecidedOf(transfers), [], 'queued, in no vertex yet')
  const built = await step([nodes])
  const carrier = built.find(v => v.txs.some(x => x.idHex === id))
  if (carrier === undefined) return t.fail('a vertex carries the transfer')
  for (const n of nodes) {
    t.deepEqual(ledgerReader(n.ledger).undecidedOf(transfers).map(u => [u.tx.idHex, u.stampMs]), [[id, carrier.vertex.timestampMs]])
    t.deepEqual(ledgerReader(n.ledger).undecidedOf(new Set([TX_KIND_TRANSFER + 100])), [], 'only the kinds asked for')
  }
  t.true(await runUntil([nodes], async () => (await statuses(nodes, id)).every(s => s === 'final')) >= 0)
  for (const n of nodes) t.deepEqual(ledgerReader(n.ledger).undecidedOf(transfers), [])
  for (const n of nodes) await close(n)
})
