import test from 'ava'
import { randomBytes } from 'node:crypto'
import { Reader, toHex, Writer } from '../../src/core/codec.ts'
import { CodecError } from '../../src/core/errors.ts'
import { idListBytes, readIdList, writeIdList } from '../../src/dag/net/id-list.ts'

const ids = (n: number): string[] => Array.from({ length: n }, () => toHex(randomBytes(32)))

test('id lists round-trip with a u8 or a u16 count and take the bytes they announce', t => {
  for (const count of ['u8', 'u16'] as const) {
    for (const n of [0, 1, 16]) {
      const list = ids(n)
      const bytes = writeIdList(new Writer(), list, count).finish()
      t.is(bytes.length, idListBytes(n, count))
      const r = new Reader(bytes, 'ids')
      t.deepEqual(readIdList(r, count, 16), list)
      r.end()
    }
  }
})

test('id lists above the bound, below the minimum or truncated are refused', t => {
  const bytes = writeIdList(new Writer(), ids(17), 'u8').finish()
  t.is(t.throws(() => readIdList(new Reader(bytes, 'ids'), 'u8', 16), { instanceOf: CodecError })?.code, 'ENCODING_INVALID')
  const empty = writeIdList(new Writer(), [], 'u8').finish()
  t.throws(() => readIdList(new Reader(empty, 'ids'), 'u8', 16, 1), { instanceOf: CodecError })
  const two = writeIdList(new Writer(), ids(2), 'u16').finish()
  t.throws(() => readIdList(new Reader(two.subarray(0, two.length - 1), 'ids'), 'u16', 16), { instanceOf: CodecError })
})
