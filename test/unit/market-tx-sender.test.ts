/**
 * The provider's transaction sender (src/market/provider/tx-sender.ts) against an admission that behaves as a
 * validator's does (TxAdmission): each submission's signature check takes its own time and they finish in any order,
 * but one account's nonces are checked in the order they were submitted, against the account's next nonce.
 */
import test from 'ava'
import { generateKeyPair } from '../../src/core/crypto.ts'
import { DagError } from '../../src/dag/errors.ts'
import type { Transaction } from '../../src/dag/tx.ts'
import { TxSender } from '../../src/market/provider/tx-sender.ts'
import { buildBidCommit } from '../../src/market/index.ts'

const keys = generateKeyPair()
const signer = { chainId: 'harmony-test', keys, fee: 1000n }

/**
 * Admission in submission order; `refuseOnce`: the submission with that nonce is refused (not admitted) once, with
 * TX_REFUSED; `busy`: the first this many submissions are refused BUSY (retry after 60 ms), as admission control
 * refuses before the nonce is looked at.
 */
function inOrderLedger (opts: { refuseOnce?: bigint, busy?: number } = {}): { submit: (tx: Transaction) => Promise<string>, admitted: bigint[], inFlightMax: () => number, submitted: () => number } {
  let submitted = 0
  let busy = opts.busy ?? 0
  const admitted: bigint[] = []
  let tail: Promise<void> = Promise.resolve()
  let inFlight = 0
  let max = 0
  let refuse = opts.refuseOnce
  const submit = async (tx: Transaction): Promise<string> => {
    const previous = tail
    let done = (): void => {}
    tail = new Promise(resolve => { done = resolve })
    submitted++
    if (busy > 0) {
      busy--
      done()
      throw new DagError('BUSY', 'node is at capacity', { retryAfterMs: 60 })
    }
    inFlight++
    max = Math.max(max, inFlight)
    try {
      // the signature check: 0-4 ms, finishing in any order
      await new Promise(resolve => setTimeout(resolve, Math.floor(Math.random() * 5)))
      await previous
      if (refuse !== undefined && tx.nonce === refuse) { refuse = undefined; throw new DagError('TX_REFUSED', 'refused by a rule') }
      const next = BigInt(admitted.length)
      if (tx.nonce < next) throw new DagError('NONCE_TOO_LOW', 'too low', { expected: next.toString() })
      if (tx.nonce > next) throw new DagError('NONCE_GAP', 'gap', { expected: next.toString() })
      admitted.push(tx.nonce)
      return `0x${tx.nonce.toString(16)}`
    } finally {
      inFlight--
      done()
    }
  }
  return { submit, admitted, inFlightMax: () => max, submitted: () => submitted }
}

const commit = (by: Parameters<typeof buildBidCommit>[0]): Transaction => buildBidCommit(by, new Uint8Array(32), 5n, new Uint8Array(32))

test('pipelined: forty sends at once are all admitted, nonces 0..39 in call order, with admissions overlapping', async t => {
  const ledger = inOrderLedger()
  const sender = new TxSender({ submit: ledger.submit, finalNonce: async () => 0n, signer, pipelined: true })
  const ids = await Promise.all(Array.from({ length: 40 }, async () => await sender.send(commit)))
  t.deepEqual(ledger.admitted, Array.from({ length: 40 }, (_, i) => BigInt(i)))
  t.deepEqual(ids, ledger.admitted.map(n => `0x${n.toString(16)}`))
  t.true(ledger.inFlightMax() > 1, `at most ${ledger.inFlightMax()} in flight`)
})

test('not pipelined: one admission at a time, the same nonces', async t => {
  const ledger = inOrderLedger()
  const sender = new TxSender({ submit: ledger.submit, finalNonce: async () => 0n, signer })
  await Promise.all(Array.from({ length: 10 }, async () => await sender.send(commit)))
  t.deepEqual(ledger.admitted, Array.from({ length: 10 }, (_, i) => BigInt(i)))
  t.is(ledger.inFlightMax(), 1)
})

test('a refused send fails alone: the ones issued after it find a gap, retry once, and fill the nonces without a hole', async t => {
  const ledger = inOrderLedger({ refuseOnce: 3n })
  const sender = new TxSender({ submit: ledger.submit, finalNonce: async () => 0n, signer, pipelined: true })
  const results = await Promise.allSettled(Array.from({ length: 12 }, async () => await sender.send(commit)))
  t.is(results.filter(r => r.status === 'rejected').length, 1)
  t.is((results[3] as PromiseRejectedResult).reason.code, 'TX_REFUSED')
  // eleven admitted, contiguous from 0: the refused one's nonce was reused, and nothing moved the next nonce back twice
  t.deepEqual(ledger.admitted, Array.from({ length: 11 }, (_, i) => BigInt(i)))
  // and the sender goes on from there
  await sender.send(commit)
  t.is(ledger.admitted.at(-1), 11n)
})

test('BUSY is waited out: the refused sends go again after the node\'s retryAfterMs and every nonce is filled once; a node that stays busy fails the send after a bounded number of tries', async t => {
  const ledger = inOrderLedger({ busy: 5 })
  const sender = new TxSender({ submit: ledger.submit, finalNonce: async () => 0n, signer, pipelined: true })
  const ids = await Promise.all(Array.from({ length: 8 }, async () => await sender.send(commit)))
  t.is(new Set(ids).size, 8)
  t.deepEqual(ledger.admitted, Array.from({ length: 8 }, (_, i) => BigInt(i)))

  const stuck = inOrderLedger({ busy: Infinity })
  const err = await t.throwsAsync(new TxSender({ submit: stuck.submit, finalNonce: async () => 0n, signer }).send(commit))
  t.is((err as { code?: string }).code, 'BUSY')
  t.is(stuck.submitted(), 7, 'the first try and six more')
  t.deepEqual(stuck.admitted, [])
})

test('a local nonce behind the ledger (another signer used the account) is corrected from the final nonce', async t => {
  const ledger = inOrderLedger()
  for (let n = 0n; n < 5n; n++) ledger.admitted.push(n)
  let final = 5n
  const sender = new TxSender({ submit: async tx => { const id = await ledger.submit(tx); final = BigInt(ledger.admitted.length); return id }, finalNonce: async () => final, signer, pipelined: true })
  await Promise.all(Array.from({ length: 4 }, async () => await sender.send(commit)))
  t.deepEqual(ledger.admitted.slice(5), [5n, 6n, 7n, 8n])
})
