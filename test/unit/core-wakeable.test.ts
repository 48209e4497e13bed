// The service loops' sleeps: a deadline already past waits one event-loop turn (no negative timeout, which Node
// warns about), a wake while nobody sleeps ends the next sleep at once, an abort ends a sleep.
import test from 'ava'
import { sleep, Wakeable } from '../../src/core/wakeable.ts'

test.serial('past deadlines, a kept wake and an abort end sleeps; no negative-timeout warning', async t => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.name) }
  process.on('warning', onWarning)
  try {
    const never = new AbortController().signal
    await sleep(-35, never)
    const w = new Wakeable()
    await w.sleep(-5, never)
    w.wake()
    let ended = false
    // a wake kept from before: returns at once, though the sleep asks for an hour
    await w.sleep(3_600_000, never).then(() => { ended = true })
    t.true(ended)
    const abort = new AbortController()
    const pending = w.sleep(3_600_000, abort.signal)
    abort.abort()
    await pending
    const long = sleep(3_600_000, abort.signal)
    await long
    // warnings are emitted on the next tick
    await new Promise(resolve => setImmediate(resolve))
    t.deepEqual(warnings.filter(n => n === 'TimeoutNegativeWarning'), [])
  } finally {
    process.off('warning', onWarning)
  }
})
