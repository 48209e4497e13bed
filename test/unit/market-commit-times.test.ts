import test from 'ava'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair } from '../../src/core/crypto.ts'
import { encodeTx, txInfo, type TxInfo } from '../../src/dag/tx.ts'
import { buildVertexInfo } from '../../src/dag/vertex.ts'
import { registerMarketKinds } from '../../src/market/index.ts'
import { buildBidCommit } from '../../src/market/kinds/builders.ts'
import { CommitTimes } from '../../src/market/provider/commit-times.ts'

// What a provider learns from the vertices carrying its own bid commits: which commits the market will refuse as
// late, and how long commits take lately from submit to their vertex's stamp (the margin a new one needs).

registerMarketKinds()
const CHAIN = 'harmony-devnet'
const me = generateKeyPair(new Uint8Array(32).fill(21))
const other = generateKeyPair(new Uint8Array(32).fill(22))

const commit = (keys: KeyPair, nonce: bigint): TxInfo => txInfo(encodeTx(buildBidCommit({ chainId: CHAIN, keys, nonce, fee: 1000n }, new Uint8Array(32).fill(Number(nonce) + 1), 10n, new Uint8Array(32).fill(9))))
const vertex = (txs: TxInfo[], timestampMs: number): ReturnType<typeof buildVertexInfo> => buildVertexInfo(CHAIN, { author: other.publicKey, secretKey: other.secretKey, parents: [new Uint8Array(32).fill(5)], txs, timestampMs: BigInt(timestampMs) })

test('a commit seen in a vertex stamped after the window is late; one stamped at it, or not seen, is not; others\' commits are not tracked', t => {
  const times = new CommitTimes(toHex(addressBytesFromPublicKey(me.publicKey)))
  const [mine, unseen, theirs] = [commit(me, 0n), commit(me, 1n), commit(other, 0n)]
  times.observe(vertex([mine, theirs], 1000))
  t.true(times.late(`0x${mine.idHex}`, 999))
  t.false(times.late(mine.idHex, 1000))
  t.false(times.late(unseen.idHex, 0))
  t.false(times.late(theirs.idHex, 0))
})

test('the margin is the recent submit-to-vertex delays\' 90th percentile plus slack, never under the floor, and falls back once they age out', t => {
  const times = new CommitTimes(toHex(addressBytesFromPublicKey(me.publicKey)))
  const now = Date.now()
  t.is(times.margin(150, now), 150)
  // ten commits: vertex seen after the submit for some, before it was noted for others; delays 100, 200 … 1000 ms
  for (let i = 0; i < 10; i++) {
    const c = commit(me, BigInt(i))
    const delay = (i + 1) * 100
    if (i % 2 === 0) {
      times.sent(`0x${c.idHex}`, now)
      times.observe(vertex([c], now + delay))
    } else {
      times.observe(vertex([c], now + delay))
      times.sent(`0x${c.idHex}`, now)
    }
  }
  t.is(times.margin(150, now), 900 + 50)
  t.is(times.margin(2000, now), 2000)
  t.is(times.margin(150, now + 31_000), 150)
})
