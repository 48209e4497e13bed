/**
 * The coordinator over a real MarketState (LevelDB, queue records as the ledger writes them, ML-DSA-signed
 * transactions) with a recording DAG side: a winner that lost its whole bond to other tasks' slashes and never
 * answered is still slashed (for 0), every validator's check finds that slash valid, and the task goes on to its
 * replacement round instead of waiting forever on a slash that could not be issued.
 */
import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { addressBytesFromPublicKey } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, sha256 } from '../../src/core/crypto.ts'
import { silentLogger } from '../../src/core/logger.ts'
import { openDatabase, sublevel } from '../../src/core/storage.ts'
import type { ExternalVerdict } from '../../src/dag/external-validity.ts'
import type { LedgerReader } from '../../src/dag/reader.ts'
import { encodeTx, type Transaction, txInfo, type TxInfo } from '../../src/dag/tx.ts'
import {
  bondAccount, bondSlashKind, buildBidCommit, buildBidReveal, buildBondSlash, buildProviderRegister, buildTaskAnnounce, escrowAccount, MarketCoordinator,
  MarketState, marketRules, registerMarketKinds, taskAwardKind, TX_KIND_BOND_SLASH, TX_KIND_TASK_AWARD
} from '../../src/market/index.ts'
import { marketFinalRecords } from '../../src/market/kinds/queue.ts'
import { cpuProvider, matmulAnnounce } from '../helpers/market.ts'

registerMarketKinds()
const CHAIN = 'harmony-market-coordinator'
const { MIN_BOND, slashAmount } = marketRules

