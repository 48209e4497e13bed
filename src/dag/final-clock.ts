import { Reader, toHex, Writer } from '../core/codec.ts'

/**
 * How far the validators' final vertices reach in time: for each validator, the largest signed timestamp among its
 * vertices accepted on this node (kept with the decisions: `encode` is written in each decision batch that moves it,
 * so after a restart it reads what it read before, and under the commit rule, where every node accepts the same
 * sequence, it is the same at every node at the same point of the order: the market's checks read it there). An honest validator's vertices only move forward in time (a vertex
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

  /** A copy (a decision batch's draft: written with the batch, adopted by observing the same vertices after it). */
  copy (): FinalClock {
    const c = new FinalClock([])
    c.validators.push(...this.validators)
    for (const [k, v] of this.latest) c.latest.set(k, v)
    return c
  }

  /** Returns true when it moved. */
  observe (author: Uint8Array, timestampMs: bigint): boolean {
    const key = toHex(author)
    const known = this.latest.get(key)
    // only validators author vertices; the map never holds more than the genesis set
    if (!this.validators.includes(key)) return false
    if (known !== undefined && timestampMs <= known) return false
    this.latest.set(key, timestampMs)
    return true
  }

  /** Each validator's latest time (genesis order; 0 for none yet), for the decision batch. */
  encode (): Uint8Array {
    const w = new Writer(2 + 8 * this.validators.length).u16(this.validators.length)
    for (const v of this.validators) w.u64(this.latest.get(v) ?? 0n)
    return w.finish()
  }

  /** Restores what `encode` wrote (at start); a record of another validator count is ignored (logged by the caller). */
  restore (bytes: Uint8Array): boolean {
    const r = new Reader(bytes, 'final clock')
    if (r.u16() !== this.validators.length) return false
    const times = this.validators.map(() => r.u64())
    r.end()
    this.validators.forEach((v, i) => { if (times[i] > 0n) this.latest.set(v, times[i]) })
    return true
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
