import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { InterfaceAbi } from 'ethers'
import { ChainError } from './errors.ts'

export type ContractName = 'AGC' | 'HarmonyStaking' | 'HarmonySettlement'

/** A compiled contract as written by `contracts/build.ts`. */
export interface ContractArtifact {
  contractName: ContractName
  abi: InterfaceAbi
  bytecode: string
  deployedBytecode: string
}

const cache = new Map<ContractName, ContractArtifact>()

/** Loads a committed artifact from `contracts/artifacts/` (never compiles at run time). */
export function loadArtifact (name: ContractName): ContractArtifact {
  const cached = cache.get(name)
  if (cached !== undefined) return cached
  // src/chain/ in the repository; dist/src/chain/ in the built package, next to the repository's contracts/
  const candidates = [`../../contracts/artifacts/${name}.json`, `../../../contracts/artifacts/${name}.json`]
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  const path = candidates.find((p) => existsSync(p)) ?? candidates[0]
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new ChainError('ARTIFACT_INVALID', `cannot read contract artifact ${name}: run npm run build:contracts`, { name }, { cause: err })
  }
  const a = parsed as Partial<ContractArtifact>
  if (a.contractName !== name || !Array.isArray(a.abi) || typeof a.bytecode !== 'string' || !a.bytecode.startsWith('0x')) {
    throw new ChainError('ARTIFACT_INVALID', `contract artifact ${name} is malformed: run npm run build:contracts`, { name })
  }
  const artifact = a as ContractArtifact
  cache.set(name, artifact)
  return artifact
}
