/**
 * A provider's claims of one round (src/market/provider/input-claims.ts) against the task as its market state shows
 * it: a judge silent past its window is appealed; `unavailable` ends the round; claims the node does not admit are
 * sent at most MAX_INPUT_CLAIMS times in all.
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
  return { txId: `${attempt}`.repeat(64), provider: ME, round: 0, attempt, timeMs, keyRevealed: false, dueAtMs: timeMs, holdsSlashUntilMs }
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
    r.view[1] = { ...r.view[1], verdict: { outcome: 'unavailable', validator: 'hmy1judge', txId: 'ee'.repeat(32), timeMs: now + 100 }, holdsSlashUntilMs: undefined }
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
