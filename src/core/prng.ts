/**
 * mulberry32: a small deterministic PRNG for data that must be the same from a seed (the digits model's training
 * data, the tests' random DAGs). Not for anything an attacker may predict: keys and nonces come from node:crypto.
 */
export function prng (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
