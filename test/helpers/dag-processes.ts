import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { toHex } from '../../src/core/codec.ts'
import { sha256 } from '../../src/core/crypto.ts'
import { type Genesis, genesisToJson } from '../../src/dag/genesis.ts'

export interface NodeStats {
  vertices: number
  finalized: number
  finalTxs: number
  stateRoot: string
  processing: number
}

/** A signed transaction's 0x id. */
export function txIdOf (bytes: Uint8Array): string {
  return `0x${toHex(sha256(bytes))}`
}

/** A ledger node in its own process (bench/lib/ledger-node-process.ts), driven over stdin/stdout lines. */
export class NodeProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, null>
  addr = ''
  peers = 0
  finals = new Set<string>()
  refused = 0
  /** tx id -> the error code of each refusal this node printed */
  readonly refusals = new Map<string, string>()
  stats: NodeStats | undefined
  exited = false
  private readonly exit: Promise<void>
  /** submissions awaiting their `accepted` or `refused` line: tx id -> resolve(refusal code, or undefined) */
  private readonly answers = new Map<string, (code: string | undefined) => void>()

  private constructor (child: ChildProcessByStdio<Writable, Readable, null>) {
    this.child = child
    this.exit = new Promise(resolve => child.once('exit', () => {
      this.exited = true
      for (const answer of this.answers.values()) answer('EXITED')
      this.answers.clear()
      resolve()
    }))
    createInterface({ input: child.stdout }).on('line', line => {
      const i = line.indexOf(' ')
      const kind = line.slice(0, i)
      const rest = line.slice(i + 1)
      if (kind === 'addr') this.addr = rest
      else if (kind === 'peers') this.peers = Number(rest)
      else if (kind === 'final') this.finals.add(rest)
      else if (kind === 'accepted') this.answer(rest, undefined)
      else if (kind === 'refused') {
        this.refused++
        const [id, code = 'ERROR'] = rest.split(' ')
        this.refusals.set(id, code)
        this.answer(id, code)
      }
      else if (kind === 'stats') this.stats = JSON.parse(rest) as NodeStats
    })
  }

  static async start (dir: string, name: string, genesis: Genesis, seed: Uint8Array): Promise<NodeProcess> {
    const config = join(dir, `${name}.json`)
    await writeFile(config, JSON.stringify({ dir: join(dir, `${name}-db`), genesis: genesisToJson(genesis), seed: toHex(seed) }))
    const script = fileURLToPath(new URL('../../bench/lib/ledger-node-process.ts', import.meta.url))
    return new NodeProcess(spawn(process.execPath, [script, config], { stdio: ['pipe', 'pipe', 'inherit'] }))
  }

  send (line: string): void { if (!this.exited) this.child.stdin.write(`${line}\n`) }
  dial (addr: string): void { this.send(`dial ${addr}`) }
  /** Submits a signed transaction; returns its 0x id. */
  submit (bytes: Uint8Array): string {
    const id = txIdOf(bytes)
    this.send(`submit ${id} ${toHex(bytes)}`)
    return id
  }

  /** Submits a signed transaction and waits for the node's answer: the refusal's error code, or undefined if accepted. */
  async submitAndWait (bytes: Uint8Array): Promise<string | undefined> {
    if (this.exited) return 'EXITED'
    const id = txIdOf(bytes)
    const answered = new Promise<string | undefined>(resolve => { this.answers.set(id, resolve) })
    this.send(`submit ${id} ${toHex(bytes)}`)
    return await answered
  }

  private answer (id: string, code: string | undefined): void {
    const resolve = this.answers.get(id)
    if (resolve === undefined) return
    this.answers.delete(id)
    resolve(code)
  }

  async kill (): Promise<void> { this.child.kill('SIGKILL'); await this.exit }
  async stop (): Promise<void> { this.send('exit'); await this.exit }
}
