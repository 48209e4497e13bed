import test from 'ava'
import { liveStatus, statusLine, type NodeStatusSample } from '../../src/cli/devnet.ts'

const sample = (finalTxs: number, atMs: number, finalityP50Ms = 180, busyRefusals = 0): NodeStatusSample => ({
  health: { state: 'running', peers: 3, uptimeSeconds: 65 },
  stats: { finalTxs, finalityP50Ms, processing: 2, mempool: 5, busyRefusals },
  atMs
})

test('the live status line shows final tx/s since the previous sample, finality p50, refusals per second and what is pending', (t) => {
  const line = statusLine(1, sample(1500, 12_000, 180, 300), sample(500, 10_000, 180, 100))
  t.regex(line, /^ {2}node 1 {2}running\s+peers\s+3 {2}final\s+500\.0 tx\/s {2}finality p50\s+180 ms {2}busy\s+100\.0\/s {2}pending\s+7 {2}uptime 1m05s$/)
  t.regex(statusLine(0, sample(10, 1000), undefined), /final\s+0\.0 tx\/s/, 'no rate before a second sample')
  t.is(statusLine(2, undefined, sample(10, 1000)), '  node 2  down')
})

test('the live status block: each node\'s line under the devnet\'s uptime, a node that does not answer as down, appended or redrawn in place', async (t) => {
  const answering = (finalTxs: () => number) => ({
    call: async (method: string): Promise<never> => (method === 'node_health'
      ? { state: 'running', peers: 1, uptimeSeconds: 5 }
      : { finalTxs: finalTxs(), finalityP50Ms: 120, processing: 0, mempool: 1, busyRefusals: 0 }) as never
  })
  const silent = { call: async (): Promise<never> => { throw new Error('connection refused') } }
  for (const redraw of [false, true]) {
    let finalTxs = 0
    const blocks: string[] = []
    const timer = liveStatus([answering(() => (finalTxs += 100)), silent] as never, { intervalMs: 20, redraw, write: (text) => blocks.push(text) })
    await new Promise<void>(resolve => {
      const check = setInterval(() => { if (blocks.length >= 2) { clearInterval(check); resolve() } }, 5)
    })
    clearInterval(timer)
    const [first, second] = blocks
    t.regex(first, /status \(devnet up 0m0\ds\)\n/)
    t.regex(first, /node 0 {2}running\s+peers\s+1 {2}final\s+0\.0 tx\/s {2}finality p50\s+120 ms/)
    t.regex(first, /node 1 {2}down\n$/)
    // the second sample has a rate: 100 more final transactions since the first
    t.regex(second, /node 0 {2}running\s+peers\s+1 {2}final\s+[1-9][\d.]* tx\/s/)
    if (redraw) t.true(second.startsWith('\x1b[3A'), 'a terminal\'s block moves up over the three lines it drew')
    else t.false(second.includes('\x1b['), 'an appended block carries no terminal escapes')
  }
})
