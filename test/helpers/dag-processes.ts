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

/** A ledger node in its own process (bench/lib/ledger-node-process.ts), driven over stdin/stdout lines. */
export class NodeProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, null>
  addr = ''
  peers = 0
  finals = new Set<string>()
  refused = 0
  stats: NodeStats | undefined
  exited = false
  private readonly exit: Promise<void>

  private constructor (child: ChildProcessByStdio<Writable, Readable, null>) {
    this.child = child
    this.exit = new Promise(resolve => child.once('exit', () => { this.exited = true; resolve() }))
    createInterface({ input: child.stdout }).on('line', line => {
      const i = line.indexOf(' ')
      const kind = line.slice(0, i)
      const rest = line.slice(i + 1)
      if (kind === 'addr') this.addr = rest
      else if (kind === 'peers') this.peers = Number(rest)
      else if (kind === 'final') this.finals.add(rest)
      else if (kind === 'refused') this.refused++
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
    const id = `0x${toHex(sha256(bytes))}`
    this.send(`submit ${id} ${toHex(bytes)}`)
    return id
  }

  async kill (): Promise<void> { this.child.kill('SIGKILL'); await this.exit }
  async stop (): Promise<void> { this.send('exit'); await this.exit }
}
