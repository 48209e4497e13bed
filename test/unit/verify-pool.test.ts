import test from 'ava'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { generateKeyPair, nodeSign } from '../../src/core/crypto.ts'
import { DagError } from '../../src/dag/errors.ts'
import { InlineVerifier, type VerifyItem, VerifyPool } from '../../src/dag/verify-pool.ts'

// Real ML-DSA-65 signatures; every third one corrupted, so a wrong or shuffled answer shows.
const key = generateKeyPair()
const signed: VerifyItem[] = Array.from({ length: 12 }, (_, i) => {
  const msg = new TextEncoder().encode(`heal ${i}`)
  const sig = nodeSign(msg, key.secretKey)
  if (i % 3 === 0) sig[7] ^= 0xff
  return { sig, msg, publicKey: key.publicKey }
})
const expectedOf = async (items: VerifyItem[]): Promise<boolean[]> => await new InlineVerifier().verifyBatch(items)
const batch = (n: number, offset = 0): VerifyItem[] => Array.from({ length: n }, (_, i) => signed[(i + offset) % signed.length])

async function metric (registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name)
  if (m === undefined) return 0
  const { values } = await m.get()
  return values.find(v => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0
}

/** Waits (on a condition, not a fixed time) until the pool has replaced the thread `threadId`. */
async function replaced (pool: VerifyPool, threadId: number): Promise<void> {
  const deadline = Date.now() + 20_000
  while (pool.threads.length < pool.workerCount || pool.threads.some(w => w.threadId === threadId)) {
    if (Date.now() > deadline) throw new Error(`thread ${threadId} was not replaced`)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

function codeOf (err: unknown): string | undefined {
  return err instanceof DagError ? err.code : undefined
}

test('a killed worker is replaced and the batches it held still resolve with the right answers', async t => {
  const registry = new Registry()
  const pool = new VerifyPool({ workers: 2, chunkSize: 4 }, registry)
  await pool.start()
  try {
    const batches = [batch(40), batch(24, 5), batch(3, 1)]
    const running = batches.map(async b => await pool.verifyBatch(b))
    t.true(pool.inFlight > 0, 'jobs are on the workers when one is killed')
    const victim = pool.threads[0].threadId
    await pool.threads[0].terminate()
    t.deepEqual(await Promise.all(running), await Promise.all(batches.map(expectedOf)))
    await replaced(pool, victim)
    t.is(pool.threads.length, 2, 'full worker count again')
    t.is(pool.queueDepth, 0)
    t.is(pool.inFlight, 0)
    t.is(await metric(registry, 'harmony_dag_verify_worker_restarts_total', { reason: 'crash' }), 1)
    t.is(await metric(registry, 'harmony_dag_verify_queue_depth'), 0)
    const after = batch(17, 2)
    t.deepEqual(await pool.verifyBatch(after), await expectedOf(after), 'a batch after the crash works')
  } finally {
    await pool.stop()
  }
})

// The kills below land while a worker is still booting or checking 2,048 signatures (hundreds of ms of work), so
// the job is on that worker when it dies.
test('a job whose worker dies twice fails with VERIFIER_FAILED and releases its counts', async t => {
  const pool = new VerifyPool({ workers: 1, chunkSize: 2048 })
  await pool.start()
  try {
    const running = pool.verifyBatch(batch(2048))
    const first = pool.threads[0].threadId
    await pool.threads[0].terminate()
    await replaced(pool, first)
    t.true(pool.inFlight > 0, 'the job was retried on the replacement')
    await pool.threads[0].terminate()
    const err = await t.throwsAsync(running)
    t.is(codeOf(err), 'VERIFIER_FAILED')
    t.is(pool.queueDepth, 0)
    t.is(pool.inFlight, 0)
    t.deepEqual(await pool.verifyBatch(batch(5)), await expectedOf(batch(5)))
  } finally {
    await pool.stop()
  }
})

test('a job that is not answered in time is rejected with VERIFY_TIMEOUT and its worker is replaced', async t => {
  const registry = new Registry()
  // 1 ms is shorter than any worker takes to boot and check 2048 signatures: this job cannot be answered in time.
  const pool = new VerifyPool({ workers: 1, chunkSize: 2048, jobTimeoutMs: 1 }, registry)
  await pool.start()
  try {
    const before = pool.threads[0].threadId
    const err = await t.throwsAsync(pool.verifyBatch(batch(2048)))
    t.is(codeOf(err), 'VERIFY_TIMEOUT')
    t.is(pool.queueDepth, 0)
    t.is(pool.inFlight, 0)
    await replaced(pool, before)
    t.is(await metric(registry, 'harmony_dag_verify_job_timeouts_total'), 1)
    t.is(await metric(registry, 'harmony_dag_verify_worker_restarts_total', { reason: 'timeout' }), 1)
  } finally {
    await pool.stop()
  }
})

test('repeated crashes trip the pool: jobs fail with VERIFIER_FAILED, a log line and a metric say so', async t => {
  const registry = new Registry()
  const lines: Array<{ level: number, msg: string }> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as { level: number, msg: string }) } })
  const pool = new VerifyPool({ workers: 1, chunkSize: 2048, maxRestarts: 2, restartWindowMs: 600_000, tripCooldownMs: 600_000, logger }, registry)
  await pool.start()
  try {
    for (let i = 0; i < 2; i++) {
      const id = pool.threads[0].threadId
      await pool.threads[0].terminate()
      await replaced(pool, id)
    }
    t.is(await metric(registry, 'harmony_dag_verify_pool_trips_total'), 0, 'two restarts are within the budget')
    const running = pool.verifyBatch(batch(2048))
    await pool.threads[0].terminate()
    t.is(codeOf(await t.throwsAsync(running)), 'VERIFIER_FAILED')
    t.is(pool.threads.length, 0, 'no worker is started again while tripped')
    t.is(codeOf(await t.throwsAsync(pool.verifyBatch(batch(3)))), 'VERIFIER_FAILED', 'new work is refused')
    t.is(pool.queueDepth, 0)
    t.is(pool.inFlight, 0)
    t.is(await metric(registry, 'harmony_dag_verify_pool_trips_total'), 1)
    t.is(await metric(registry, 'harmony_dag_verify_worker_restarts_total', { reason: 'crash' }), 3)
    t.true(lines.some(l => l.level === 50 && /keep dying/.test(l.msg)), 'an error line says the pool gave up')
    // An operator's restart (stop, start) brings it back at once.
    await pool.stop()
    await pool.start()
    t.is(pool.threads.length, 1)
    t.deepEqual(await pool.verifyBatch(batch(9)), await expectedOf(batch(9)))
  } finally {
    await pool.stop()
  }
})

