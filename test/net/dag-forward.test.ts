import test, { type ExecutionContext } from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { DagError, DagService, generateKeyPair, type KeyPair } from '../../src/dag/index.ts'
import { TX_KIND_TRANSFER, transferKind } from '../../src/dag/tx-kinds.ts'
import { openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { PROTOCOLS } from '../../src/network/protocols.ts'
import { addressOf, createDagLibp2p, createTestNet, startDagNetworking, type TestNet, transfer, waitFor } from '../helpers/dag-net.ts'

test.serial('a node outside the validator set forwards transactions to a validator, and relays its refusals', async (t) => {
  const net = await createTestNet({ nodes: 2, accounts: 1 })
  t.teardown(async () => { await net.close() })
  // validators that speak only the stream-per-transaction protocol (1.0.0, an older node): the observer falls back to
  // it (the next tests forward over the 2.0.0 channel)
  for (const n of net.nodes) await n.libp2p.unhandle(PROTOCOLS.dagTxChannel)
  const observer = await startObserver(t, net)

  const [alice] = net.accounts
  const bob = generateKeyPair()
  const id = await observer.submitTransaction(transfer(net.genesis, alice, bob, 7n, 0n))
  t.regex(id, /^0x[0-9a-f]{64}$/)
  for (const dag of [observer, ...net.nodes.map(n => n.dag)]) {
    await waitFor(async () => (await dag.getTx(id))?.status === 'final', 'the forwarded transfer to be final')
    t.is(await dag.getBalance(addressOf(bob)), 7n)
  }

  // the same nonce again: the validator's refusal comes back with its code
  const refused = await t.throwsAsync(observer.submitTransaction(transfer(net.genesis, alice, bob, 8n, 0n)), { instanceOf: DagError })
  t.true(['NONCE_TOO_LOW', 'TX_CONFLICT', 'TX_KNOWN'].includes(refused.code), refused.code)
  t.regex(refused.message, /validator refused the transaction/)

  // a part's state check on the validators (the market's, for bids): its refusal comes back with its rule, the
  // nonce stays unused, and a check that throws admits
  for (const n of net.nodes) {
    n.dag.setStateCheck(TX_KIND_TRANSFER, async (tx) => {
      const { amount } = transferKind.decode(tx.tx.payload)
      if (amount === 9n) return { rule: 'AMOUNT_NINE', message: 'nine is refused here' }
      if (amount === 10n) throw new Error('state unreadable')
      return undefined
    })
  }
  const nine = await t.throwsAsync(observer.submitTransaction(transfer(net.genesis, alice, bob, 9n, 1n)), { instanceOf: DagError })
  t.is(nine.code, 'TX_REFUSED')
  t.is(nine.meta.rule, 'AMOUNT_NINE')
  t.regex(nine.message, /nine is refused here/)
  const ten = await observer.submitTransaction(transfer(net.genesis, alice, bob, 10n, 1n))
  await waitFor(async () => (await observer.getTx(ten))?.status === 'final', 'the transfer after the refused one to be final')
  t.is(await observer.getBalance(addressOf(bob)), 17n)
  for (const n of net.nodes) n.dag.setStateCheck(TX_KIND_TRANSFER, undefined)
  const eleven = await observer.submitTransaction(transfer(net.genesis, alice, bob, 9n, 2n))
  await waitFor(async () => (await observer.getTx(eleven))?.status === 'final', 'the same amount to be final once no check is installed')

  // an account's transactions sent at once, each before the last one's answer: over 1.0.0 each reaches a validator
  // only after the one before it was answered, so none meets a nonce gap
  await burst(t, net, observer, alice, bob, 3n, 26n)
})

test.serial('an account\'s transactions sent at once through a forwarding node reach the validators in nonce order over the channel', async (t) => {
  const net = await createTestNet({ nodes: 4, accounts: 1 })
  t.teardown(async () => { await net.close() })
  const observer = await startObserver(t, net)
  const [alice] = net.accounts
  // the first ones find no channel open yet: they wait for the one being opened, in order
  await burst(t, net, observer, alice, generateKeyPair(), 0n, 40n)
})

test.serial('a forwarding node sends again what a validator lost before its next vertex (after its own restart too), and fills the nonce gap the loss leaves', async (t) => {
  // four validators under the commit rule: one alone cannot finish a round, so what it admits waits in its mempool
  const net = await createTestNet({ nodes: 4, accounts: 4 })
  interface Observer { dag: DagService, libp2p: Awaited<ReturnType<typeof createDagLibp2p>>, registry: Registry, db: Awaited<ReturnType<typeof openDatabase>> }
  const running = new Set<Observer>()
  t.teardown(async () => {
    for (const o of running) { await o.dag.stop(); await o.libp2p.stop() }
    await net.close()
  })
  const observe = async (resendAfterMs: number, db?: Observer['db']): Promise<Observer> => {
    if (db === undefined) {
      const dir = await mkdtemp(join(tmpdir(), 'harmony-dag-observer-'))
      const opened = await openDatabase(dir)
      t.teardown(async () => { await opened.close(); await rm(dir, { recursive: true, force: true }) })
      db = opened
    }
    const libp2p = await createDagLibp2p()
    const key = generateKeyPair()
    const registry = new Registry()
    const dag = new DagService({ libp2p, ...(await startDagNetworking(libp2p, key, silentLogger())), db, identity: key, genesis: net.genesis, logger: silentLogger(), registry }, { verifier: { workers: 1 }, forwarded: { resendAfterMs } })
    await dag.start()
    const o = { dag, libp2p, registry, db }
    running.add(o)
    await dial(o)
    return o
  }
  const dial = async (o: Observer): Promise<void> => {
    for (const n of net.nodes) await o.libp2p.dial(n.libp2p.getMultiaddrs()[0])
    await waitFor(() => o.dag.validatorPeers.size === 4, 'an observer to bind the four validators')
  }
  // `resends` sends again after 300 ms; `gaps` would wait ten minutes, so only the gap filling can bring its loss
  // back; `restarts` stops while holding its loss, and its next start sends it again
  const resends = await observe(300)
  const gaps = await observe(600_000)
  let restarts = await observe(300)
  const [alice, bob, carol, erin] = net.accounts
  const dave = generateKeyPair()
  // a first transfer of each account, final everywhere: the accounts' next nonce is 1
  for (const [o, from] of [[resends, alice], [gaps, bob], [restarts, erin]] as const) {
    const id = await o.dag.submitTransaction(transfer(net.genesis, from, dave, 1n, 0n))
    await waitFor(async () => (await o.dag.getTx(id))?.status === 'final', 'a first forwarded transfer to be final')
  }

  // validator 0 alone: once it has built the one round it can build, nothing it admits reaches a vertex. Whether
  // that round is still to build when the others stop depends on who built last before the network went quiet: a
  // filler transfer makes validator 0 build it if it can (the filler then in its vertex), or waits in its mempool if
  // it built it already. Sent through a forwarding node, which holds it until a vertex carries it, so in either case
  // it is final in the end (lost with validator 0's mempool, it is sent again, as the lost transfers below are).
  for (const i of [1, 2, 3]) await net.stop(i)
  const v0 = net.nodes[0]
  await waitFor(() => [resends, gaps, restarts].every(o => o.dag.validatorPeers.size === 1), 'the observers to see only validator 0')
  const filler = await resends.dag.submitTransaction(transfer(net.genesis, carol, dave, 1n, 0n))
  await waitFor(async () => (await v0.dag.getTx(filler)) !== undefined && v0.dag.ledger.roundView()?.built === true, 'validator 0 to build the round it can build alone')
  const lostA = await resends.dag.submitTransaction(transfer(net.genesis, alice, dave, 2n, 1n))
  const lostB = await gaps.dag.submitTransaction(transfer(net.genesis, bob, dave, 3n, 1n))
  const lostE = await restarts.dag.submitTransaction(transfer(net.genesis, erin, dave, 5n, 1n))
  for (const id of [lostA, lostB, lostE]) {
    const held = await v0.dag.getTx(id)
    t.is(held?.status, 'pending')
    t.is(held?.vertexId, undefined, 'admitted to validator 0\'s mempool, in no vertex')
  }
  t.true(v0.dag.ledger.roundView()?.built)

  // validator 0 stops: its mempool goes with it, and so does the memory of the observer that restarts. The network
  // comes back without the three transfers.
  running.delete(restarts)
  await restarts.dag.stop()
  await restarts.libp2p.stop()
  await net.stop(0)
  for (const i of [0, 1, 2, 3]) await net.start(i)
  await net.connectAll()
  for (const o of running) await dial(o)
  restarts = await observe(300, restarts.db)

  // the forwarding node whose resend time comes sends the same bytes again; so does the restarted one, from its store
  await waitFor(async () => (await resends.dag.getTx(lostA))?.status === 'final', 'the lost transfer to be final after its resend')
  t.true((await metric(resends.registry, 'harmony_dag_forward_resends_total', { answer: 'accepted' })) >= 1)
  await waitFor(async () => (await restarts.dag.getTx(lostE))?.status === 'final', 'the transfer lost across the observer\'s restart to be final')
  t.true((await metric(restarts.registry, 'harmony_dag_forward_resends_total', { answer: 'accepted' })) >= 1)

  // another transfer of the held one's nonce is refused by the forwarding node itself, naming the next free nonce
  const twin = await t.throwsAsync(gaps.dag.submitTransaction(transfer(net.genesis, bob, dave, 7n, 1n)), { instanceOf: DagError })
  t.is(twin.code, 'TX_CONFLICT')
  t.is(twin.meta.expected, '2')
  // the other one's next transfer meets a nonce gap at whichever validator it reaches: the held transfer fills it
  const next = await gaps.dag.submitTransaction(transfer(net.genesis, bob, dave, 4n, 2n))
  for (const id of [lostB, next]) await waitFor(async () => (await gaps.dag.getTx(id))?.status === 'final', 'the lost transfer and the next one to be final')
  t.is(await metric(gaps.registry, 'harmony_dag_forward_gaps_filled_total'), 1)
  t.is(await metric(gaps.registry, 'harmony_dag_forward_resends_total'), 0, 'the gap was filled without the resend timer')
  // each paid once: the first three (1 + 1 + 1), the filler (1), the three lost (2 + 3 + 5) and the next (4)
  for (const dag of [resends.dag, gaps.dag, restarts.dag, ...net.nodes.map(n => n.dag)]) await waitFor(async () => await dag.getBalance(addressOf(dave)) === 18n, 'a node to apply all eight transfers')
  for (const o of [resends, gaps, restarts]) t.is(o.dag.forwardedHeld, 0)
})

/** A node outside the validator set (LevelDB in a temporary directory), bound to every validator. */
async function startObserver (t: ExecutionContext, net: TestNet): Promise<DagService> {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-dag-observer-'))
  const libp2p = await createDagLibp2p()
  const db = await openDatabase(dir)
  const key = generateKeyPair()
  const observer = new DagService({ libp2p, ...(await startDagNetworking(libp2p, key, silentLogger())), db, identity: key, genesis: net.genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 } })
  t.teardown(async () => {
    await observer.stop()
    await libp2p.stop()
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })
  await observer.start()
  for (const n of net.nodes) await libp2p.dial(n.libp2p.getMultiaddrs()[0])
  await waitFor(() => observer.validatorPeers.size === net.nodes.length, 'the observer to bind every validator')
  return observer
}

