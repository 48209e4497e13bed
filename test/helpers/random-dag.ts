// Random DAGs of signed transfers for ledger tests (state-sync.test.ts, dag-unproven-credits.test.ts): vertices
// on 1..3 of the last six (many concurrent), five users sending on their nonce chains, and random topological
// orders. Deterministic per seed, so a failing seed can be replayed.
import { addressFromPublicKey, parseAddress } from '../../src/core/address.ts'
import { toHex } from '../../src/core/codec.ts'
import { generateKeyPair, type KeyPair, sha256 } from '../../src/core/crypto.ts'
import { prng } from '../../src/core/prng.ts'
import { buildTransfer, encodeTx, txInfo } from '../../src/dag/tx.ts'
import { buildVertexInfo, type VertexInfo } from '../../src/dag/vertex.ts'

export const CHAIN = 'random-dag-test'
export const seeded = (n: number): KeyPair => generateKeyPair(new Uint8Array(32).fill(n))
export const author = seeded(90)
export const users = [1, 2, 3, 4, 5].map(seeded)
export const addr = (k: KeyPair): Uint8Array => parseAddress(addressFromPublicKey(k.publicKey))
export const START = 1000n
export const GENESIS = toHex(sha256(new TextEncoder().encode('random-dag-genesis')))

/** A small deterministic generator, so a failing seed can be replayed. */
export const rng = prng

export interface Built { info: VertexInfo, past: Set<string>, height: number }

/**
 * Vertices each on 1..3 of the last six (so many are concurrent); each user sends in a vertex only when its previous
 * transaction is in that vertex's past (the nonce chain, no conflicts), amounts up to 60% of the start balance.
 */
export function randomDag (next: () => number, count: number): Built[] {
  const out: Built[] = []
  const byId = new Map<string, Built>()
  const nonce = users.map(() => 0n)
  const last: Array<string | undefined> = users.map(() => undefined)
  for (let i = 0; i < count; i++) {
    const recent = out.slice(-6).map((b) => b.info.idHex)
    const pool = recent.length === 0 ? [GENESIS] : recent
    const parents = new Set<string>()
    const want = 1 + Math.floor(next() * 3)
    for (let k = 0; k < want; k++) parents.add(pool[Math.floor(next() * pool.length)])
    const past = new Set<string>([GENESIS])
    let height = 0
    for (const p of parents) {
      const b = byId.get(p)
      if (b === undefined) continue
      for (const x of b.past) past.add(x)
      height = Math.max(height, b.height)
    }
    const senders: number[] = []
    users.forEach((_, u) => { if ((last[u] === undefined || past.has(last[u] as string)) && next() < 0.5) senders.push(u) })
    if (senders.length === 0) continue
    const txs = senders.map((u) => {
      const to = (u + 1 + Math.floor(next() * (users.length - 1))) % users.length
      const amount = 1n + BigInt(Math.floor(next() * 600))
      return txInfo(encodeTx(buildTransfer({ chainId: CHAIN, publicKey: users[u].publicKey, secretKey: users[u].secretKey, to: addr(users[to]), amount, nonce: nonce[u]++, fee: 1n })))
    })
    const info = buildVertexInfo(CHAIN, { author: author.publicKey, secretKey: author.secretKey, parents: [...parents].map((p) => Uint8Array.from(Buffer.from(p, 'hex'))), txs, timestampMs: BigInt(i) })
    for (const u of senders) last[u] = info.idHex
    past.add(info.idHex)
    const built = { info, past, height: height + 1 }
    out.push(built)
    byId.set(info.idHex, built)
  }
  return out
}

/** A random topological order of `vertices` (parents outside the list count as applied). */
export function randomOrder (next: () => number, vertices: Built[]): Built[] {
  const ids = new Set(vertices.map((v) => v.info.idHex))
  const done = new Set<string>()
  const left = [...vertices]
  const order: Built[] = []
  while (left.length > 0) {
    const ready = left.filter((v) => v.info.parentHex.every((p) => !ids.has(p) || done.has(p)))
    const pick = ready[Math.floor(next() * ready.length)]
    left.splice(left.indexOf(pick), 1)
    done.add(pick.info.idHex)
    order.push(pick)
  }
  return order
}
