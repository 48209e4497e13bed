import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { pino } from 'pino'
import type { GpuCapability } from '../../src/compute/index.ts'
import { CAPABILITY_FILE, readCapability, writeCapability } from '../../src/node/capability.ts'
import { tempDir } from '../helpers/harmonyd.ts'

const MEASURED: GpuCapability = { kind: 'cpu', adapter: 'cpu reference', matmulGflops: 1.5, memoryBandwidthGBps: 3, fp32PeakGflops: 2, measuredAt: '2026-12-06T07:00:00.000Z' }

/** A logger that keeps its warnings as parsed JSON lines. */
function warningLog (): { logger: pino.Logger, warnings: Array<{ path: string, reason: string, msg: string }> } {
  const warnings: Array<{ path: string, reason: string, msg: string }> = []
  return { logger: pino({ level: 'warn' }, { write: (line: string) => { warnings.push(JSON.parse(line) as never) } }), warnings }
}

test('a broken capability.json is ignored with a warning naming the file and why: not JSON, not a capability, too large', async (t) => {
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['not JSON', '{"matmulGflops": 12', /^it is not JSON \(.+\)$/],
    ['wrong shape', JSON.stringify({ ...MEASURED, matmulGflops: 'fast' }), /^it is not a capability: matmulGflops: .+/],
    ['not an object', '[]', /^it is not a capability: .+/],
    ['too large', Buffer.alloc(65 * 1024, 0x20), /^cannot read it: it is larger than 65536 bytes/]
  ]
  for (const [label, content, reason] of cases) {
    await using d = await tempDir()
    const path = join(d.path, CAPABILITY_FILE)
    await writeFile(path, content)
    const { logger, warnings } = warningLog()
    t.is(await readCapability(d.path, logger), undefined, label)
    t.is(warnings.length, 1, label)
    t.is(warnings[0].path, path, label)
    t.regex(warnings[0].reason, reason, label)
    t.is(warnings[0].msg, `ignoring ${path}: ${warnings[0].reason}; run 'harmonyd bench gpu' to measure again`, label)
  }
})

test('no capability.json (no bench run yet) says nothing; a measured one is read back without a warning', async (t) => {
  await using d = await tempDir()
  const { logger, warnings } = warningLog()
  t.is(await readCapability(d.path, logger), undefined)
  await writeCapability(d.path, MEASURED)
  t.deepEqual(await readCapability(d.path, logger), MEASURED)
  t.deepEqual(warnings, [])
})
