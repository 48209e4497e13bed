import test from 'ava'
import { BoundedCache, BoundedSet } from '../../src/core/bounded-set.ts'

test('a bounded set keeps the newest keys up to its limit; adding one held moves it to the newest and says it was held', (t) => {
  const s = new BoundedSet(3)
  t.true(s.add('a'))
  t.true(s.add('b'))
  t.true(s.add('c'))
  t.false(s.add('a'), 'already held')
  t.true(s.add('d'))
  // b was the oldest once a moved to the newest
  t.deepEqual(['a', 'b', 'c', 'd'].filter(k => s.has(k)), ['a', 'c', 'd'])
  t.is(s.size, 3)
  t.true(s.delete('c'))
  t.false(s.has('c'))
  const one = new BoundedSet(0)
  one.add('x')
  one.add('y')
  t.deepEqual([one.has('x'), one.has('y'), one.size], [false, true, 1], 'a limit below 1 keeps one')
})

test('a bounded cache keeps at most its limit of entries, forgetting the oldest added; setting one held replaces it in place', (t) => {
  const c = new BoundedCache<number>(2)
  c.set('a', 1)
  c.set('b', 2)
  c.set('a', 3)
  t.deepEqual([c.get('a'), c.get('b')], [3, 2], 'a replaced, nothing forgotten')
  c.set('c', 4)
  t.deepEqual([c.get('a'), c.get('b'), c.get('c')], [undefined, 2, 4], 'the oldest added (a) is forgotten')
})
