import test from 'ava'
import { type Job, JobQueue } from '../../src/market/provider/job-queue.ts'

// The provider's awarded jobs: bounded queue, bounded concurrency, each (task, round) held once until it ends.

test('runs at most maxRunning at once, holds each (task, round) once until it ends, refuses past maxQueued', async t => {
  const started: string[] = []
  const failed: string[] = []
  const finish = new Map<string, () => void>()
  const queue = new JobQueue({
    maxQueued: 2,
    maxRunning: 2,
    run: async (job) => {
      started.push(job.taskId)
      await new Promise<void>(resolve => finish.set(job.taskId, resolve))
      if (job.taskId === 'c') throw new Error('boom')
    },
    onError: (job) => { failed.push(job.taskId) }
  })
  const job = (taskId: string, round = 0): Job => ({ taskId, round, seenAtMs: 0 })
  t.true(queue.push(job('a')))
  t.true(queue.push(job('b')))
  t.false(queue.push(job('a')), 'held while running')
  t.true(queue.push(job('a', 1)), 'another round of the task is another job')
  t.true(queue.push(job('c')))
  t.false(queue.push(job('d')), 'two queued: full')
  t.deepEqual(started, ['a', 'b'])
  finish.get('a')?.()
  await new Promise(resolve => setImmediate(resolve))
  t.deepEqual(started, ['a', 'b', 'a'])
  t.false(queue.has('a', 0), 'released once it ended')
  t.true(queue.push(job('a')), 'and may be queued again')
  finish.get('b')?.()
  await new Promise(resolve => setImmediate(resolve))
  t.deepEqual(started, ['a', 'b', 'a', 'c'])
  finish.get('c')?.()
  await new Promise(resolve => setImmediate(resolve))
  t.deepEqual(failed, ['c'], 'a failed job is reported, and the queue goes on')
  t.deepEqual(started, ['a', 'b', 'a', 'c', 'a'])
})
