import { CodecError } from './errors.ts'

/**
 * The canonical binary codec (the ledger's, and any other signed format's): big-endian fixed-width integers, fixed-size byte strings and u32
 * length-prefixed byte strings. There is exactly one encoding per value, and decoding is strict: overlong lengths,
 * values out of range and trailing bytes are refused, so hashes and signatures are stable across nodes.
 */

const U64_MAX = (1n << 64n) - 1n
const U128_MAX = (1n << 128n) - 1n

export class Writer {
  private buf: Uint8Array
  private view: DataView
  private pos = 0

  constructor (initialSize = 256) {
    this.buf = new Uint8Array(initialSize)
    this.view = new DataView(this.buf.buffer)
  }

  private ensure (n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8 (v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`u8 out of range: ${v}`)
    this.ensure(1)
    this.buf[this.pos++] = v
    return this
  }

  u16 (v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`u16 out of range: ${v}`)
    this.ensure(2)
    this.view.setUint16(this.pos, v)
    this.pos += 2
    return this
  }

  u32 (v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 out of range: ${v}`)
    this.ensure(4)
    this.view.setUint32(this.pos, v)
    this.pos += 4
    return this
  }

  u64 (v: bigint): this {
    if (v < 0n || v > U64_MAX) throw new RangeError(`u64 out of range: ${v}`)
    this.ensure(8)
    this.view.setBigUint64(this.pos, v)
    this.pos += 8
    return this
  }

  u128 (v: bigint): this {
    if (v < 0n || v > U128_MAX) throw new RangeError(`u128 out of range: ${v}`)
    this.ensure(16)
    this.view.setBigUint64(this.pos, v >> 64n)
    this.view.setBigUint64(this.pos + 8, v & U64_MAX)
    this.pos += 16
    return this
  }

  /** A byte string whose length the format fixes (keys, signatures, hashes). */
  fixed (bytes: Uint8Array, length: number): this {
    if (bytes.length !== length) throw new RangeError(`expected ${length} bytes, got ${bytes.length}`)
    this.ensure(length)
    this.buf.set(bytes, this.pos)
    this.pos += length
    return this
  }

  /** u32 length, then the bytes. */
  varBytes (bytes: Uint8Array): this {
    this.u32(bytes.length)
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
    return this
  }

  /** Raw bytes with no length (already self-delimiting or the caller delimits). */
  raw (bytes: Uint8Array): this {
    this.ensure(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
    return this
  }

  finish (): Uint8Array {
    return this.buf.slice(0, this.pos)
  }

  /** The bytes written so far, without a copy: valid only until the next write (to hash a prefix in place). */
  written (): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}

export class Reader {
  private readonly buf: Uint8Array
  private readonly view: DataView
  private pos = 0
  /** What is being decoded, for error messages. */
  readonly what: string

  constructor (buf: Uint8Array, what: string) {
    this.buf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    this.what = what
  }

  get offset (): number { return this.pos }
  get remaining (): number { return this.buf.length - this.pos }

  fail (message: string): never {
    throw new CodecError(`${this.what}: ${message} at byte ${this.pos}`, { what: this.what, offset: this.pos })
  }

  private need (n: number): void {
    if (this.pos + n > this.buf.length) this.fail(`truncated (need ${n} more bytes, have ${this.remaining})`)
  }

  u8 (): number {
    this.need(1)
    return this.buf[this.pos++]
  }

  u16 (): number {
    this.need(2)
    const v = this.view.getUint16(this.pos)
    this.pos += 2
    return v
  }

  u32 (): number {
    this.need(4)
    const v = this.view.getUint32(this.pos)
    this.pos += 4
    return v
  }

  u64 (): bigint {
    this.need(8)
    const v = this.view.getBigUint64(this.pos)
    this.pos += 8
    return v
  }

  u128 (): bigint {
    this.need(16)
    const hi = this.view.getBigUint64(this.pos)
    const lo = this.view.getBigUint64(this.pos + 8)
    this.pos += 16
    return (hi << 64n) | lo
  }

  /** `length` bytes, copied (see fixedView for a view). */
  fixed (length: number): Uint8Array {
    return this.fixedView(length).slice()
  }

  /** u32 length then bytes, copied; refuses a length above `max` before reading anything. */
  varBytes (max: number): Uint8Array {
    return this.varBytesView(max).slice()
  }

  /**
   * `fixed` without the copy: a view into the input. Only for a decoder whose result keeps the input anyway (a
   * transaction is held with its encoding), so the view retains nothing more; a copy per field was a new buffer
   * to allocate and collect for each of a transaction's key, payload and signature on every decode.
   */
  fixedView (length: number): Uint8Array {
    this.need(length)
    const out = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return out
  }

  /** `varBytes` as a view into the input (see fixedView): refuses a length above `max` before reading anything. */
  varBytesView (max: number): Uint8Array {
    const len = this.u32()
    if (len > max) this.fail(`length ${len} exceeds limit ${max}`)
    return this.fixedView(len)
  }

  /** Refuses trailing bytes: every value has exactly one encoding. */
  end (): void {
    if (this.pos !== this.buf.length) this.fail(`${this.remaining} trailing bytes`)
  }
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function fromHex (hex: string, what = 'hex'): Uint8Array {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex
  const out = new Uint8Array(h.length >> 1)
  // Buffer's hex decoding stops at the first pair that is not two hex digits, so fewer bytes written than the
  // length implies means the string was not hex (one pass, no copy: a validating regexp over each transaction's
  // ~10,600 characters was 2.8% of a loaded devnet node's main thread)
  if (h.length % 2 !== 0 || Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(h, 'hex') !== out.length) throw new CodecError(`${what}: not a hex string`)
  return out
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  let len = 0
  for (const p of parts) len += p.length
  const out = new Uint8Array(len)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

export const utf8 = new TextEncoder()
