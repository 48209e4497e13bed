import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HarmonyClient, type RpcParams } from '../../src/sdk/index.ts'
import { JWT_SECRET_FILE, readJwtSecret } from '../../src/core/keys/jwt-secret.ts'
import { mintJwt } from '../../src/rpc/jwt.ts'

export const BIN = fileURLToPath(new URL('../../bin/harmonyd.ts', import.meta.url))

export async function tempDir (prefix = 'harmony-test-'): Promise<{ path: string, [Symbol.asyncDispose]: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, [Symbol.asyncDispose]: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  server.close()
  await once(server, 'close')
  return port
}

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Runs harmonyd to completion with a time limit. */
export async function runHarmonyd (args: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  const child = fork(BIN, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export interface RunningNode {
  child: ChildProcess
  peerId: string
  rpc: string
  listenAddrs: string[]
  stderr: () => string
  stop: () => Promise<number | null>
  /** Stops it: `await using` it after its datadir's temp dir and it exits before the dir is removed (reverse order). */
  [Symbol.asyncDispose]: () => Promise<void>
}

/** Starts `harmonyd start` and resolves once it reports ready over IPC (or rejects with its stderr). */
export async function startHarmonyd (args: string[], timeoutMs = 60_000): Promise<RunningNode> {
  const child = fork(BIN, ['start', ...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { if (stderr.length < 65536) stderr += c.toString() })
  const ready = await new Promise<{ peerId: string, rpc: string, listenAddrs: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`harmonyd did not start: ${stderr}`)) }, timeoutMs)
    child.on('message', (m: { type?: string, peerId: string, rpc: string, listenAddrs: string[] }) => {
      if (m.type === 'ready') { clearTimeout(timer); resolve(m) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`harmonyd exited with ${code}: ${stderr}`)) })
  })
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = await exited as [number | null]
    return code
  }
  return { child, ...ready, stderr: () => stderr, stop, [Symbol.asyncDispose]: async () => { await stop() } }
}

/**
 * One JSON-RPC call through the SDK (HTTP), failing with RpcClientError on a JSON-RPC error; `headers` may carry
 * the credentials of `operatorAuth` (their bearer token is what the SDK sends).
 */
export async function rpc<T> (url: string, method: string, params: RpcParams = [], headers: Record<string, string> = {}): Promise<T> {
  const token = headers.authorization?.replace(/^Bearer /, '')
  const client = new HarmonyClient({ url, ...(token === undefined ? {} : { token }) })
  try {
    return await client.request<T>(method, params)
  } finally {
    await client.close()
  }
}

/** An Authorization header for admin and spending calls: a fresh JWT signed with the datadir's secret. */
export async function operatorAuth (datadir: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${mintJwt(await operatorSecret(datadir))}` }
}

/** The node's RPC JWT secret (`<datadir>/rpc/jwt.hex`), for an SDK client with the operator's credentials. */
export async function operatorSecret (datadir: string): Promise<Uint8Array> {
  const secret = await readJwtSecret(join(datadir, JWT_SECRET_FILE))
  if (secret === undefined) throw new Error(`${datadir} has no RPC JWT secret; was it initialised?`)
  return secret
}

/** Polls `check` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function waitFor<T> (what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
}

/** A `harmonyd devnet` process and what it printed. */
export interface DevnetProcess {
  child: ChildProcess
  /** Each node's line: its index, RPC URL and peer id, in index order. */
  nodes: Array<{ index: number, rpc: string, peerId: string }>
  /** Everything it wrote to stdout so far. */
  stdout: () => string
  /** Stops it as Ctrl-C does and waits for it to exit: `await using` it after its datadir, as RunningNode. */
  [Symbol.asyncDispose]: () => Promise<void>
}

/** Forks `harmonyd devnet <args>` and waits for its `node <i> rpc=… peer=…` lines (one per node), failing if it exits first. */
export async function startDevnet (args: string[], nodes: number): Promise<DevnetProcess> {
  const child = fork(BIN, ['devnet', ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  try {
    const lines = await waitFor('the devnet\'s node lines', async () => {
      if (child.exitCode !== null) throw new Error(`devnet exited: ${stderr}`)
      const found = [...stdout.matchAll(/^node (\d+) rpc=(http:\/\/127\.0\.0\.1:\d+) peer=(\w+)$/gm)]
      return found.length === nodes ? found : undefined
    }, 120_000)
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGINT')
      await exited
    }
    return { child, nodes: lines.map(m => ({ index: Number(m[1]), rpc: m[2], peerId: m[3] })), stdout: () => stdout, [Symbol.asyncDispose]: stop }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}
