import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { DagError, DagService, generateKeyPair } from '../../src/dag/index.ts'
import { TX_KIND_TRANSFER, transferKind } from '../../src/dag/tx-kinds.ts'
import { openDatabase } from '../../src/core/storage.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { addressOf, createDagLibp2p, createTestNet, startDagNetworking, transfer, waitFor } from '../helpers/dag-net.ts'

test.serial('a node outside the validator set forwards transactions to a validator, and relays its refusals', async (t) => {
  const net = await createTestNet({ nodes: 2, accounts: 1 })
  const dir = await mkdtemp(join(tmpdir(), 'harmony-dag-observer-'))
  const libp2p = await createDagLibp2p()
  const db = await openDatabase(dir)
  const observerKey = generateKeyPair()
  const observer = new DagService({ libp2p, ...(await startDagNetworking(libp2p, observerKey, silentLogger())), db, identity: observerKey, genesis: net.genesis, logger: silentLogger(), registry: new Registry() }, { verifier: { workers: 1 } })
  t.teardown(async () => {
    await observer.stop()
    await libp2p.stop()
    await db.close()
    await rm(dir, { recursive: true, force: true })
    await net.close()
  })
  await observer.start()
  for (const n of net.nodes) await libp2p.dial(n.libp2p.getMultiaddrs()[0])
  await waitFor(() => observer.validatorPeers.size === 2, 'the observer to bind both validators')

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
})
