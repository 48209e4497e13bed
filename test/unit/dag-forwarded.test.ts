import { generateKeyPair as generatePeerKey } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { ForwardedTxs, readStoredHeld, storedHeld } from '../../src/dag/net/forwarded.ts'
import { buildTransfer, encodeTx, type TxInfo, txInfo } from '../../src/dag/tx.ts'

const alice = generateKeyPair()
const bob = generateKeyPair()

function transfer (from: KeyPair, nonce: bigint, amount = 1n): TxInfo {
  return txInfo(encodeTx(buildTransfer({ chainId: 'harmony-test', publicKey: from.publicKey, secretKey: from.secretKey, to: parseAddress(addressFromPublicKey(bob.publicKey)), amount, nonce, fee: 1000n })))
}

test('held transactions come due in account and nonce order, and each waits twice as long after every attempt until its attempts are spent', async (t) => {
  const peer = peerIdFromPrivateKey(await generatePeerKey('Ed25519'))
  const other = peerIdFromPrivateKey(await generatePeerKey('Ed25519'))
  const held = new ForwardedTxs({ resendAfterMs: 100, maxResendIntervalMs: 300, maxResends: 3 })
  const [a2, a0, a1, b0] = [transfer(alice, 2n), transfer(alice, 0n), transfer(alice, 1n), transfer(bob, 0n)]
  for (const info of [a2, a0, a1, b0]) held.add(info, peer, 0)
  t.deepEqual(held.due(99), [])
  const due = held.due(100).map(h => h.info)
  t.deepEqual(due.filter(i => i.accountHex === a0.accountHex), [a0, a1, a2])
  t.is(due.length, 4)

  // the account's latest holder is asked first; the range fills a gap only when every nonce of it is held
  t.true(held.peerOf(a0.accountHex)?.equals(peer))
  t.is(held.at(a0.accountHex, 1n)?.info, a1)
  t.is(held.nextNonce(a0.accountHex), 3n)
  t.is(held.nextNonce('00'.repeat(20)), undefined)
  t.deepEqual(held.range(a0.accountHex, 0n, 2n)?.map(h => h.info), [a0, a1])
  held.drop(a1.idHex)
  t.is(held.range(a0.accountHex, 0n, 2n), undefined)
  t.is(held.size, 3)

  const h = held.due(100).find(x => x.info === a0)
  if (h === undefined) return t.fail()
  t.true(held.attempted(h, 100, other))
  t.true(h.peer?.equals(other))
  t.is(h.dueMs, 300, 'twice the first wait')
  t.true(held.attempted(h, 300))
  t.is(h.dueMs, 600, 'capped at the longest interval')
  t.false(held.attempted(h, 600), 'the third attempt was the last')
  t.false(held.has(a0.idHex))
})

test('a transaction signed again for the same nonce replaces the held one, and the oldest goes at the bound', async (t) => {
  const peer = peerIdFromPrivateKey(await generatePeerKey('Ed25519'))
  const held = new ForwardedTxs({ maxHeld: 2 })
  const first = transfer(alice, 0n, 1n)
  const again = transfer(alice, 0n, 2n)
  held.add(first, peer, 0)
  t.is(held.add(again, peer, 0), undefined)
  t.false(held.has(first.idHex))
  t.deepEqual(held.range(first.accountHex, 0n, 1n)?.map(h => h.info), [again])
  const b0 = transfer(bob, 0n)
  held.add(b0, peer, 0)
  const evicted = held.add(transfer(bob, 1n), peer, 0)
  t.is(evicted?.info, again)
  t.is(held.size, 2)
  t.is(held.range(first.accountHex, 0n, 1n), undefined)
})

test('a held transaction is stored with the validator that took it and read back with it; the encoding alone (s40) still reads; a cut or bad one throws', async (t) => {
  const peer = peerIdFromPrivateKey(await generatePeerKey('Ed25519'))
  const info = transfer(alice, 4n)
  const back = readStoredHeld(storedHeld(info.encoded, peer))
  t.deepEqual(back.encoded, info.encoded)
  t.true(back.peer?.equals(peer))
  t.is(txInfo(back.encoded).idHex, info.idHex)
  const none = readStoredHeld(storedHeld(info.encoded, undefined))
  t.deepEqual(none.encoded, info.encoded)
  t.is(none.peer, undefined)
  const legacy = readStoredHeld(info.encoded)
  t.is(legacy.encoded, info.encoded)
  t.is(legacy.peer, undefined)
  t.throws(() => readStoredHeld(new Uint8Array([0xff, 40, 1, 2])), { message: /cut short/ })
  t.throws(() => readStoredHeld(new Uint8Array([0xff, 3, 0x30, 0x30, 0x30, ...info.encoded])))
})
