import type { GraphNode } from '../graph.ts'

/**
 * When a processing vertex reached each consensus stage (ms on the core's clock), for the finality breakdown
 * (harmony_dag_finality_phase_seconds): first counted in a poll, first successful poll, β consecutive successes of
 * all its instances (only its ancestors' acceptance missing then); and how many polls counted it.
 */
export interface VertexStages {
  polledMs?: number
  chitMs?: number
  readyMs?: number
  polls: number
}

/** The stages of the processing vertices: metrics only, never read by a decision. Bounded by the processing set. */
export class StageClock {
  private readonly stages = new Map<string, VertexStages>()
  private readonly nowMs: () => number

  constructor (nowMs: () => number) { this.nowMs = nowMs }

  add (vertexId: string): void { this.stages.set(vertexId, { polls: 0 }) }
  drop (vertexId: string): void { this.stages.delete(vertexId) }

  /** Stages of a decided vertex, once. */
  take (vertexId: string): VertexStages | undefined {
    const st = this.stages.get(vertexId)
    this.stages.delete(vertexId)
    return st
  }

  /** One poll: every vertex with stake was counted; the successful ones got a chit and may have reached β. */
  observe (votes: Map<string, number>, successful: GraphNode[], decidable: (node: GraphNode) => boolean): void {
    const now = this.nowMs()
    for (const [id, stake] of votes) {
      const st = stake > 0 ? this.stages.get(id) : undefined
      if (st === undefined) continue
      st.polls++
      st.polledMs ??= now
    }
    for (const node of successful) {
      const st = this.stages.get(node.id)
      if (st === undefined) continue
      st.chitMs ??= now
      if (st.readyMs === undefined && decidable(node)) st.readyMs = now
    }
  }
}
