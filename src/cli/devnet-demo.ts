/**
 * `harmonyd devnet --demo`: every node sells compute (a CPU provider), the faucet funds their bonds and the demo's
 * own requester wallet, then a workload of small matmul tasks is announced from that wallet continuously, so a
 * newcomer sees auctions, execution and payments scroll by: one readable line per event.
 */
import { access } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { formatAgc } from '../dag/wallet.ts'
import { createWalletFile, loadWalletFile, type WalletKey } from '../core/keys/wallet.ts'
import type { HarmonyClient } from '../sdk/index.ts'
import { fundAccounts, openAccount, submitMatmul, TaskFollower, type TaskEvent } from './market-workload.ts'

/** Flags every demo node starts with: a CPU provider with the default pricing policy. */
export const DEMO_NODE_ARGS = ['--provider', JSON.stringify({ enabled: true })]
/** Each node's funding: its 100 AGC bond and fees; the requester's too (a task costs it ~0.002 AGC). */
const DEMO_FUNDING = 1_000n * 10n ** 18n
/** The demo requester's wallet file, beside the faucet's in the devnet's datadir. */
export const DEMO_WALLET_FILE = 'demo-wallet.json'
/** Tasks in flight at once; a new one is announced when one ends. */
const DEMO_IN_FLIGHT = 4
/** Budget per replica: 0.01 AGC. */
const DEMO_BUDGET = 10n ** 16n
const POLL_MS = 250

function short (id: string): string {
  return `${id.slice(0, 10)}…`
}

/** One line for a person per task event. */
export function describeEvent (e: TaskEvent): string {
  const t = e.task
  const id = short(e.taskId)
  switch (e.kind) {
    case 'announced':
      return `task ${id} announced: ${t.kernel} ${JSON.stringify(t.params)}, budget ${formatAgc(BigInt(t.budget))} AGC × ${t.redundancy}, ${t.verification}${t.private ? ', private (inputs and output sealed to the winner and the requester)' : ''}, bids close in ${t.bidWindowMs} ms`
    case 'awarded': {
      const a = t.awards[e.index ?? t.awards.length - 1]
      if (a.winners.length === 0) return `task ${id} round ${a.round}: no valid bid (${t.bidCount} commits); the escrow goes back`
      return `task ${id} awarded (round ${a.round}, ${a.considered.length} valid bids) to ${a.winners.map(short).join(', ')}${a.spotChecker === null ? '' : `; spot-check by ${short(a.spotChecker)}`}`
    }
    case 'result': {
      const r = t.results[e.index ?? t.results.length - 1]
      return `task ${id} result from ${short(r.provider)}: ${r.outputBytes} B, commitment ${r.commitment.slice(0, 12)}…`
    }
    case 'slashed': {
      const s = t.slashes[e.index ?? t.slashes.length - 1]
      return `task ${id} SLASHED ${short(s.provider)} ${formatAgc(BigInt(s.amount))} AGC (${s.reason})`
    }
    case 'settled': {
      const s = t.settlement
      const paid = s === null ? '' : s.payouts.map(p => `${short(p.provider)} ${formatAgc(BigInt(p.amount))} AGC`).join(', ')
      return `task ${id} paid: ${paid}; fee ${formatAgc(BigInt(s?.fee ?? '0'))} AGC; refunded ${formatAgc(BigInt(s?.refund ?? '0'))} AGC`
    }
    default:
      return `task ${id} ${e.kind}: escrow ${formatAgc(BigInt(t.escrow))} AGC refunded`
  }
}

/** The demo requester's wallet in `datadir`: made on the first demo, the same one on a reused datadir. */
export async function demoWallet (datadir: string): Promise<{ key: WalletKey, path: string }> {
  const path = join(datadir, DEMO_WALLET_FILE)
  const exists = await access(path).then(() => true, () => false)
  return { key: exists ? await loadWalletFile(path) : await createWalletFile(path), path }
}

/**
 * Funds every node's provider account and the demo's requester wallet from the faucet, then keeps DEMO_IN_FLIGHT
 * tasks in flight from that wallet until `signal` aborts, writing one line per event to `write`. The tasks are not
 * announced from the faucet itself: the faucet wallet is the newcomer's to send from (README), and two senders
 * chaining one account's nonces would refuse each other's next transaction.
 */
export async function runDemo (clients: HarmonyClient[], faucetPath: string, write: (line: string) => void, signal: AbortSignal): Promise<void> {
  const faucet = await openAccount(clients[0], await loadWalletFile(faucetPath))
  const wallet = await demoWallet(dirname(faucetPath))
  const addresses = (await Promise.all(clients.map(async c => await c.call('node_info')))).map(i => i.address).filter((a): a is string => a !== undefined)
  write(`demo: funding ${addresses.length} providers and the demo's requester (${wallet.path}) with ${formatAgc(DEMO_FUNDING)} AGC each from the faucet`)
  await fundAccounts(faucet, [...addresses, wallet.key.address], DEMO_FUNDING)
  const requester = await openAccount(clients[0], wallet.key)
  write('demo: providers register with a 100 AGC bond; tasks start once one is registered')
  while (!signal.aborted && (await clients[0].call('market_providers')).providers.length === 0) {
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  const follower = new TaskFollower(clients[0])
  let announced = 0
  while (!signal.aborted) {
    while (follower.following < DEMO_IN_FLIGHT && !signal.aborted) {
      const size = [8, 16, 32][announced % 3]
      try {
        // every fifth with redundancy 2, every seventh private
        const task = await submitMatmul(requester, { m: size, k: size, n: size, budget: DEMO_BUDGET, ...(announced % 5 === 4 ? { verification: 'redundancy' as const, redundancy: 2 } : {}), private: announced % 7 === 6 })
        follower.follow(task.taskId)
        announced++
      } catch (err) {
        write(`demo: announce refused: ${(err as Error).message}`)
        requester.nextNonce = BigInt(await requester.client.call('account_getNonce', [requester.key.address]))
        break
      }
    }
    for (const event of await follower.poll()) write(describeEvent(event))
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}
