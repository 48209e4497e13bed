import test from 'ava'
import { statusLine, type NodeStatusSample } from '../../src/cli/devnet.ts'

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
