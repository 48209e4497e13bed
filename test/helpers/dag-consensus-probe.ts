import { createInterface } from 'node:readline'
import type { NodeProcess } from './dag-processes.ts'
import { waitFor } from './dag-net.ts'

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

  /** Under the commit rule: the round this validator builds in and whether it built its vertex there (null under Avalanche). */
  async rounds (): Promise<{ round: number, built: boolean } | null> {
    return JSON.parse(await this.ask('rounds', 'rounds')) as { round: number, built: boolean } | null
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

/**
 * Waits until nodes that cannot reach the quorum have shown that they stay undecided, by the rule's own progress:
 * under Avalanche, `polls` more failed polls on each node (several times the β successful ones that would finalize);
 * under the commit rule, each node built its vertex of the round it can build (a round needs the quorum's vertices of
 * the one below, so it builds no further: the round each stopped at is returned, for the test to check it held).
 * Stops early when `decided` says something was decided (the test's assertions after it then fail).
 */
export async function waitStalled (probes: ConsensusProbe[], rule: 'avalanche' | 'commit', polls: number, what: string, decided: () => Promise<boolean>): Promise<number[]> {
  if (rule === 'commit') {
    await waitFor(async () => {
      if (await decided()) return true
      for (const p of probes) if ((await p.rounds())?.built !== true) return false
      return true
    }, `every node built the round it can ${what}`)
    return await Promise.all(probes.map(async p => (await p.rounds())?.round ?? -1))
  }
  const before = await Promise.all(probes.map(async p => (await p.health()).polls.fail))
  await waitFor(async () => {
    if (await decided()) return true
    for (const [i, p] of probes.entries()) if ((await p.health()).polls.fail < before[i] + polls) return false
    return true
  }, `${polls} failed polls on every node ${what}`)
  return []
}
