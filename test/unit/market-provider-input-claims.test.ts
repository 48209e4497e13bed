/**
 * A provider's claims of one round (src/market/provider/input-claims.ts) against the task as its market state shows
 * it: a judge silent past its window is appealed; an `unavailable` that a second judge must confirm is appealed, and
 * one that excuses ends the round; claims the node does not admit are sent at most MAX_INPUT_CLAIMS times in all.
 */
import test from 'ava'
import { silentLogger } from '../../src/core/logger.ts'
import { InputClaims } from '../../src/market/provider/input-claims.ts'
import { INPUT_JUDGE_WINDOW_MS, MAX_INPUT_CLAIMS } from '../../src/market/rules/constants.ts'
import type { TaskView } from '../../src/market/state/reader.ts'

const ME = 'hmy1provider'
const TASK = 'ab'.repeat(32)
type Claim = TaskView['inputClaims'][number]

/** The provider's claims as its node's market state would list them; `submit` appends what `apply` says. */
function rig (apply: (attempt: number) => Claim | undefined): { claims: InputClaims, view: Claim[], sent: number[] } {
  const view: Claim[] = []
  const sent: number[] = []
  const claims = new InputClaims({
    address: ME,
    market: { task: async () => ({ taskId: TASK, inputClaims: [...view] }) as unknown as TaskView },
    submit: async ({ attempt }) => {
      sent.push(attempt)
      const c = apply(attempt)
      if (c === undefined) return undefined
      view.push(c)
      return `tx${attempt}`
    },
    log: silentLogger()
  })
  return { claims, view, sent }
}

function claim (attempt: number, timeMs: number, holdsSlashUntilMs: number): Claim {
  return { txId: `${attempt}`.repeat(64), provider: ME, round: 0, attempt, timeMs, keyRevealed: false, dueAtMs: timeMs, holdsSlashUntilMs, excused: false }
}

test('a judge silent past its window: the provider appeals (claim 1), and an `unavailable` on the appeal ends the round', async (t) => {
  const now = Date.now()
  const r = rig(attempt => attempt === 0
    // stamped as long ago as the judge's window and a little more: no verdict can come any more
    ? claim(0, now - INPUT_JUDGE_WINDOW_MS - 6000, now + 20_000)
    : claim(attempt, now, now + 60_000))
  const runs: number[] = []
  const outcome = r.claims.resolve({ taskId: TASK, round: 0 }, 'no peer served an input', AbortSignal.timeout(20_000), true, async (due) => { runs.push(due); return 'ran' })
  // the appeal's judge answers
  const answered = (async () => {
    while (r.view.length < 2) await new Promise(resolve => setTimeout(resolve, 50))
    r.view[1] = { ...r.view[1], verdict: { outcome: 'unavailable', validator: 'hmy1judge', txId: 'ee'.repeat(32), timeMs: now + 100 }, holdsSlashUntilMs: undefined, excused: true }
  })()
  t.deepEqual(await outcome, { excused: true })
  await answered
  t.deepEqual(r.sent, [0, 1], 'the first claim, then one appeal')
  t.deepEqual(runs, [], 'nothing ran: the inputs were never found')
})

test('claims the node does not admit are sent at most MAX_INPUT_CLAIMS times in all, then the round is given up', async (t) => {
  const now = Date.now()
  // the first claim is admitted and its judge stays silent; every appeal is refused at admission
  const r = rig(attempt => attempt === 0 ? claim(0, now - INPUT_JUDGE_WINDOW_MS - 6000, now + 20_000) : undefined)
  const outcome = await r.claims.resolve({ taskId: TASK, round: 0 }, 'no peer served an input', AbortSignal.timeout(20_000), true, async () => 'ran')
  t.deepEqual(outcome, { excused: false })
  t.is(r.sent.length, MAX_INPUT_CLAIMS)
  t.deepEqual(r.sent, [0, 1, 1], 'each appeal names the next claim of the round')
})

test('one judge\'s `unavailable` that does not excuse alone: the provider appeals for a second judge, whose `unavailable` ends the round', async (t) => {
  const now = Date.now()
  const judged = (c: Claim, validator: string, excused: boolean): Claim =>
    ({ ...c, verdict: { outcome: 'unavailable', validator, txId: `${c.attempt}f`.repeat(32), timeMs: now }, holdsSlashUntilMs: excused ? undefined : now + 60_000, excused })
  // the first claim's judge answers at once: `unavailable`, one judge of the two needed
  const r = rig(attempt => attempt === 0 ? judged(claim(0, now, now + 60_000), 'hmy1judgeA', false) : claim(attempt, now, now + 60_000))
  const runs: number[] = []
  const outcome = r.claims.resolve({ taskId: TASK, round: 0 }, 'no peer served an input', AbortSignal.timeout(20_000), true, async (due) => { runs.push(due); return 'ran' })
  const answered = (async () => {
    while (r.view.length < 2) await new Promise(resolve => setTimeout(resolve, 50))
    // the second judge concurs: both claims now excuse the provider
    r.view[0] = { ...r.view[0], excused: true, holdsSlashUntilMs: undefined }
    r.view[1] = judged(r.view[1], 'hmy1judgeB', true)
  })()
  t.deepEqual(await outcome, { excused: true })
  await answered
  t.deepEqual(r.sent, [0, 1], 'the first claim, then the appeal for a second judge')
  t.deepEqual(runs, [], 'nothing ran')
  // the view's `excused` decides: with it, the round is over (no appeal is left to send)
  t.is(r.claims.workUntil({ inputClaims: [...r.view] } as unknown as TaskView, 0, now + 10_000), -Infinity)
  t.is(r.claims.workUntil({ inputClaims: [judged(claim(0, now, now + 60_000), 'hmy1judgeA', false)] } as unknown as TaskView, 0, now + 10_000), now + 60_000, 'an unconfirmed `unavailable` is worked on until its hold ends')
})
