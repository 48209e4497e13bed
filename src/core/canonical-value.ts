/**
 * A canonical encoding of plain data values (undefined, null, booleans, numbers, bigints, strings, byte arrays,
 * arrays, plain objects and Maps): one byte string per value, whatever the order its object keys or Map entries
 * were inserted in, and the same on every Node version (unlike `node:v8`'s serialize, whose format is V8's). For
 * digests that every node must compute alike (the market's part of a state cut, src/market/state/snapshot.ts).
 *
 *   value  = u8 tag ‖ body
 *   0 undefined, 1 null, 2 false, 3 true (no body)
 *   4 number: f64, big-endian (NaN as 0x7ff8…0)
 *   5 bigint: u8 sign (0 ≥ 0, 1 < 0) ‖ u32 n ‖ n bytes of the magnitude, big-endian, no leading zero byte
 *   6 string: u32 n ‖ n bytes of UTF-8
 *   7 bytes:  u32 n ‖ n bytes
 *   8 array:  u32 n ‖ n values
 *   9 object: u32 n ‖ n × (u32 k ‖ k bytes of UTF-8 key ‖ value), by key bytes, ascending, no key twice
 *   10 map:   u32 n ‖ n × (key value ‖ value), by the key's encoding, ascending, no key twice
 *
 * Decoding is strict (any other byte string is refused with a CodecError) and bounded: nesting depth, and every
 * count by the bytes left.
 */
import { compareBytes, fromHex, Reader, Writer } from './codec.ts'

/** Nesting of arrays, objects and maps. */
const MAX_DEPTH = 32
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

const T_UNDEFINED = 0
const T_NULL = 1
const T_FALSE = 2
const T_TRUE = 3
const T_NUMBER = 4
const T_BIGINT = 5
const T_STRING = 6
const T_BYTES = 7
const T_ARRAY = 8
const T_OBJECT = 9
const T_MAP = 10

export function encodeValue (value: unknown): Uint8Array {
  const w = new Writer(256)
  write(w, value, 0)
  return w.finish()
}

function write (w: Writer, v: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new RangeError(`canonical value: nested deeper than ${MAX_DEPTH}`)
  if (v === undefined) { w.u8(T_UNDEFINED); return }
  if (v === null) { w.u8(T_NULL); return }
  switch (typeof v) {
    case 'boolean': w.u8(v ? T_TRUE : T_FALSE); return
    case 'number': {
      const b = new Uint8Array(8)
      new DataView(b.buffer).setFloat64(0, Number.isNaN(v) ? Number.NaN : v)
      w.u8(T_NUMBER).raw(b)
      return
    }
    case 'bigint': {
      const neg = v < 0n
      let hex = (neg ? -v : v).toString(16)
      if (hex === '0') hex = ''
      else if (hex.length % 2 === 1) hex = `0${hex}`
      w.u8(T_BIGINT).u8(neg ? 1 : 0).varBytes(fromHex(hex))
      return
    }
    case 'string': w.u8(T_STRING).varBytes(utf8.encode(v)); return
    case 'object': break
    default: throw new TypeError(`canonical value: a ${typeof v} has no encoding`)
  }
  if (v instanceof Uint8Array) { w.u8(T_BYTES).varBytes(v); return }
  if (Array.isArray(v)) {
    w.u8(T_ARRAY).u32(v.length)
    for (const x of v) write(w, x, depth + 1)
    return
  }
  if (v instanceof Map) {
    const entries = [...v].map(([k, x]) => ({ key: encodeValue(k), x })).sort((a, b) => compareBytes(a.key, b.key))
    w.u8(T_MAP).u32(entries.length)
    for (const e of entries) {
      w.raw(e.key)
      write(w, e.x, depth + 1)
    }
    return
  }
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) throw new TypeError('canonical value: only plain objects, arrays, Maps and Uint8Arrays')
  const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => ({ key: utf8.encode(k), x })).sort((a, b) => compareBytes(a.key, b.key))
  w.u8(T_OBJECT).u32(entries.length)
  for (const e of entries) {
    w.varBytes(e.key)
    write(w, e.x, depth + 1)
  }
}

/** Decodes encodeValue's bytes; throws CodecError on anything else. `what` names the value in errors. */
export function decodeValue (bytes: Uint8Array, what = 'canonical value'): unknown {
  const r = new Reader(bytes, what)
  const v = read(r, 0)
  r.end()
  return v
}

function count (r: Reader): number {
  const n = r.u32()
  // every element takes at least one byte
  if (n > r.remaining) r.fail(`count ${n} exceeds the bytes left`)
  return n
}

function read (r: Reader, depth: number): unknown {
  if (depth > MAX_DEPTH) r.fail(`nested deeper than ${MAX_DEPTH}`)
  const tag = r.u8()
  switch (tag) {
    case T_UNDEFINED: return undefined
    case T_NULL: return null
    case T_FALSE: return false
    case T_TRUE: return true
    case T_NUMBER: {
      const b = r.fixedView(8)
      const v = new DataView(b.buffer, b.byteOffset, 8).getFloat64(0)
      if (Number.isNaN(v) && !(b[0] === 0x7f && b[1] === 0xf8 && b.subarray(2).every(x => x === 0))) r.fail('a NaN of another bit pattern')
      return v
    }
    case T_BIGINT: {
      const sign = r.u8()
      if (sign > 1) r.fail('bad bigint sign')
      const mag = r.varBytesView(r.remaining)
      if (mag.length > 0 && mag[0] === 0) r.fail('a bigint with a leading zero byte')
      if (mag.length === 0 && sign === 1) r.fail('negative zero')
      const v = mag.length === 0 ? 0n : BigInt(`0x${Buffer.from(mag).toString('hex')}`)
      return sign === 1 ? -v : v
    }
    case T_STRING: return text(r, r.varBytesView(r.remaining))
    case T_BYTES: return r.varBytes(r.remaining)
    case T_ARRAY: {
      const n = count(r)
      const out: unknown[] = []
      for (let i = 0; i < n; i++) out.push(read(r, depth + 1))
      return out
    }
    case T_OBJECT: {
      const n = count(r)
      const out: Record<string, unknown> = {}
      let prev: Uint8Array | undefined
      for (let i = 0; i < n; i++) {
        const key = r.varBytesView(r.remaining)
        if (prev !== undefined && compareBytes(prev, key) >= 0) r.fail('object keys out of order or repeated')
        prev = key
        const k = text(r, key)
        if (k === '__proto__') r.fail('the key __proto__')
        out[k] = read(r, depth + 1)
      }
      return out
    }
    case T_MAP: {
      const n = count(r)
      const out = new Map<unknown, unknown>()
      let prev: Uint8Array | undefined
      for (let i = 0; i < n; i++) {
        const start = r.offset
        const k = read(r, depth + 1)
        const key = encodeValue(k)
        // the key's bytes as read must be its canonical encoding (they are, when decoding succeeded) and ascend
        if (key.length !== r.offset - start || (prev !== undefined && compareBytes(prev, key) >= 0)) r.fail('map keys out of order or repeated')
        prev = key
        out.set(k, read(r, depth + 1))
      }
      return out
    }
    default: return r.fail(`unknown tag ${tag}`)
  }
}

function text (r: Reader, bytes: Uint8Array): string {
  try {
    return fromUtf8.decode(bytes)
  } catch {
    return r.fail('a string that is not UTF-8')
  }
}
