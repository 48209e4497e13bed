// `harmonyd task status`'s text: an input claim shows with its verdict (or what the late slash waits for).
import test from 'ava'
import { taskReport } from '../../src/cli/market-format.ts'
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
    { provider: A, round: 0, attempt: 0, keyRevealed: false, atMs: 2500, txId: '0x01', verdict: { outcome: 'unavailable', validator: V, atMs: 3000, txId: '0x02' }, dueAtMs: 8000, holdsSlashUntilMs: null },
    { provider: B, round: 0, attempt: 0, keyRevealed: false, atMs: 2600, txId: '0x03', verdict: { outcome: 'available', validator: V, atMs: 3100, txId: '0x04' }, dueAtMs: 9100, holdsSlashUntilMs: null }
  ]), null)
  t.true(text.includes(`input claim ${A} round 0 at 1970-01-01T00:00:02.500Z: unavailable by ${V} at 1970-01-01T00:00:03.000Z: not late`), text)
  t.true(text.includes(`input claim ${B} round 0 at 1970-01-01T00:00:02.600Z: available by ${V} at 1970-01-01T00:00:03.100Z; result due by 1970-01-01T00:00:09.100Z`), text)
  const waiting = taskReport(task([{ provider: A, round: 0, attempt: 0, keyRevealed: false, atMs: 2500, txId: '0x01', verdict: null, dueAtMs: 8000, holdsSlashUntilMs: 62_500 }]), null)
  t.true(waiting.includes('no verdict yet (the late slash waits until 1970-01-01T00:01:02.500Z)'), waiting)
  t.false(taskReport(task([]), null).includes('input claim'))
  // an appeal says so
  const appeal = taskReport(task([{ provider: A, round: 0, attempt: 1, keyRevealed: false, atMs: 2500, txId: '0x01', verdict: null, dueAtMs: 8000, holdsSlashUntilMs: 62_500 }]), null)
  t.true(appeal.includes(`input claim ${A} round 0 (appeal 1) at 1970-01-01T00:00:02.500Z: no verdict yet`), appeal)
  // a private task's claim that revealed its task key says so
  const revealed = taskReport(task([{ provider: A, round: 0, attempt: 1, keyRevealed: true, atMs: 2500, txId: '0x01', verdict: null, dueAtMs: 8000, holdsSlashUntilMs: 62_500 }]), null)
  t.true(revealed.includes(`input claim ${A} round 0 (appeal 1; key revealed: envelopes did not open) at`), revealed)
})