test('a tripped pool starts its workers again by itself after the cool-down', async t => {
  const registry = new Registry()
  const pool = new VerifyPool({ workers: 2, maxRestarts: 0, tripCooldownMs: 50 }, registry)
  await pool.start()
  try {
    await pool.threads[0].terminate()
    const deadline = Date.now() + 20_000
    while (await metric(registry, 'harmony_dag_verify_pool_trips_total') === 0 || pool.threads.length < 2) {
      if (Date.now() > deadline) throw new Error('the pool did not come back')
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    t.is(await metric(registry, 'harmony_dag_verify_pool_trips_total'), 1)
    t.deepEqual(await pool.verifyBatch(batch(40)), await expectedOf(batch(40)))
  } finally {
    await pool.stop()
  }
})

test('stop() during work rejects every batch with NOT_RUNNING and releases every count; start() again works', async t => {
  const pool = new VerifyPool({ workers: 1, chunkSize: 8 })
  await pool.start()
  const running = [pool.verifyBatch(batch(64)), pool.verifyBatch(batch(2)), pool.verifyBatch(batch(1))]
  t.true(pool.queueDepth > 0)
  await pool.stop()
  for (const r of await Promise.allSettled(running)) {
    t.is(r.status, 'rejected')
    if (r.status === 'rejected') t.is(codeOf(r.reason), 'NOT_RUNNING')
  }
  t.is(pool.queueDepth, 0)
  t.is(pool.inFlight, 0)
  t.is(codeOf(await t.throwsAsync(pool.verifyBatch(batch(1)))), 'NOT_RUNNING')
  await pool.start()
  try {
    t.deepEqual(await pool.verifyBatch(batch(20)), await expectedOf(batch(20)))
  } finally {
    await pool.stop()
  }
})

test('the queue bound refuses at once (never waits) and room comes back when a batch settles', async t => {
  const pool = new VerifyPool({ workers: 1, chunkSize: 4, maxQueued: 8 })
  await pool.start()
  try {
    t.is(codeOf(await t.throwsAsync(pool.verifyBatch(batch(9)))), 'QUEUE_FULL', 'a batch that can never fit')
    const first = pool.verifyBatch(batch(6))
    t.is(codeOf(await t.throwsAsync(pool.verifyBatch(batch(3)))), 'QUEUE_FULL', 'no room while 6 of 8 are taken')
    t.deepEqual(await first, await expectedOf(batch(6)))
    t.is(pool.queueDepth, 0)
    t.deepEqual(await pool.verifyBatch(batch(8)), await expectedOf(batch(8)))
  } finally {
    await pool.stop()
  }
})
