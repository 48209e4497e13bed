/**
 * `harmonyd devnet --demo`'s lines: the follower reports each new award, result and slash once, and each line names
 * the one it reports (a poll that sees two results of a redundant task prints both providers, not the last twice).
 */
import test from 'ava'
import { describeEvent } from '../../src/cli/devnet-demo.ts'
import { TaskFollower } from '../../src/cli/market-workload.ts'
import type { HarmonyClient } from '../../src/sdk/index.ts'
import type { TaskRecord } from '../../src/sdk/market.ts'

const TASK = `0x${'ab'.repeat(32)}`
const P1 = `hmy1${'1'.repeat(38)}`
const P2 = `hmy1${'2'.repeat(38)}`

function task (over: Partial<TaskRecord>): TaskRecord {
  return {
    taskId: TASK,
    state: 'bidding',
    kernel: 'matmul',
    params: { m: 8, n: 8, k: 8 },
    budget: '10000000000000000',
    redundancy: 2,
    verification: 'redundancy',
    bidWindowMs: 1500,
    bidCount: 0,
    awards: [],
    results: [],
    slashes: [],
    settlement: null,
    escrow: '20000000000000000',
    ...over
  } as unknown as TaskRecord
}

const result = (provider: string, commitment: string): TaskRecord['results'][number] => ({ provider, outputBytes: 256, commitment } as unknown as TaskRecord['results'][number])

test('a poll that sees two results at once reports each with its own provider', async (t) => {
  const seen = [
    task({}),
    task({ state: 'executing', awards: [{ round: 0, winners: [P1, P2], considered: ['a', 'b'], spotChecker: null }] as unknown as TaskRecord['awards'] }),
    task({
      state: 'verifying',
      awards: [{ round: 0, winners: [P1, P2], considered: ['a', 'b'], spotChecker: null }] as unknown as TaskRecord['awards'],
      results: [result(P1, '11'.repeat(32)), result(P2, '22'.repeat(32))]
    })
  ]
  let poll = 0
  const client = { call: async (method: string) => { t.is(method, 'task_get'); return seen[poll] } } as unknown as HarmonyClient
  const follower = new TaskFollower(client)
  follower.follow(TASK)
  const lines: string[] = []
  for (; poll < seen.length; poll++) for (const e of await follower.poll()) lines.push(describeEvent(e))
  t.is(lines.length, 4)
  t.regex(lines[0], /announced: matmul/)
  t.regex(lines[1], /awarded \(round 0, 2 valid bids\) to hmy1111111…, hmy1222222…/)
  t.regex(lines[2], /result from hmy1111111…: 256 B, commitment 111111111111…/)
  t.regex(lines[3], /result from hmy1222222…: 256 B, commitment 222222222222…/)
  t.is(follower.following, 1, 'a task not ended is still followed')
  t.notRegex(lines[0], /private/)
  t.regex(describeEvent({ kind: 'announced', taskId: TASK, atMs: 0, task: task({ private: true }) }), /, private \(inputs and output sealed/)
})
