/**
 * A retry backoff's jitter: `ms` scaled by a random factor in [0.5, 1), drawn from the platform's CSPRNG (Web
 * Crypto's getRandomValues, in Node and in browsers alike) rather than a guessable non-cryptographic one, so that
 * many clients retrying after one failure spread out and no one can predict when a given one comes back.
 */
export function jittered (ms: number): number {
  const [r] = globalThis.crypto.getRandomValues(new Uint32Array(1))
  return ms * (0.5 + r / 2 ** 33)
}
