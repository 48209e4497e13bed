import { KEY_PREFIXES, keyBytes } from '../../core/storage.ts'
import { BlobError } from './errors.ts'

/** The `blobs` sublevel's key layout (prefixes in core/storage.ts KEY_PREFIXES.blobs). */
const P = KEY_PREFIXES.blobs
const td = new TextDecoder()

/** A task tag: a task id (hex) or any short name without `/`. */
const TAG_PATTERN = /^[0-9A-Za-z:_-]{1,128}$/

export function assertTag (tag: string): void {
  if (typeof tag !== 'string' || !TAG_PATTERN.test(tag)) throw new BlobError('BLOB_ID_INVALID', 'a blob tag is 1..128 characters of [0-9A-Za-z:_-] (a task id)')
}

export const manifestKey = (id: string): Uint8Array => keyBytes(P.manifest, id)
export const chunkKey = (id: string, index: number): Uint8Array => keyBytes(P.chunk, `${id}/${index.toString(16).padStart(8, '0')}`)
export const pendingKey = (id: string): Uint8Array => keyBytes(P.pending, id)
export const tagKey = (tag: string, id: string): Uint8Array => keyBytes(P.tag, `${tag}/${id}`)
export const tagOfBlobKey = (id: string, tag: string): Uint8Array => keyBytes(P.tagOfBlob, `${id}/${tag}`)
export const untaggedKey = (id: string): Uint8Array => keyBytes(P.untagged, id)
export const deadKey = (id: string): Uint8Array => keyBytes(P.dead, id)

/** gte/lt bounds of every key starting with `prefix` ('/' + 1 is '0'; '\xff' sorts after every ASCII key). */
export function range (prefix: string, sub = ''): { gte: Uint8Array, lt: Uint8Array } {
  return sub === ''
    ? { gte: keyBytes(prefix), lt: keyBytes(`${prefix}\xff`) }
    : { gte: keyBytes(prefix, `${sub}/`), lt: keyBytes(prefix, `${sub}0`) }
}

export const chunkRange = (id: string): { gte: Uint8Array, lt: Uint8Array } => range(P.chunk, id)
export const tagRange = (tag: string): { gte: Uint8Array, lt: Uint8Array } => range(P.tag, tag)
export const tagsOfBlobRange = (id: string): { gte: Uint8Array, lt: Uint8Array } => range(P.tagOfBlob, id)

/** The part of a key after its one-character prefix. */
export function keyRest (key: Uint8Array): string {
  return td.decode(key.subarray(1))
}

/** The last `/`-separated part of a key. */
export function keyTail (key: Uint8Array): string {
  const s = td.decode(key)
  return s.slice(s.lastIndexOf('/') + 1)
}

export function u64Bytes (v: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(v))))
  return out
}

export function readU64 (bytes: Uint8Array, offset = 0): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset))
}

/** A one-byte value for index keys (the key carries the information). */
export const PRESENT = new Uint8Array([1])
