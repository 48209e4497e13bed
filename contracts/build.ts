/**
 * Compiles contracts/src/*.sol with the pinned solc-js and writes contracts/artifacts/<Name>.json (ABI, bytecode,
 * deployed bytecode, compiler settings). Reproducible: the same sources, OpenZeppelin version and solc version give
 * byte-identical artifacts (sorted sources, fixed settings, stable JSON). `--check` compiles and fails if the
 * committed artifacts differ, without writing.
 *
 * Run: npm run build:contracts [-- --check]
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const solc = require('solc') as {
  version: () => string
  compile: (input: string, callbacks: { import: (path: string) => { contents: string } | { error: string } }) => string
}

/** The exact compiler; package.json pins the same solc version. */
export const SOLC_VERSION = '0.8.30'
/** Contracts whose artifacts the daemon loads. */
export const CONTRACT_NAMES = ['AGC', 'HarmonyStaking', 'HarmonySettlement'] as const

const here = dirname(fileURLToPath(import.meta.url))
const srcDir = join(here, 'src')
const artifactsDir = join(here, 'artifacts')

// cancun: OpenZeppelin 5's ReentrancyGuard uses transient storage; anvil and every current chain support it.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } }
}

interface SolcOutput {
  errors?: Array<{ severity: 'error' | 'warning' | 'info', formattedMessage: string }>
  contracts: Record<string, Record<string, { abi: unknown[], evm: { bytecode: { object: string }, deployedBytecode: { object: string } } }>>
}

function findImport (path: string): { contents: string } | { error: string } {
  try {
    if (path.startsWith('@openzeppelin/')) return { contents: readFileSync(require.resolve(path), 'utf8') }
    const local = resolve(srcDir, path)
    if (local.startsWith(srcDir)) return { contents: readFileSync(local, 'utf8') }
    return { error: `import outside contracts/src and @openzeppelin: ${path}` }
  } catch (err) {
    return { error: `cannot read import ${path}: ${(err as Error).message}` }
  }
}

/** Compiles and returns artifact file contents by file name. */
export function compileArtifacts (): Map<string, string> {
  const version = solc.version()
  if (!version.startsWith(`${SOLC_VERSION}+`)) {
    throw new Error(`solc ${version} installed, ${SOLC_VERSION} required: run npm install`)
  }
  const files = readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort()
  const sources: Record<string, { content: string }> = {}
  for (const f of files) sources[f] = { content: readFileSync(join(srcDir, f), 'utf8') }
  const input = { language: 'Solidity', sources, settings: SETTINGS }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as SolcOutput
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
  for (const w of output.errors ?? []) if (w.severity === 'warning') process.stderr.write(`${w.formattedMessage}\n`)
  const ozVersion = (require('@openzeppelin/contracts/package.json') as { version: string }).version
  const out = new Map<string, string>()
  for (const name of CONTRACT_NAMES) {
    const compiled = output.contracts[`${name}.sol`]?.[name]
    if (compiled === undefined) throw new Error(`contract ${name} not found in ${name}.sol`)
    const sourceHash = createHash('sha256').update(sources[`${name}.sol`].content).digest('hex')
    const artifact = {
      contractName: name,
      compiler: { solc: version, openzeppelin: ozVersion, settings: { optimizer: SETTINGS.optimizer, evmVersion: SETTINGS.evmVersion } },
      sourceSha256: sourceHash,
      abi: compiled.abi,
      bytecode: `0x${compiled.evm.bytecode.object}`,
      deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`
    }
    out.set(`${name}.json`, `${JSON.stringify(artifact, null, 2)}\n`)
  }
  return out
}

function main (): void {
  const check = process.argv.includes('--check')
  const artifacts = compileArtifacts()
  if (check) {
    const stale = [...artifacts].filter(([file, text]) => {
      const path = join(artifactsDir, file)
      return !existsSync(path) || readFileSync(path, 'utf8') !== text
    }).map(([file]) => file)
    if (stale.length > 0) {
      process.stderr.write(`contracts/artifacts out of date: ${stale.join(', ')}; run npm run build:contracts\n`)
      process.exit(1)
    }
    process.stdout.write(`contracts/artifacts up to date (${artifacts.size} contracts)\n`)
    return
  }
  mkdirSync(artifactsDir, { recursive: true })
  for (const [file, text] of artifacts) writeFileSync(join(artifactsDir, file), text)
  process.stdout.write(`wrote ${artifacts.size} artifacts to contracts/artifacts\n`)
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
