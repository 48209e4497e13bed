/**
 * A set of at most `limit` keys that forgets the oldest added once full: "seen lately" memories (tasks decided,
 * decisions reported, tasks released, misses of an index), bounded however long a node runs.
 */
export class BoundedSet {
  private readonly items = new Set<string>()
  private readonly limit: number

  constructor (limit: number) { this.limit = Math.max(1, limit) }

  get size (): number { return this.items.size }

  has (key: string): boolean { return this.items.has(key) }

  /** Adds `key` as the newest (moved there when held); true when it was not held. */
  add (key: string): boolean {
    const added = !this.items.delete(key)
    this.items.add(key)
    if (this.items.size > this.limit) this.items.delete(this.items.values().next().value as string)
    return added
  }

  delete (key: string): boolean { return this.items.delete(key) }
}

/**
 * A map of at most `limit` entries that forgets the oldest added once full: caches of values dear to compute (key
 * objects, derived key pairs), bounded however long a node runs.
 */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>()
  private readonly limit: number

  constructor (limit: number) { this.limit = Math.max(1, limit) }

  get (key: string): V | undefined { return this.map.get(key) }

  set (key: string, value: V): void {
    if (!this.map.has(key) && this.map.size >= this.limit) this.map.delete(this.map.keys().next().value as string)
    this.map.set(key, value)
  }
}
