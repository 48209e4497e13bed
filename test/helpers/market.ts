// Fixtures of the market's tests (m1): announces and provider registrations live in bench/lib (a bench imports no
// test helper); the tests use them from here.
export { cpuProvider, matmulAnnounce } from '../../bench/lib/market-payloads.ts'

import { addressBytesFromPublicKey, formatAddress } from '../../src/core/address.ts'
import { silentLogger } from '../../src/core/logger.ts'
import type { KeyPair } from '../../src/core/crypto.ts'
import { encodeTx, type Transaction } from '../../src/dag/tx.ts'
import { MarketService, type MarketServiceInit, type SignedBy } from '../../src/market/index.ts'
import type { TestNode } from './dag-net.ts'

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
