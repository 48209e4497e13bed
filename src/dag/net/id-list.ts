import { fromHex, type Reader, toHex, type Writer } from '../../core/codec.ts'
import { HASH_BYTES } from '../../core/crypto.ts'

/**
 * The one codec for lists of 32-byte ids on the ledger's wire (sync requests, tips, queries, query answers):
 * a count (u8 or u16, fixed per message by docs/protocol.md) followed by the ids.
 */
export type IdCount = 'u8' | 'u16'

/** Appends `count || ids` to `w`. */
export function writeIdList (w: Writer, ids: readonly string[], count: IdCount): Writer {
  if (count === 'u8') w.u8(ids.length)
  else w.u16(ids.length)
  for (const id of ids) w.fixed(fromHex(id), HASH_BYTES)
  return w
}

/** Reads `count || ids`, refusing more than `max` ids (a malformed message fails the reader). */
export function readIdList (r: Reader, count: IdCount, max: number, min = 0): string[] {
  const n = count === 'u8' ? r.u8() : r.u16()
  if (n > max) r.fail('too many ids')
  if (n < min) r.fail('bad id count')
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push(toHex(r.fixed(HASH_BYTES)))
  return ids
}

/** Bytes a list of `n` ids takes. */
export function idListBytes (n: number, count: IdCount): number {
  return (count === 'u8' ? 1 : 2) + n * HASH_BYTES
}
