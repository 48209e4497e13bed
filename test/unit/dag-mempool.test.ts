import test from 'ava'
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { Mempool } from '../../src/dag/mempool.ts'
import { roomForPartial } from '../../src/dag/net/proposer.ts'
import { buildTransfer, encodeTx, type TxInfo, txInfo } from '../../src/dag/tx.ts'

const from = generateKeyPair()
const to = parseAddress(addressFromPublicKey(generateKeyPair().publicKey))
const txs: TxInfo[] = [0n, 1n, 2n].map(nonce => txInfo(encodeTx(buildTransfer({ chainId: 'harmony-test', publicKey: from.publicKey, secretKey: from.secretKey, to, amount: 1n, nonce, fee: 1000n }))))

test('the proposer\'s batching rule: a full batch or room for a partial vertex builds at once, else the oldest transaction\'s wait decides', t => {
  const added: string[] = []
  const waits: number[] = []
  const pool = new Mempool(10, { onAdded: info => { added.push(info.idHex) }, onTaken: ms => { waits.push(ms) } })
  t.false(pool.readyToBuild(2, true, 200), 'nothing queued: nothing to build')
  pool.add(txs[0])
  t.deepEqual(added, [txs[0].idHex], 'an admitted transaction wakes the proposer')
  t.true(pool.readyToBuild(2, true, 200), 'room for a partial vertex')
  t.false(pool.readyToBuild(2, false, 200), 'no room, and the oldest has not waited long enough')
  t.true(pool.readyToBuild(2, false, 0), 'no room, but the oldest has waited the longest a transaction waits')
  pool.add(txs[1])
  t.true(pool.readyToBuild(2, false, 200), 'a full batch builds at once')
  pool.take(txs[0].idHex)
  pool.remove(txs[1].idHex)
  t.is(waits.length, 1, 'only a transaction taken into a vertex reports its wait')
  t.true(waits[0] >= 0)
  t.is(pool.size, 0)
  t.false(pool.readyToBuild(2, true, 0))
})

test('a partial vertex goes out at once while no own vertex is undecided, or fewer than the limit are and the oldest is younger than the interval', t => {
  t.true(roomForPartial({ count: 0, oldestMs: undefined }, 2, 200, 10_000), 'none undecided')
  t.true(roomForPartial({ count: 1, oldestMs: 9_900 }, 2, 200, 10_000), 'one undecided for 100 ms: the ledger keeps up')
  t.false(roomForPartial({ count: 1, oldestMs: 9_800 }, 2, 200, 10_000), 'one undecided for the whole interval: the ledger is slow now, gather')
  t.false(roomForPartial({ count: 2, oldestMs: 9_990 }, 2, 200, 10_000), 'the limit reached')
  t.true(roomForPartial({ count: 1, oldestMs: 9_990 }, 3, 200, 10_000))
  t.false(roomForPartial({ count: 1, oldestMs: 9_990 }, 1, 200, 10_000), 'a limit of one is Nagle\'s rule')
})

test('an account\'s queued transactions sum to their count, debits (amount + fee) and the nonce after the highest', t => {
  const pool = new Mempool(10)
  t.deepEqual(pool.pendingOf(txs[0].accountHex), { count: 0, debit: 0n, next: undefined })
  pool.add(txs[1])
  pool.add(txs[0])
  t.deepEqual(pool.pendingOf(txs[0].accountHex), { count: 2, debit: 2n * 1001n, next: 2n })
  pool.add(txs[2])
  t.deepEqual(pool.pendingOf(txs[0].accountHex), { count: 3, debit: 3n * 1001n, next: 3n })
  // the highest leaves: the next nonce falls back to the one after the highest left
  pool.remove(txs[2].idHex)
  pool.remove(txs[1].idHex)
  t.deepEqual(pool.pendingOf(txs[0].accountHex), { count: 1, debit: 1001n, next: 1n })
  t.is(pool.highestNonce(txs[0].accountHex), 0n)
  pool.take(txs[0].idHex)
  t.deepEqual(pool.pendingOf(txs[0].accountHex), { count: 0, debit: 0n, next: undefined })
  t.deepEqual(pool.accounts(), [])
})
