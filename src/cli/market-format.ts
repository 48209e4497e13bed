/** How the market commands show amounts, times and records to a person (JSON output keeps the raw strings). */
import { formatAgc } from '../dag/wallet.ts'
import type { RpcResultOf } from '../sdk/index.ts'

type Task = NonNullable<RpcResultOf<'task_get'>>
type Bids = NonNullable<RpcResultOf<'market_bids'>>

/** `1.5 AGC (1500000000000000000)`: AGC for reading, base units for exactness. */
export function amount (base: string): string {
  return `${formatAgc(BigInt(base))} AGC (${base})`
}

export function time (ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString()
}

/** What an input claim's verdict leaves: a deadline (`available`), an excuse, or a second judge awaited. */
function verdictNote (c: Task['inputClaims'][number]): string {
  if (c.verdict?.outcome === 'available') return `; result due by ${time(c.dueAtMs)}`
  if (c.excused) return ': excused, not late'
  return `: a second judge must confirm it (the late slash waits until ${time(c.holdsSlashUntilMs)})`
}

/** One line per task for `task list`. */
export function taskLine (t: Task): string {
  return `${t.taskId}  ${t.state.padEnd(9)}  ${t.kernel.padEnd(8)}  r=${t.redundancy} ${t.verification.padEnd(10)}  budget ${formatAgc(BigInt(t.budget))} AGC  ${t.private ? 'private' : 'public'}`
}

/** `task status`: the task, its award rounds, results, settlement and bids with why each lost. */
export function taskReport (t: Task, bids: Bids | null): string {
  const lines = [
    `task        ${t.taskId}`,
    `state       ${t.state}`,
    `requester   ${t.requester}`,
    `kernel      ${t.kernel} ${JSON.stringify(t.params)}`,
    `inputs      ${t.inputs.length === 0 ? '-' : t.inputs.join(', ')}`,
    `budget      ${amount(t.budget)} per replica; escrow ${amount(t.escrow)}`,
    `verify      ${t.verification} (r=${t.redundancy}, k=${t.k})${t.private ? ', private' : ''}`,
    `windows     bid ${t.bidWindowMs} ms, reveal ${t.revealWindowMs} ms, execution ${t.executionDeadlineMs} ms`,
    `announced   ${time(t.announcedAtMs)} (${t.announceTx})`
  ]
  for (const a of t.awards) {
    lines.push(`award #${a.round}    ${a.winners.join(', ')}${a.spotChecker === null ? '' : `; spot-check ${a.spotChecker}`} at ${time(a.atMs)}`)
  }
  for (const r of t.results) {
    lines.push(`result      ${r.provider} round ${r.round}: ${r.commitment} (${r.outputBytes} B, ${r.profile}) ${r.verdict}`)
  }
  for (const c of t.inputClaims) {
    const verdict = c.verdict === null
      ? `no verdict yet (${c.excused ? 'excused already by the other claims\' verdicts' : `the late slash waits until ${time(c.holdsSlashUntilMs)}`})`
      : `${c.verdict.outcome} by ${c.verdict.validator} at ${time(c.verdict.atMs)}${verdictNote(c)}`
    const how = [...(c.attempt > 0 ? [`appeal ${c.attempt}`] : []), ...(c.keyRevealed ? ['key revealed: envelopes did not open'] : [])]
    lines.push(`input claim ${c.provider} round ${c.round}${how.length > 0 ? ` (${how.join('; ')})` : ''} at ${time(c.atMs)}: ${verdict}`)
  }
  for (const x of t.slashes) lines.push(`slashed     ${x.provider} ${amount(x.amount)} (${x.reason}) at ${time(x.atMs)}`)
  if (t.settlement !== null) {
    const s = t.settlement
    lines.push(`settled     ${s.outcome} at ${time(s.atMs)}: fee ${amount(s.fee)}, refund ${amount(s.refund)}`)
    for (const p of s.payouts) lines.push(`  paid      ${p.provider} ${amount(p.amount)}`)
  }
  if (bids !== null) {
    lines.push(`bids        ${bids.bids.length}${bids.note === null ? '' : ` (${bids.note})`}`)
    for (const b of bids.bids) {
      const price = b.price === null ? 'sealed' : amount(b.price)
      lines.push(`  ${b.status.padEnd(10)} ${b.provider}  ${price}${b.reason === null ? '' : `  why: ${b.reason}`}`)
    }
  }
  return lines.join('\n')
}

/** Why the registration the provider wants is not on the DAG yet, in words. */
function registrationWaitLine (w: NonNullable<RpcResultOf<'provider_status'>['registrationWait']>, address: string): string {
  switch (w.reason) {
    case 'unfunded': return `waiting for funds since ${time(w.atMs)}: the account holds ${amount(w.balance ?? '0')}, bond and fee need ${amount(w.needed ?? '0')} (send to ${address})`
    case 'submitted': return `submitted at ${time(w.atMs)} in ${w.txId ?? '?'}, not final yet`
    case 'failed': return `the last try failed at ${time(w.atMs)}: ${w.error ?? 'unknown error'} (tried again on its own)`
  }
}

/** `provider status`. */
export function providerReport (s: RpcResultOf<'provider_status'>): string {
  const lines = [`provider    ${s.address} (${s.enabled ? 'enabled' : 'disabled on this node'})`]
  const p = s.provider
  const wait = s.registrationWait === null ? undefined : registrationWaitLine(s.registrationWait, s.address)
  if (p === null) {
    lines.push(`registered  no${wait === undefined ? '' : `: ${wait}`}`)
  } else {
    lines.push(
      `registered  yes, at ${time(p.registeredAtMs)}`,
      `bond        ${amount(p.bond)}`,
      `capability  ${p.capability.executor} ${p.capability.adapter}, ${p.capability.memoryMiB} MiB, ${p.capability.gflops} GFLOP/s, profile ${p.capability.profile}`,
      `attested    ${p.attestation === null ? 'not yet' : `${p.attestation.passed ? 'passed' : 'FAILED'} (${p.attestation.measuredGflops} GFLOP/s measured, ${time(p.attestation.atMs)})`}`,
      `reputation  ${p.reputation} (${p.verified} verified, ${p.faults} faults, ${p.lates} late)`
    )
    // registered, but not as it wants to be (a slashed bond to top up, a new key or capability)
    if (wait !== undefined) lines.push(`re-register ${wait}`)
  }
  if (s.pricing !== null) lines.push(`pricing     ${amount(s.pricing.perGflop)} per GFLOP, minimum ${amount(s.pricing.minimum)}, capacity ${s.pricing.capacity}`)
  lines.push(`active      ${s.active.length === 0 ? '-' : s.active.map(a => `${a.taskId} (${a.stage})`).join(', ')}`)
  for (const k of s.skipped) lines.push(`  no bid    ${k.taskId}: ${k.reason}`)
  const { owed, received, stuck, slashed } = s.payments
  lines.push(`payments    ${received.length} received, ${owed.length} owed, ${stuck.length} stuck, ${slashed.length} slashes`)
  for (const x of received) lines.push(`  received  ${x.taskId} ${amount(x.amount)} at ${time(x.atMs)}`)
  for (const x of owed) lines.push(`  owed      ${x.taskId} ${amount(x.amount)}`)
  for (const x of stuck) lines.push(`  STUCK     ${x.taskId} ${amount(x.amount)} (past the verification window, no settle final)`)
  for (const x of slashed) lines.push(`  slashed   ${x.taskId} ${amount(x.amount)}: ${x.reason}`)
  return lines.join('\n')
}