test('a late winner with no bond left is slashed 0, the slash checks valid, and its replacement is awarded', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-market-coordinator-'))
  const db = await openDatabase(join(dir, 'db'))
  const validator = generateKeyPair()
  const [requester, liar, honest] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
  const addr = (k: { publicKey: Uint8Array }): Uint8Array => addressBytesFromPublicKey(k.publicKey)
  // the ledger's side as the coordinator sees it: each account's next nonce (the decisions below are all final)
  const nonces = new Map<string, bigint>()
  const next = (a: Uint8Array): bigint => nonces.get(toHex(a)) ?? 0n
  let seq = 0n
  const market = sublevel(db, 'market')
  const dag = Object.assign(new EventEmitter(), {
    reader: {
      chainId: CHAIN,
      isValidator: true,
      validatorKeys: () => [validator.publicKey],
      account: async (a: Uint8Array) => ({ nonce: next(a), balance: 0n })
    } as unknown as LedgerReader
  })
  const state = new MarketState({ db, dag, logger: silentLogger() })
  /** Makes `tx` final at market time `timeMs`: the queue record the ledger writes in the decision's batch. */
  const final = async (tx: Transaction, timeMs: number): Promise<void> => {
    const info = txInfo(encodeTx(tx))
    nonces.set(info.accountHex, tx.nonce + 1n)
    seq++
    for (const r of marketFinalRecords({ idHex: info.idHex, vertexIdHex: toHex(sha256(info.id)), vertexTimeMs: BigInt(timeMs), seq, position: 0, encoded: encodeTx(tx) })) await market.put(r.key, r.value)
    await state.drain()
  }
  const submitted: Transaction[] = []
  const checkers = new Map<number, (tx: TxInfo) => Promise<ExternalVerdict>>()
  const coordinator = new MarketCoordinator({
    dag: {
      reader: dag.reader,
      submitTransaction: async (tx) => { submitted.push(tx); return txInfo(encodeTx(tx)).idHex },
      setExternalChecker: (kind, fn) => { if (fn === undefined) checkers.delete(kind); else checkers.set(kind, fn) }
    },
    state,
    identity: validator,
    logger: silentLogger()
  }, { tickMs: 60_000, proposeDelayMs: 0 })
  await state.start()
  await coordinator.start()
  try {
    const by = (k: typeof requester): { chainId: string, keys: typeof requester, nonce: bigint, fee: bigint } => ({ chainId: CHAIN, keys: k, nonce: next(addr(k)), fee: 1000n })
    // the whole history lies a minute in the past, so every window and deadline has passed on the coordinator's clock
    const t0 = Date.now() - 60_000
    await final(buildProviderRegister(by(liar), cpuProvider(MIN_BOND)), t0)
    await final(buildProviderRegister(by(honest), cpuProvider(MIN_BOND)), t0)
    const { tx: announce, taskId } = buildTaskAnnounce(by(requester), matmulAnnounce({ bidWindowMs: 2000, revealWindowMs: 2000, executionDeadlineMs: 10_000 }))
    await final(announce, t0 + 1)
    // its bid window is long: it needs no decision during this test
    const { tx: other, taskId: otherTaskId } = buildTaskAnnounce(by(requester), matmulAnnounce({ bidWindowMs: 600_000 }))
    await final(other, t0 + 1)
    const salt = new Uint8Array(32).fill(5)
    await final(buildBidCommit(by(liar), taskId, 100n, salt), t0 + 10)
    await final(buildBidCommit(by(honest), taskId, 200n, salt), t0 + 10)
    await final(buildBidReveal(by(liar), { taskId, price: 100n, salt }), t0 + 2010)
    await final(buildBidReveal(by(honest), { taskId, price: 200n, salt }), t0 + 2010)

    // the first award, as the coordinator issues it: the liar is cheapest and wins
    await coordinator.tick()
    t.is(submitted.length, 1)
    const award = submitted.shift()
    t.is(award?.kind, TX_KIND_TASK_AWARD)
    t.deepEqual(taskAwardKind.decode((award as Transaction).payload).winners.map(w => toHex(w)), [toHex(addr(liar))])
    t.is(await checkers.get(TX_KIND_TASK_AWARD)?.(txInfo(encodeTx(award as Transaction))), 'valid')
    await final(award as Transaction, t0 + 4500)

    // other tasks' slashes take the liar's whole bond (halves, then the last unit) before its deadline passes
    const bond = bondAccount(addr(liar))
    for (let amount = slashAmount(MIN_BOND, 'fault'); amount > 0n; amount = slashAmount((await state.providerRecord(toHex(addr(liar))))?.bond ?? 0n, 'fault')) {
      await final(buildBondSlash(CHAIN, validator, next(bond), { provider: addr(liar), taskId: otherTaskId, reason: 'fault', amount, beneficiary: addr(requester) }), t0 + 5000)
    }
    const drained = await state.providerRecord(toHex(addr(liar)))
    t.is(drained?.bond, 0n)
    const lates = drained?.lates ?? 0

    // its deadline passed with no result: the late slash is issued for what is left (nothing)
    await coordinator.tick()
    t.is(submitted.length, 1)
    const slash = submitted.shift()
    t.is(slash?.kind, TX_KIND_BOND_SLASH, 'a late slash of an empty bond is issued')
    const p = bondSlashKind.decode((slash as Transaction).payload)
    t.is(p.reason, 'late')
    t.is(p.amount, 0n)
    t.deepEqual(bondSlashKind.effects(p, { account: bond, nonce: (slash as Transaction).nonce }), { debit: 0n, credits: [] })
    t.is(await checkers.get(TX_KIND_BOND_SLASH)?.(txInfo(encodeTx(slash as Transaction))), 'valid', 'every validator recomputes the same 0')
    await final(slash as Transaction, t0 + 20_000)
    t.is((await state.providerRecord(toHex(addr(liar))))?.lates, lates + 1, 'the lateness counts in reputation whatever the bond')

    // the task goes on: the honest bidder gets the replacement round
    await coordinator.tick()
    t.is(submitted.length, 1)
    const replacement = submitted.shift()
    t.is(replacement?.kind, TX_KIND_TASK_AWARD)
    const r = taskAwardKind.decode((replacement as Transaction).payload)
    t.is(r.round, 1)
    t.deepEqual(r.winners.map(w => toHex(w)), [toHex(addr(honest))])
    t.is(replacement?.nonce, next(escrowAccount(taskId)))
    t.is(await checkers.get(TX_KIND_TASK_AWARD)?.(txInfo(encodeTx(replacement as Transaction))), 'valid')
  } finally {
    await coordinator.stop()
    await state.stop()
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
})
