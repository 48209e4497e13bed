/** The stored record of a confirmed deposit waiting for its DAG credit (`chain` sublevel, bridgeDeposit prefix). */
export interface PendingDeposit {
  txHash: string
  logIndex: number
  depositId: bigint
  dagAccount: string
  amount: bigint
  seenAtMs: number
  lastSubmitMs: number
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

export function encodePendingDeposit (p: PendingDeposit): Uint8Array {
  return enc(JSON.stringify({ ...p, depositId: p.depositId.toString(), amount: p.amount.toString() }))
}

/** Throws on a malformed record; the timers restart (a restart counts as first seen now). */
export function decodePendingDeposit (bytes: Uint8Array): PendingDeposit {
  const j = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, string | number>
  return { txHash: String(j.txHash), logIndex: Number(j.logIndex), depositId: BigInt(j.depositId), dagAccount: String(j.dagAccount), amount: BigInt(j.amount), seenAtMs: Date.now(), lastSubmitMs: 0 }
}
