/** Field codecs the market's payloads share: bounded UTF-8 strings, enumerations as u8, optional fixed bytes. */
import { type Reader, type Writer } from '../../core/codec.ts'
import { DagError } from '../../dag/errors.ts'

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

export function writeText (w: Writer, text: string): void {
  w.varBytes(new TextEncoder().encode(text))
}

/** A u32-length UTF-8 string of at most `maxBytes`; invalid UTF-8 is refused. */
export function readText (r: Reader, maxBytes: number, what: string): string {
  const bytes = r.varBytes(maxBytes)
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return r.fail(`${what} is not UTF-8`)
  }
}

export function writeEnum<T extends string> (w: Writer, values: readonly T[], value: T): void {
  const i = values.indexOf(value)
  if (i < 0) throw new DagError('ENCODING_INVALID', `${JSON.stringify(value)} is not one of ${values.join(', ')}`)
  w.u8(i)
}

export function readEnum<T extends string> (r: Reader, values: readonly T[], what: string): T {
  const i = r.u8()
  if (i >= values.length) r.fail(`unknown ${what} ${i}`)
  return values[i]
}

export function readBool (r: Reader, what: string): boolean {
  const v = r.u8()
  if (v > 1) r.fail(`${what} must be 0 or 1`)
  return v === 1
}

export function writeOptional (w: Writer, bytes: Uint8Array | undefined, length: number): void {
  if (bytes === undefined) { w.u8(0); return }
  w.u8(1).fixed(bytes, length)
}

export function readOptional (r: Reader, length: number, what: string): Uint8Array | undefined {
  return readBool(r, what) ? r.fixed(length) : undefined
}

/** `count` u8 then that many fixed-size items; refuses a count above `max`. */
export function readList (r: Reader, itemBytes: number, max: number, what: string): Uint8Array[] {
  const n = r.u8()
  if (n > max) r.fail(`more than ${max} ${what}`)
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) out.push(r.fixed(itemBytes))
  return out
}

export function writeList (w: Writer, items: readonly Uint8Array[], itemBytes: number): void {
  w.u8(items.length)
  for (const it of items) w.fixed(it, itemBytes)
}
