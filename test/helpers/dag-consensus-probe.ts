import { createInterface } from 'node:readline'
import type { NodeProcess } from './dag-processes.ts'

/** node_health's consensus part as bench/lib/ledger-node-process.ts prints it (`health <json>`). */
export interface ProbeHealth {
  live: boolean
  reachableStake: number
  quorumStake: number
  totalStake: number
  polls: { success: number, fail: number }
}

export type ProbeTxStatus = 'pending' | 'final' | 'rejected' | 'unknown'

/**
 * Asks a ledger node process about its consensus (`health`) and a transaction's status (`tx`), awaiting the
 * answer line. Answers come back in request order (the process handles stdin lines one at a time).
 */
export class ConsensusProbe {
  private readonly node: NodeProcess
  private readonly waiting: Array<{ kind: string, resolve: (rest: string) => void }> = []

  constructor (node: NodeProcess) {
    this.node = node
    createInterface({ input: node.child.stdout }).on('line', line => {
      const i = line.indexOf(' ')
      const kind = line.slice(0, i)
      const w = this.waiting[0]
      if (w === undefined || w.kind !== kind) return
      this.waiting.shift()
      w.resolve(line.slice(i + 1))
    })
    node.child.once('exit', () => { for (const w of this.waiting.splice(0)) w.resolve('') })
  }

  private async ask (kind: string, line: string): Promise<string> {
    return await new Promise(resolve => {
      this.waiting.push({ kind, resolve })
      this.node.send(line)
    })
  }

  async health (): Promise<ProbeHealth> {
    return JSON.parse(await this.ask('health', 'health')) as ProbeHealth
  }

  async tx (id: string): Promise<ProbeTxStatus> {
    const rest = await this.ask('tx', `tx ${id}`)
    return (rest.split(' ')[1] ?? 'unknown') as ProbeTxStatus
  }

  /** The node's undecided conflict sets, processing vertices and frontier (a failure report; free-form JSON). */
  async conflicts (): Promise<unknown> {
    return JSON.parse(await this.ask('conflicts', 'conflicts')) as unknown
  }
}
