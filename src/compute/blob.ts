import { createHash } from 'node:crypto'
import type { Blob, DType, OutputBlob } from './types.ts'

// Domain separation so a commitment can never equal the id of a single blob or of another hashed structure.
const COMMITMENT_DOMAIN = 'harmony/compute/commitment/v1'
const CANONICAL_NAN = 0x7fc00000

export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function isBlobId (value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value)
}

export function makeBlob (bytes: Uint8Array): Blob {
  return { id: sha256Hex(bytes), bytes }
}

/** Little-endian f32 bytes of an array (copies; the result is aligned and independent). */
export function f32ToBytes (values: ArrayLike<number>): Uint8Array {
  const out = new Float32Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = values[i]
  return new Uint8Array(out.buffer)
}

/** Reads little-endian f32 values (copies, so unaligned input is fine). */
export function bytesToF32 (bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`f32 data must be a multiple of 4 bytes, got ${bytes.byteLength}`)
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  return new Float32Array(copy.buffer)
}

export function f32Blob (values: ArrayLike<number>): Blob {
  return makeBlob(f32ToBytes(values))
}

/**
 * Canonical output bytes: little-endian, and for f32 every NaN rewritten to the quiet NaN 0x7fc00000 (adapters
 * differ in NaN payloads, which carry no meaning). -0 and +0 stay distinct: a fixed-order kernel gives the same
 * sign on every IEEE adapter.
 */
export function canonicalBytes (bytes: Uint8Array, dtype: DType): Uint8Array {
  if (dtype !== 'f32') return bytes
  const copy = new Uint8Array(bytes.byteLength)
  copy.set(bytes)
  const words = new Uint32Array(copy.buffer, 0, copy.byteLength >>> 2)
  for (let i = 0; i < words.length; i++) {
    const w = words[i]
    if ((w & 0x7f800000) === 0x7f800000 && (w & 0x007fffff) !== 0) words[i] = CANONICAL_NAN
  }
  return copy
}

/** Builds an output blob from bytes already in canonical form. */
export function outputBlob (bytes: Uint8Array, dtype: DType, shape: number[]): OutputBlob {
  const canonical = canonicalBytes(bytes, dtype)
  return { id: sha256Hex(canonical), bytes: canonical, dtype, shape }
}

/**
 * commitment = sha256(domain || u32 count || for each output: u8 dtype code || u32 rank || u32 dims... || u64
 * byteLength || canonical bytes). Lengths little-endian. Shapes and dtypes are committed too, so two results that
 * differ only in how the bytes are interpreted do not collide.
 */
export function resultCommitment (outputs: ReadonlyArray<{ bytes: Uint8Array, dtype: DType, shape: number[] }>): string {
  const hash = createHash('sha256')
  hash.update(COMMITMENT_DOMAIN)
  hash.update(u32(outputs.length))
  for (const output of outputs) {
    hash.update(new Uint8Array([dtypeCode(output.dtype)]))
    hash.update(u32(output.shape.length))
    for (const dim of output.shape) hash.update(u32(dim))
    const len = new Uint8Array(8)
    new DataView(len.buffer).setBigUint64(0, BigInt(output.bytes.byteLength), true)
    hash.update(len)
    hash.update(canonicalBytes(output.bytes, output.dtype))
  }
  return hash.digest('hex')
}

function u32 (value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value, true)
  return out
}

function dtypeCode (dtype: DType): number {
  return dtype === 'f32' ? 1 : dtype === 'u32' ? 2 : 3
}
