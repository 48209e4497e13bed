/**
 * The bridge's part of a state cut (src/bridge/withdrawal-cut.ts): the withdraws final in the cut's past that no
 * close in it settled (a close settles what it lists and has in its own past), the same however the fold is split
 * or ordered; a node started from it finds each withdraw's transaction in its unsettled record.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { registerBridge } from '../../src/bridge/index.ts'
import { buildEpochClose, buildWithdraw } from '../../src/bridge/kinds/index.ts'
import { storedWithdrawal, withdrawalCutPart, type WithdrawalCut } from '../../src/bridge/withdrawal-cut.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, sha256 } from '../../src/core/crypto.ts'
import { openDatabase } from '../../src/core/storage.ts'
import type { CutAncestry, CutTx } from '../../src/dag/cut-parts.ts'
import { encodeTx, txInfo } from '../../src/dag/tx.ts'

registerBridge()
const CHAIN = 'harmony-withdrawal-cut'
const user = generateKeyPair()
const validator = generateKeyPair()
const id = (name: string): string => toHex(sha256(new TextEncoder().encode(name)))
const withdraw = (nonce: bigint): ReturnType<typeof txInfo> => txInfo(encodeTx(buildWithdraw({ chainId: CHAIN, publicKey: user.publicKey, secretKey: user.secretKey, evmAddress: new Uint8Array(20).fill(1), amount: 10n, nonce, fee: 1n })))
const close = (epoch: bigint, ...listed: Array<ReturnType<typeof txInfo>>): ReturnType<typeof txInfo> => txInfo(encodeTx(buildEpochClose(CHAIN, validator, epoch, listed.map((w) => w.id), 0n)))

/**
 * v1 (w1) ── c1 (close 1: w1, w2) ── c2 (close 2: w2, w3)
 * v2 (w2) ────────────────────────┘
 * v3 (w3), concurrent with c2
 * w2 is not in c1's past: close 1 settles only w1, close 2 settles w2; w3 is in no close's past.
 */
const past: Record<string, string[]> = { v1: ['v1'], v2: ['v2'], v3: ['v3'], c1: ['c1', 'v1'], c2: ['c2', 'c1', 'v1', 'v2'] }
const ancestry: CutAncestry = { validatorKeys: () => [], isAncestor: (a, of) => (past[Object.keys(past).find((k) => id(k) === of) ?? ''] ?? []).some((k) => id(k) === a) }
const [w1, w2, w3] = [withdraw(0n), withdraw(1n), withdraw(2n)]
const at = (vertex: string, tx: ReturnType<typeof txInfo>): CutTx => ({ tx, vertexId: id(vertex), vertexTimeMs: 0n })
const history: CutTx[] = [at('v1', w1), at('v2', w2), at('v3', w3), at('c1', close(1n, w1, w2)), at('c2', close(2n, w2, w3))]
const fold = async (prev: WithdrawalCut, txs: readonly CutTx[]): Promise<WithdrawalCut> => await withdrawalCutPart.advance(prev, txs, ancestry)

test('a close settles the withdraws it lists and has in its past; the rest stay, the same for any split and any order of the fold', async (t) => {
  const whole = await fold(withdrawalCutPart.empty(), history)
  t.deepEqual([...whole.keys()], [w3.idHex])
  const afterClose1 = await fold(withdrawalCutPart.empty(), history.slice(0, 4))
  t.deepEqual([...afterClose1.keys()].sort(), [w2.idHex, w3.idHex].sort())
  const bytes = withdrawalCutPart.encode(whole)
  for (let k = 0; k <= history.length; k++) {
    const first = withdrawalCutPart.decode(withdrawalCutPart.encode(await fold(withdrawalCutPart.empty(), history.slice(0, k))))
    t.deepEqual(withdrawalCutPart.encode(await fold(first, history.slice(k))), bytes, `split at ${k}`)
  }
  // another order that keeps parents first (v3 last)
  const other = [history[0], history[1], history[3], history[4], history[2]]
  t.deepEqual(withdrawalCutPart.encode(await fold(withdrawalCutPart.empty(), other)), bytes)
  t.deepEqual([...(withdrawalCutPart.baseVertices?.(whole) ?? [])], [id('v3')])
})

test('a node started from the cut reads each unsettled withdraw from its record; the bridge\'s own records and anything else are not read as one; a cut naming a transaction that is not its withdraw is refused', async (t) => {
  const state = await fold(withdrawalCutPart.empty(), history.slice(0, 4))
  const dir = await mkdtemp(join(tmpdir(), 'harmony-withdrawal-cut-'))
  const db = await openDatabase(dir)
  t.teardown(async () => { await db.close(); await rm(dir, { recursive: true, force: true }) })
  const writes = withdrawalCutPart.installWrites(state, db)
  t.is(writes.length, 2)
  for (const w of writes) {
    const stored = storedWithdrawal(w.value)
    const txId = new TextDecoder().decode(w.key).split('/').at(-1)
    t.is(stored?.tx.idHex, txId)
    t.is(stored?.vertexId, state.get(txId ?? '')?.vertexId)
  }
  t.is(storedWithdrawal(new TextEncoder().encode('1')), undefined)
  t.is(storedWithdrawal(new Uint8Array([0x57, ...new Uint8Array(40)])), undefined)
  // an entry whose bytes are another transaction (or another kind)
  const c = close(1n, w1)
  const lie = new Map(state)
  lie.set(w2.idHex, { vertexId: id('v2'), encoded: c.encoded })
  t.throws(() => withdrawalCutPart.decode(withdrawalCutPart.encode(lie)), { message: /not its withdraw/ })
})
