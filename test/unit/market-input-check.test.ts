import test from 'ava'
import { InputChecks } from '../../src/market/provider/input-check.ts'
import { waitFor } from '../helpers/dag-net.ts'

// The provider's check, between its commit and its reveal, that a task's inputs are served (ProviderBlobs.available:
// true, false only when every peer asked said no, undefined when that cannot be told).

const task = (taskId: string, requester: string, inputs: string[], over: { private?: boolean } = {}): { taskId: string, requester: string, inputs: string[], private: boolean } =>
  ({ taskId: taskId.repeat(32), requester, inputs: inputs.map(i => i.repeat(32)), private: over.private ?? false })

test('only a "no" for an input holds the reveal back; an unknown answer or a private task does not', async t => {
  const answers = new Map<string, boolean | undefined>([['a1'.repeat(32), true], ['a2'.repeat(32), false], ['a3'.repeat(32), undefined]])
  const asked: string[] = []
  const checks = new InputChecks({ available: async (of, ids) => ids.map(id => { asked.push(`${of.taskId.slice(0, 2)}:${id.slice(0, 2)}`); return answers.get(id) }) })
  const never = new AbortController().signal
  checks.start(task('b1', 'r1', ['a1', 'a2', 'a3']), never)
  checks.start(task('b2', 'r2', ['a3', 'a1']), never)
  checks.start(task('b3', 'r3', ['a2'], { private: true }), never)
  await waitFor(() => checks.missing('b1'.repeat(32)) !== undefined, 'the missing input found', 5000)
  t.is(checks.missing('b1'.repeat(32)), `no peer serves input ${'a2'.repeat(32)}`)
  await waitFor(() => asked.length === 5, 'the second task asked', 5000)
  t.is(checks.missing('b2'.repeat(32)), undefined, 'a busy or silent peer is not a "no"')
  t.is(checks.missing('b3'.repeat(32)), undefined, 'a private task\'s inputs are sealed after the award: not checked')
  t.deepEqual(asked.filter(x => x.startsWith('b1')), ['b1:a1', 'b1:a2', 'b1:a3'], 'every input is asked about')
  checks.forget('b1'.repeat(32))
  t.is(checks.missing('b1'.repeat(32)), undefined)
})

test('every bid is checked, a requester that served before too; the node likely to hold the inputs is named to ask first', async t => {
  let serves = true
  const firsts: Array<string | undefined> = []
  const checks = new InputChecks({ available: async (_task, ids, _signal, first) => { firsts.push(first); return ids.map(() => serves) } })
  const never = new AbortController().signal
  checks.start(task('c1', 'r1', ['a1']), never, 'hmy1author')
  await waitFor(() => firsts.length === 1, 'the first check', 5000)
  t.is(checks.missing('c1'.repeat(32)), undefined)
  serves = false
  checks.start(task('c2', 'r1', ['a1']), never)
  await waitFor(() => checks.missing('c2'.repeat(32)) !== undefined, 'the same requester checked again', 5000)
  t.deepEqual(firsts, ['hmy1author', undefined])
})
