// The local ledger network builder lives in bench/lib (a bench imports no test helper); the tests use it from here.
export * from '../../bench/lib/ledger-net.ts'
import { transfer } from '../../bench/lib/ledger-net.ts'
import { addressFromPublicKey } from '../../src/core/address.ts'
import type { KeyPair } from '../../src/core/crypto.ts'
import type { Genesis } from '../../src/dag/genesis.ts'
import type { DagService } from '../../src/dag/service.ts'

/**
 * Keeps every account sending a transfer to the next one, one at a time each, for ever (the kill -9 children run it
 * until they are killed). A refused one (a nonce already taken by a vertex stored before a crash) resyncs its nonce.
 */
export async function transferLoad (dag: Pick<DagService, 'getNonce' | 'submitTransaction'>, genesis: Genesis, accounts: KeyPair[]): Promise<never> {
  const nonces = await Promise.all(accounts.map(async a => await dag.getNonce(addressFromPublicKey(a.publicKey))))
  for (;;) {
    await Promise.all(accounts.map(async (a, i) => {
      const to = accounts[(i + 1) % accounts.length]
      try {
        await dag.submitTransaction(transfer(genesis, a, to, 7n, nonces[i]))
        nonces[i]++
      } catch {
        await new Promise(resolve => setTimeout(resolve, 20))
        nonces[i] = await dag.getNonce(addressFromPublicKey(a.publicKey))
      }
    }))
  }
}
