/**
 * `harmonyd devnet` support: one local chain for the whole devnet. Each node gets an EVM key in its datadir, is
 * registered as a validator bound to its ML-DSA identity (an ML-DSA signature by its ledger key), and gets the contracts file in its datadir.
 */
import { join } from 'node:path'
import type { AnvilInit } from './anvil.ts'
import { writeContractsFile } from './contracts-file.ts'
import { type DevnetChain, type FundInit, type GenesisBacking, startDevnetChain } from './deploy.ts'
import { EVM_KEY_FILE, loadOrCreateEvmKey } from '../core/keys/evm-key.ts'

/** The contracts file inside a node's datadir. */
export const CONTRACTS_FILE = 'contracts.json'

export { validatorIdentity } from './validator-binding.ts'

export interface DevnetChainPrepareInit {
  /** The nodes' datadirs (node-0, node-1, ...). */
  nodeDirs: string[]
  /**
   * The ML-DSA-65 ledger key of the node in `dir` (loadIdentity(dir).ledgerKey): it signs the node's validator
   * binding; the secret key never leaves this process.
   */
  ledgerKeyOf: (dir: string) => Promise<{ publicKey: Uint8Array, secretKey: Uint8Array }>
  /** How many of the nodes (the first ones) stake and register as validators; the rest only get the contracts. @default all */
  validators?: number
  /** Stake per validator, base units. @default the contract's minimum (1000 AGC) */
  stake?: bigint
  anvil?: AnvilInit
  fund?: FundInit
  /**
   * The devnet genesis's id and allocation total: the settlement contract locks that much AGC at deployment, so
   * genesis money is backed (docs/chain.md "Solvency"); nodes refuse to bridge against a contract that does not.
   * @default none locked
   */
  genesis?: GenesisBacking
}

export interface PreparedDevnetChain extends DevnetChain {
  /** Per node: the contracts file path and the node's EVM address. */
  nodes: Array<{ dir: string, contractsFile: string, evmAddress: string }>
}

/**
 * Starts anvil, deploys, funds and registers every node as a validator, and writes `<dir>/contracts.json` for each
 * node. The caller stops it with `stop()` after the nodes.
 */
export async function prepareDevnetChain (init: DevnetChainPrepareInit): Promise<PreparedDevnetChain> {
  const validators = []
  const nodes: PreparedDevnetChain['nodes'] = []
  for (const [i, dir] of init.nodeDirs.entries()) {
    const key = await loadOrCreateEvmKey(join(dir, EVM_KEY_FILE))
    if (i < (init.validators ?? init.nodeDirs.length)) validators.push({ signerKey: key.privateKey, ledgerKey: await init.ledgerKeyOf(dir), stake: init.stake })
    nodes.push({ dir, contractsFile: join(dir, CONTRACTS_FILE), evmAddress: key.address })
  }
  const chain = await startDevnetChain({ anvil: init.anvil, fund: init.fund, validators, ...(init.genesis !== undefined ? { genesis: init.genesis } : {}) })
  try {
    for (const n of nodes) await writeContractsFile(n.contractsFile, chain.contractsFile)
  } catch (err) {
    await chain.stop()
    throw err
  }
  return { ...chain, nodes }
}
