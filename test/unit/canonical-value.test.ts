import test from 'ava'
import { decodeValue, encodeValue } from '../../src/core/canonical-value.ts'
import { CodecError } from '../../src/core/errors.ts'

test('values round-trip, bigints past 64 bits and maps included, and one value has one encoding whatever its insertion order', (t) => {
  const v = { b: 10n ** 30n, n: -(2n ** 70n), z: 0n, m: new Map<string, unknown>([['x', { deep: [new Uint8Array([1, 2]), undefined, null, true, false, 'ü', 1.5, -0.25] }], ['y', 1]]), u: undefined }
  // (a decoded map lists its entries by key; v's are inserted so)
  t.deepEqual(decodeValue(encodeValue(v)), v)
  const other = { u: undefined, m: new Map<string, unknown>([['y', 1], ['x', { deep: [new Uint8Array([1, 2]), undefined, null, true, false, 'ü', 1.5, -0.25] }]]), z: 0n, n: -(2n ** 70n), b: 10n ** 30n }
  t.deepEqual(encodeValue(other), encodeValue(v))
  // a Map and an object with the same entries are different values
  t.notDeepEqual(encodeValue(new Map([['a', 1]])), encodeValue({ a: 1 }))
  t.true(decodeValue(encodeValue(new Map([['a', 1]]))) instanceof Map)
})

test('anything but the one encoding is refused with a codec error', (t) => {
  const refused = (bytes: number[], why: RegExp): void => {
    const err = t.throws(() => decodeValue(Uint8Array.from(bytes)))
    t.true(err instanceof CodecError, why.source)
    t.regex(err?.message ?? '', why)
  }
  // object keys out of order: {"b":1 ... "a":1}
  const ab = encodeValue({ a: true, b: true })
  const ba = [...ab]
  // swap the two 1-byte keys (tag 9, u32 2, then u32 1 'a' tag, u32 1 'b' tag)
  ba[9] = 0x62
  ba[15] = 0x61
  refused(ba, /out of order/)
  // a bigint with a leading zero byte, a negative zero, an unknown tag, trailing bytes, a count past the bytes left
  refused([5, 0, 0, 0, 0, 2, 0, 1], /leading zero/)
  refused([5, 1, 0, 0, 0, 0], /negative zero/)
  refused([42], /unknown tag/)
  refused([1, 1], /trailing/)
  refused([8, 0xff, 0xff, 0xff, 0xff], /exceeds the bytes left/)
  refused([9, 0, 0, 0, 1, 0, 0, 0, 9, ...new TextEncoder().encode('__proto__'), 1], /__proto__/)
  // nesting past the bound
  let deep: unknown = 1
  for (let i = 0; i < 40; i++) deep = [deep]
  t.throws(() => encodeValue(deep), { instanceOf: RangeError })
  refused([...Array.from({ length: 40 }, () => [8, 0, 0, 0, 1]).flat(), 1], /nested deeper/)
  // what has no encoding
  t.throws(() => encodeValue(() => 1), { instanceOf: TypeError })
  t.throws(() => encodeValue(new Date()), { instanceOf: TypeError })
})
