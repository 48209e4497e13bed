/**
 * Genesis backing (docs/chain.md "Solvency"): the settlement contract locks, once and at deployment, the AGC behind
 * the DAG's genesis allocations and records which genesis it backs. A node bridges only against a contract whose
 * lock matches its own genesis file; otherwise withdrawals of genesis money would be paid from other people's
 * deposits (or the contract backs another network).
 */
import { toHex } from '../core/codec.ts'
import type { Logger } from '../core/logger.ts'
import { type Genesis, genesisId } from '../dag/genesis.ts'
import type { GenesisBacking } from '../chain/deploy.ts'
import { ChainError } from '../chain/errors.ts'

/** The DAG's supply at genesis: the sum of its allocations, base units. */
export function genesisSupply (genesis: Genesis): bigint {
  let total = 0n
  for (const a of genesis.allocations) total += a.balance
  return total
}

/** What a deployment must lock for `genesis`: pass it to `deployContracts({ genesis })`. */
export function genesisBacking (genesis: Genesis): GenesisBacking {
  return { id: `0x${toHex(genesisId(genesis))}`, total: genesisSupply(genesis) }
}

/** Throws GENESIS_LOCK_MISMATCH, saying what differs, unless the contract's lock backs exactly `genesis`. */
export function checkGenesisLock (genesis: Genesis, onChain: GenesisBacking, settlement: string): void {
  const want = genesisBacking(genesis)
  const idMatches = onChain.id.toLowerCase() === want.id
  if (idMatches && onChain.total === want.total) return
  const what = idMatches
    ? `locks ${onChain.total} base units of AGC but the genesis allocates ${want.total}`
    : `backs genesis ${onChain.id} but this node's genesis is ${want.id}`
  throw new ChainError('GENESIS_LOCK_MISMATCH',
    `the settlement contract ${settlement} ${what}: genesis money would not be backed, so this node does not bridge; ` +
    'use the contracts file deployed for this network\'s genesis (or redeploy with its genesis lock)',
    { settlement, lockedId: onChain.id, lockedTotal: onChain.total.toString(), genesisId: want.id, genesisTotal: want.total.toString() })
}

/**
 * Reads the contract's genesis lock through `chain` and checks it: true when it matches, false while the chain does
 * not answer (the caller asks again later), GENESIS_LOCK_MISMATCH when it backs something else.
 */
export async function genesisLockMatches (chain: { readonly settlementAddress: string, genesisLock: () => Promise<GenesisBacking> }, genesis: Genesis, log: Logger): Promise<boolean> {
  let lock: GenesisBacking
  try {
    lock = await chain.genesisLock()
  } catch (err) {
    log.debug({ err }, 'chain unreachable; the genesis lock is checked before bridging')
    return false
  }
  checkGenesisLock(genesis, lock, chain.settlementAddress)
  return true
}