/**
 * Transfers of nonces [from, to) of one account, each 1, all submitted through the observer at once (none waits for
 * another's answer): every one is admitted (none meets a nonce gap at a validator that has not seen the one before it)
 * and every node applies them all.
 */
async function burst (t: ExecutionContext, net: TestNet, observer: DagService, from: KeyPair, to: KeyPair, first: bigint, end: bigint): Promise<void> {
  const before = await observer.getBalance(addressOf(to))
  const txs = []
  for (let nonce = first; nonce < end; nonce++) txs.push(transfer(net.genesis, from, to, 1n, nonce))
  const answers = await Promise.allSettled(txs.map(async tx => await observer.submitTransaction(tx)))
  const refused = answers.flatMap(a => a.status === 'rejected' ? [(a.reason as { code?: string }).code ?? String(a.reason)] : [])
  t.deepEqual(refused, [], 'every transfer of the burst admitted')
  const count = BigInt(txs.length)
  for (const dag of [observer, ...net.nodes.map(n => n.dag)]) await waitFor(async () => await dag.getBalance(addressOf(to)) === before + count, 'a node to apply every transfer of the burst')
  t.is(observer.forwardedHeld, 0)
}

async function metric (registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find(x => x.name === name)
  return (m?.values ?? []).filter(v => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((a, v) => a + v.value, 0)
}
