/**
 * Starts a local anvil (from the npm package `@foundry-rs/anvil`, whose platform package ships the binary) on a
 * free loopback port and stops it. Used by `harmonyd devnet`, the chain tests and `bench/chain.ts`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { ChainError } from './errors.ts'

/** anvil's default test mnemonic: its accounts are public, never use them outside a local devnet. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk'

// The platform packages @foundry-rs/anvil lists as optional dependencies.
const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64'
}

/** Start-up output is bounded: anvil prints its banner (accounts, keys) then the listening line. */
const MAX_STARTUP_OUTPUT_BYTES = 256 * 1024

export interface AnvilInit {
  /** Chain id. @default 31337 */
  chainId?: number
  /** Funded accounts derived from the mnemonic. @default 10 */
  accounts?: number
  /** Ether per funded account. @default 10000 */
  balanceEth?: number
  /** @default ANVIL_MNEMONIC */
  mnemonic?: string
  /** Seconds between blocks; unset mines one block per transaction (automine). @default undefined */
  blockTimeSec?: number
  /** Loopback port; 0 picks a free one. @default 0 */
  port?: number
  /** Start-up timeout. @default 30000 */
  startTimeoutMs?: number
  /** Aborts start-up and stops the process. */
  signal?: AbortSignal
}

export interface AnvilInstance {
  url: string
  port: number
  chainId: number
  mnemonic: string
  pid: number
  stop: () => Promise<void>
}

/** Path of the anvil binary: `HARMONY_ANVIL_BIN` or the npm platform package `@foundry-rs/anvil-<platform>`. */
export function anvilBinaryPath (): string {
  const fromEnv = process.env.HARMONY_ANVIL_BIN
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const pkg = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`]
  if (pkg === undefined) {
    throw new ChainError('ANVIL_START_FAILED', `no anvil build for ${process.platform}-${process.arch}; set HARMONY_ANVIL_BIN`)
  }
  const require = createRequire(import.meta.url)
  try {
    const dir = dirname(require.resolve(`${pkg}/package.json`))
    return join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
  } catch (err) {
    throw new ChainError('ANVIL_START_FAILED', `${pkg} is not installed: run npm install (an optional dependency of harmonyd for linux-x64; elsewhere set HARMONY_ANVIL_BIN to an anvil binary)`, { pkg }, { cause: err })
  }
}

export async function startAnvil (init: AnvilInit = {}): Promise<AnvilInstance> {
  const chainId = init.chainId ?? 31337
  const mnemonic = init.mnemonic ?? ANVIL_MNEMONIC
  const args = [
    '--host', '127.0.0.1',
    '--port', String(init.port ?? 0),
    '--chain-id', String(chainId),
    '--accounts', String(init.accounts ?? 10),
    '--balance', String(init.balanceEth ?? 10000),
    '--mnemonic', mnemonic
  ]
  if (init.blockTimeSec !== undefined) args.push('--block-time', String(init.blockTimeSec))
  const child = spawn(anvilBinaryPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const port = await waitForListening(child, init.startTimeoutMs ?? 30_000, init.signal)
  const stop = async (): Promise<void> => { await stopProcess(child) }
  init.signal?.addEventListener('abort', () => { void stop() }, { once: true })
  return { url: `http://127.0.0.1:${port}`, port, chainId, mnemonic, pid: child.pid ?? -1, stop }
}

function waitForListening (child: ChildProcess, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = ''
    const fail = (message: string, cause?: unknown): void => {
      cleanup()
      child.kill('SIGKILL')
      reject(new ChainError('ANVIL_START_FAILED', message, { output: output.slice(-2000) }, { cause }))
    }
    const onData = (chunk: Buffer): void => {
      if (output.length < MAX_STARTUP_OUTPUT_BYTES) output += chunk.toString('utf8')
      const match = /Listening on 127\.0\.0\.1:(\d+)/.exec(output)
      if (match !== null) {
        cleanup()
        // Keep draining so a full pipe never blocks anvil.
        child.stdout?.resume()
        child.stderr?.resume()
        resolve(Number(match[1]))
      }
    }
    const onExit = (code: number | null): void => { fail(`anvil exited during start-up (code ${code})`) }
    const onError = (err: Error): void => { fail(`cannot run anvil: ${err.message}`, err) }
    const onAbort = (): void => { fail('anvil start-up aborted') }
    const timer = setTimeout(() => { fail(`anvil did not start within ${timeoutMs} ms`) }, timeoutMs)
    function cleanup (): void {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      child.off('exit', onExit)
      child.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
    child.once('error', onError)
    if (signal?.aborted === true) { onAbort(); return }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

async function stopProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
