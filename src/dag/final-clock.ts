import { toHex } from '../core/codec.ts'

/**
 * How far the validators' final vertices reach in time: for each validator, the largest signed timestamp among its
 * vertices accepted on this node since start. An honest validator's vertices only move forward in time (a vertex
 * is never below its parents' timestamps, and each builds on the frontier that holds its previous one), so once
 * every validator has a final vertex past a moment, no vertex of theirs still to come is timestamped at or before it:
 * the market reads it to close a bid window without waiting out a wall-clock grace (docs/market.md, "Time").
 * A validator that equivocates could still produce an earlier-stamped vertex; what that lets through is what the
 * grace let through before: an in-time transaction the award leaves out, shown as excluded.
 */
export class FinalClock {
  private readonly latest = new Map<string, bigint>()
  private readonly validators: string[]

  constructor (validatorKeys: readonly Uint8Array[]) {
    this.validators = validatorKeys.map(k => toHex(k))
  }

  observe (author: Uint8Array, timestampMs: bigint): void {
    const key = toHex(author)
    const known = this.latest.get(key)
    // only validators author vertices; the map never holds more than the genesis set
    if (!this.validators.includes(key)) return
    if (known === undefined || timestampMs > known) this.latest.set(key, timestampMs)
  }

  /** The earliest of the validators' latest final vertex times; undefined until every validator has one here. */
  sealedThroughMs (): bigint | undefined {
    let min: bigint | undefined
    for (const v of this.validators) {
      const t = this.latest.get(v)
      if (t === undefined) return undefined
      if (min === undefined || t < min) min = t
    }
    return min
  }
}
