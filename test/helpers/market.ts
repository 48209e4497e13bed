// Fixtures of the market's tests (m1): announces and provider registrations live in bench/lib (a bench imports no
// test helper); the tests use them from here.
export { cpuProvider, cutTxAt, historySigner, matmulAnnounce, queueRecordsOf } from '../../bench/lib/market-payloads.ts'

import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { queueRecordsOf } from '../../bench/lib/market-payloads.ts'
import { addressBytesFromPublicKey, formatAddress } from '../../src/core/address.ts'
import { type BinaryDb, openDatabase, sublevel } from '../../src/core/storage.ts'
import type { CutTx } from '../../src/dag/cut-parts.ts'
import { type MarketSnapshot, snapshotWrites } from '../../src/market/state/snapshot.ts'
import { silentLogger } from '../../src/core/logger.ts'
import type { KeyPair } from '../../src/core/crypto.ts'
import { encodeTx, type Transaction } from '../../src/dag/tx.ts'
import { MarketService, type MarketServiceInit, MarketState, type SignedBy } from '../../src/market/index.ts'
import type { TestNode } from './dag-net.ts'

/** A MarketState on its own LevelDB, fed final transactions as a ledger's queue would (no ledger behind it). */
export interface LiveMarketState {
  db: BinaryDb
  state: MarketState
  /** Queues each transaction's records (as a decision's batch writes them) and drains after each, or once at the end. */
  final: (txs: readonly CutTx[], onePass?: boolean) => Promise<void>
  /** Writes a state cut's market snapshot as a node starting from it does. */
  install: (s: MarketSnapshot) => Promise<void>
  close: () => Promise<void>
}

export async function liveMarketState (): Promise<LiveMarketState> {
  const dir = await mkdtemp(join(tmpdir(), 'harmony-market-state-'))
  const db = await openDatabase(join(dir, 'db'))
  const state = new MarketState({ db, dag: Object.assign(new EventEmitter(), { reader: undefined as never }) as never, logger: silentLogger() })
  let seq = 0n
  return {
    db,
    state,
    final: async (txs, onePass = false) => {
      // a start reads what an install wrote
      await state.start()
      for (const x of txs) {
        seq++
        for (const r of queueRecordsOf(x, seq)) await sublevel(db, 'market').put(r.key, r.value)
        if (!onePass) await state.drain()
      }
      await state.drain()
    },
    install: async (s) => {
      const batch = db.batch()
      for (const w of snapshotWrites(s, db)) batch.put(w.key, w.value, { sublevel: w.sublevel })
      await batch.write()
    },
    close: async () => { await state.stop(); await db.close(); await rm(dir, { recursive: true, force: true }) }
  }
}

/** A MarketService on a test ledger node, as HarmonyNode composes it. */
export async function startMarket (node: TestNode, init: MarketServiceInit = {}): Promise<MarketService> {
  const market = new MarketService({ dag: node.dag, db: node.db, identity: node.key, logger: silentLogger(), registry: node.registry }, { proposeDelayMs: 300, lateGraceMs: 800, tickMs: 100, ...init })
  await market.start()
  return market
}

/** Signs for one account with consecutive nonces (client-side, as a wallet does). */
export class Signer {
  readonly keys: KeyPair
  readonly address: Uint8Array
  /** the `hmy1…` form */
  readonly addressText: string
  private nonce = 0n
  private readonly chainId: string

  constructor (chainId: string, keys: KeyPair) {
    this.chainId = chainId
    this.keys = keys
    this.address = addressBytesFromPublicKey(keys.publicKey)
    this.addressText = formatAddress(this.address)
  }

  /** The next nonce's signing context (fee 1000, the test genesis minimum or above). */
  next (): SignedBy {
    return { chainId: this.chainId, keys: this.keys, nonce: this.nonce++, fee: 1000n }
  }

  /** Gives back the last nonce (its transaction was refused at submit). */
  unuse (): void { this.nonce-- }
}

export function encoded (tx: Transaction): Uint8Array { return encodeTx(tx) }
