// `harmonyd task status`'s text: an input claim shows with its verdict (or what the late slash waits for);
// `harmonyd provider status`'s: why the registration the provider wants is not on the DAG yet.
import test from 'ava'
import { providerReport, taskReport } from '../../src/cli/market-format.ts'
import type { RpcResultOf } from '../../src/sdk/index.ts'

type Task = NonNullable<RpcResultOf<'task_get'>>
const A = 'hmy1' + 'a'.repeat(48)
const B = 'hmy1' + 'b'.repeat(48)
const V = 'hmy1' + 'c'.repeat(48)

function task (inputClaims: Task['inputClaims']): Task {
  return {
    taskId: '0x' + '11'.repeat(32), state: 'awarded', requester: A, kernel: 'matmul', params: { m: 2, k: 2, n: 2 }, inputs: ['22'.repeat(32)],
    budget: '1000', escrow: '2000', verification: 'redundancy', redundancy: 2, k: 2, private: false, bidWindowMs: 1000, revealWindowMs: 500,
    executionDeadlineMs: 6000, announcedAtMs: 0, announceTx: '0x' + '33'.repeat(32),
    awards: [{ round: 0, winners: [A, B], spotChecker: null, atMs: 2000 }], results: [], slashes: [], inputClaims, settlement: null
  } as unknown as Task
}

test('task status shows each input claim with its verdict, or how long the late slash waits for one', (t) => {
  const text = taskReport(task([
    { provider: A, round: 0, attempt: 0, keyRevealed: false, atMs: 2500, txId: '0x01', verdict: { outcome: 'unavailable', validator: V, atMs: 3000, txId: '0x02' }, dueAtMs: 8000, holdsSlashUntilMs: null, excused: true },
    { provider: B, round: 0, attempt: 0, keyRevealed: false, atMs: 2600, txId: '0x03', verdict: { outcome: 'available', validator: V, atMs: 3100, txId: '0x04' }, dueAtMs: 9100, holdsSlashUntilMs: null, excused: false }
  ]), null)
  t.true(text.includes(`input claim ${A} round 0 at 1970-01-01T00:00:02.500Z: unavailable by ${V} at 1970-01-01T00:00:03.000Z: excused, not late`), text)
  t.true(text.includes(`input claim ${B} round 0 at 1970-01-01T00:00:02.600Z: available by ${V} at 1970-01-01T00:00:03.100Z; result due by 1970-01-01T00:00:09.100Z`), text)
  // one judge's `unavailable` that a second must confirm holds the late slash
  const unconfirmed = taskReport(task([{ provider: A, round: 0, attempt: 0, keyRevealed: false, atMs: 2500, txId: '0x01', verdict: { outcome: 'unavailable', validator: V, atMs: 3000, txId: '0x02' }, dueAtMs: 8000, holdsSlashUntilMs: 63_000, excused: false }]), null)
  t.true(unconfirmed.includes(`unavailable by ${V} at 1970-01-01T00:00:03.000Z: a second judge must confirm it (the late slash waits until 1970-01-01T00:01:03.000Z)`), unconfirmed)
  const waiting = taskReport(task([{ provider: A, round: 0, attempt: 0, keyRevealed: false, atMs: 2500, txId: '0x01', verdict: null, dueAtMs: 8000, holdsSlashUntilMs: 62_500, excused: false }]), null)
  t.true(waiting.includes('no verdict yet (the late slash waits until 1970-01-01T00:01:02.500Z)'), waiting)
  // an appeal left without a verdict after two judges' `unavailable` excused the claimant
  const after = taskReport(task([{ provider: A, round: 0, attempt: 2, keyRevealed: false, atMs: 2500, txId: '0x01', verdict: null, dueAtMs: 8000, holdsSlashUntilMs: null, excused: true }]), null)
  t.true(after.includes('no verdict yet (excused already by the other claims\' verdicts)'), after)
  t.false(taskReport(task([]), null).includes('input claim'))
  // an appeal says so
  const appeal = taskReport(task([{ provider: A, round: 0, attempt: 1, keyRevealed: false, atMs: 2500, txId: '0x01', verdict: null, dueAtMs: 8000, holdsSlashUntilMs: 62_500, excused: false }]), null)
  t.true(appeal.includes(`input claim ${A} round 0 (appeal 1) at 1970-01-01T00:00:02.500Z: no verdict yet`), appeal)
  // a private task's claim that revealed its task key says so
  const revealed = taskReport(task([{ provider: A, round: 0, attempt: 1, keyRevealed: true, atMs: 2500, txId: '0x01', verdict: null, dueAtMs: 8000, holdsSlashUntilMs: 62_500, excused: false }]), null)
  t.true(revealed.includes(`input claim ${A} round 0 (appeal 1; key revealed: envelopes did not open) at`), revealed)
})

type ProviderStatus = RpcResultOf<'provider_status'>

function providerStatus (registrationWait: ProviderStatus['registrationWait'], registered: boolean): ProviderStatus {
  return {
    address: A, enabled: true, registered, registrationWait,
    provider: registered
      ? { address: A, bond: '50000000000000000000', kemKeyHash: '44'.repeat(32), capability: { executor: 'cpu', adapter: 'CPU reference executor', memoryMiB: 1024, gflops: 0.1, profile: 'cpu-ref-v1' }, attestation: null, reputation: 0, verified: 0, faults: 1, lates: 0, received: '0', owed: '0', openTasks: [], registeredAtMs: 1000, lastHeartbeatMs: null }
      : null,
    pricing: { perGflop: '1', minimum: '1', capacity: 4 }, active: [], skipped: [],
    payments: { owed: [], received: [], stuck: [], slashed: [] }, inputClaims: []
  }
}

test('provider status says why the provider is not registered yet, or why a registered one registers again', (t) => {
  const AGC = 10n ** 18n
  const unfunded = providerReport(providerStatus({ reason: 'unfunded', atMs: 5000, balance: '0', needed: (100n * AGC + 10n ** 15n).toString(), txId: null, error: null }, false))
  t.regex(unfunded, /^registered {2}no: waiting for funds since .*: the account holds 0 AGC \(0\), bond and fee need 100\.001 AGC \(100001000000000000000\) \(send to hmy1a+\)$/m)
  const submitted = providerReport(providerStatus({ reason: 'submitted', atMs: 5000, balance: null, needed: null, txId: '0x' + '55'.repeat(32), error: null }, false))
  t.regex(submitted, /^registered {2}no: submitted at .* in 0x(55){32}, not final yet$/m)
  const failed = providerReport(providerStatus({ reason: 'failed', atMs: 5000, balance: null, needed: null, txId: null, error: 'node busy' }, false))
  t.regex(failed, /^registered {2}no: the last try failed at .*: node busy \(tried again on its own\)$/m)
  // slashed below the bond it wants: registered, and topping up once funded
  const topUp = providerReport(providerStatus({ reason: 'unfunded', atMs: 5000, balance: '7', needed: (50n * AGC).toString(), txId: null, error: null }, true))
  t.regex(topUp, /^registered {2}yes, at /m)
  t.regex(topUp, /^re-register waiting for funds since .*: the account holds .*, bond and fee need 50 AGC/m)
  const settled = providerReport(providerStatus(null, true))
  t.false(/re-register|waiting for funds/.test(settled))
  t.is(providerReport(providerStatus(null, false)).split('\n')[1], 'registered  no')
})
