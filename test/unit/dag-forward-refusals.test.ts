// A forwarding node's answers to what validators say, over the real protocol on loopback: the validators here are
// TxForwarding servers whose ledger answers as the test tells it (a refusal a real validator sends when its queue is
// full), so each answer the forwarding node must handle can be had on demand.
import test from 'ava'
import type { PeerId } from '@libp2p/interface'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { parseAddress } from '../../src/core/address.ts'
import { DagError } from '../../src/dag/errors.ts'
import { TxForwarding } from '../../src/dag/net/forwarding.ts'
import type { ValidatorPeer } from '../../src/dag/net/validator-peers.ts'
import { buildTransfer, encodeTx, txInfo } from '../../src/dag/tx.ts'
import { addressOf, createDagLibp2p, waitFor } from '../helpers/dag-net.ts'

type Answer = 'accept' | 'full' | 'known'

/** A validator's side of forwarding, its ledger answering each submit from `answers` (the last one for ever; none: accepts). */
async function validator (answers: Answer[]): Promise<{ peerId: PeerId, submits: () => number, close: () => Promise<void>, libp2p: Awaited<ReturnType<typeof createDagLibp2p>> }> {
  const libp2p = await createDagLibp2p()
  let submits = 0
  const ledger = {
    submitTransaction: async (encoded: Uint8Array) => {
      submits++
      const answer = answers.length > 1 ? answers.shift() : answers[0]
      if (answer === 'full') throw new DagError('MEMPOOL_FULL', 'mempool is full (1 transactions); retry later')
      if (answer === 'known') throw new DagError('TX_KNOWN', 'transaction already known')
      return txInfo(encoded).idHex
    },
    getTx: async () => undefined,
    getAccount: async () => ({ balance: 0n, nonce: 0n }),
    on: () => {},
    off: () => {}
  }
  const server = new TxForwarding({ libp2p, ledger: ledger as never, peers: { list: () => [] }, logger: silentLogger() })
  await server.start()
  return { peerId: libp2p.peerId, submits: () => submits, libp2p, close: async () => { await server.stop(); await libp2p.stop() } }
}

function transferFrom (nonce = 0n): Uint8Array {
  const from = generateKeyPair()
  return encodeTx(buildTransfer({ chainId: 'harmony-test', publicKey: from.publicKey, secretKey: from.secretKey, to: parseAddress(addressOf(generateKeyPair())), amount: 1n, nonce, fee: 1000n }))
}

type Validator = Awaited<ReturnType<typeof validator>>

/** A forwarding node bound to `validators` (the array: a validator pushed later is bound from then on, once dialled). */
async function forwarder (validators: Validator[], resendAfterMs: number): Promise<{ fwd: TxForwarding, dial: (v: Validator) => Promise<void>, close: () => Promise<void> }> {
  const libp2p = await createDagLibp2p()
  const dial = async (v: Validator): Promise<void> => { await libp2p.dial(v.libp2p.getMultiaddrs()[0]) }
  for (const v of validators) await dial(v)
  const ledger = { submitTransaction: async () => { throw new Error('not a validator') }, getTx: async () => undefined, getAccount: async () => ({ balance: 0n, nonce: 0n }), on: () => {}, off: () => {} }
  const peers = { list: () => validators.map(v => ({ peerId: v.peerId }) as ValidatorPeer) }
  const fwd = new TxForwarding({ libp2p, ledger: ledger as never, peers, logger: silentLogger() }, { forwarded: { resendAfterMs } })
  await fwd.start()
  return { fwd, dial, close: async () => { await fwd.stop(); await libp2p.stop() } }
}

test('a validator whose queue is full is skipped for the next one; with none other, the refusal comes back with its code', async (t) => {
  const full = await validator(['full'])
  const open = await validator([])
  const { fwd, close } = await forwarder([full, open], 600_000)
  t.teardown(async () => { await close(); await full.close(); await open.close() })
  // each account's validators are asked in a random order: eight accounts meet the full one first about 255 times in 256
  for (let i = 0; i < 8; i++) t.regex(await fwd.forwardTransaction(transferFrom()), /^[0-9a-f]{64}$/)
  t.is(open.submits(), 8)

  const alone = await forwarder([full], 600_000)
  t.teardown(alone.close)
  const refused = await t.throwsAsync(alone.fwd.forwardTransaction(transferFrom()), { instanceOf: DagError })
  t.is(refused.code, 'MEMPOOL_FULL')
})

test('a held transaction sent again to a validator whose queue is full stays held, and is sent again at its next time', async (t) => {
  // accepted, then (lost by the validator, as after its restart) refused twice for a full queue, then accepted
  const v = await validator(['accept', 'full', 'full', 'accept'])
  const { fwd, close } = await forwarder([v], 50)
  t.teardown(async () => { await close(); await v.close() })
  await fwd.forwardTransaction(transferFrom())
  t.is(fwd.heldCount, 1)
  await waitFor(() => v.submits() >= 4, 'the held transaction to be sent again after each refusal', 30_000)
  t.is(v.submits(), 4, 'sent again after each refusal for a full queue')
  t.is(fwd.heldCount, 1, 'still held: no vertex here carries it')
})

test('a validator that says it knows a held transaction no vertex here carries is not the only one asked: the next validator takes it', async (t) => {
  // one that took it and then sits on it (it cannot build, or will not), answering TX_KNOWN to every resend
  const sits = await validator(['accept', 'known'])
  const other = await validator([])
  const bound = [sits]
  const { fwd, dial, close } = await forwarder(bound, 50)
  t.teardown(async () => { await close(); await sits.close(); await other.close() })
  await fwd.forwardTransaction(transferFrom())
  await dial(other)
  bound.push(other)
  await waitFor(() => other.submits() > 0, 'the other validator to be handed the transaction', 30_000)
  t.true(sits.submits() >= 2, 'the validator that took it was asked first')
  t.true(other.submits() >= 1, 'the other validator was handed it')
  t.is(fwd.heldCount, 1, 'still held until a vertex here carries it')
})
