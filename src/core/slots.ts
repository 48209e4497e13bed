/** A counting semaphore: at most `n` runs at once, waiters served in order (bounded concurrency for streams). */
export class Slots {
  private free: number
  private readonly waiters: Array<() => void> = []

  constructor (n: number) { this.free = n }

  async run<T> (fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--
    else await new Promise<void>(resolve => { this.waiters.push(resolve) })
    try { return await fn() } finally {
      const next = this.waiters.shift()
      if (next !== undefined) next()
      else this.free++
    }
  }
}
