// Fixtures of the market's tests (m1): announces, provider registrations.
import type { ProviderRegisterPayload, TaskAnnouncePayload } from '../../src/market/index.ts'

/** A small public matmul task with verification none; override any field. */
export function matmulAnnounce (over: Partial<TaskAnnouncePayload> = {}): TaskAnnouncePayload {
  return {
    spec: { kernel: 'matmul', paramsJson: '{"k":2,"m":2,"n":2}' },
    inputs: [new Uint8Array(32).fill(7), new Uint8Array(32).fill(8)],
    outputLimitBytes: 1024,
    budget: 1000n,
    redundancy: 1,
    k: 1,
    verification: 'none',
    bidWindowMs: 2000,
    revealWindowMs: 2000,
    executionDeadlineMs: 10_000,
    requirements: { executor: 'any', minGflopsMilli: 0, minMemoryMiB: 0, attested: false },
    private: false,
    reannounce: false,
    ...over
  }
}

/** A CPU provider's registration with `bond`; the ML-KEM key is a fixed pattern (never used to seal here). */
export function cpuProvider (bond: bigint, over: Partial<ProviderRegisterPayload['capability']> = {}): ProviderRegisterPayload {
  return { bond, kemPublicKey: new Uint8Array(1184).fill(4), capability: { executor: 'cpu', adapter: 'llvmpipe', memoryMiB: 2048, gflopsMilli: 12_500, profile: 'cpu-ref-v1', ...over } }
}

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
