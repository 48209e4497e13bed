import { ComputeError } from '../types.ts'

/**
 * The MLP weights file (`.hmlp`), little-endian:
 *
 *   'HMLP' | u32 version = 1 | u32 layerCount
 *   per layer: u32 inDim | u32 outDim | u32 activation (0 none, 1 relu, 2 tanh, 3 sigmoid)
 *   per layer, in order: f32 weights[inDim * outDim] (row-major [in][out], so y = x·W + b) | f32 bias[outDim]
 *
 * Layer i's outDim must equal layer i+1's inDim. The header is a multiple of 4 bytes, so every f32 is aligned.
 */
export const ACTIVATIONS = ['none', 'relu', 'tanh', 'sigmoid'] as const
export type Activation = (typeof ACTIVATIONS)[number]

export interface DenseLayer {
  inDim: number
  outDim: number
  activation: Activation
  /** [inDim][outDim] row-major. */
  weights: Float32Array
  bias: Float32Array
}

export interface MlpModel {
  layers: DenseLayer[]
}

const MAGIC = 0x504c4d48 // 'HMLP' read as a little-endian u32
const VERSION = 1
// Bounds that keep a hostile file from asking for absurd allocations before its length is checked.
const MAX_LAYERS = 64
const MAX_DIM = 1 << 16

export function encodeMlp (model: MlpModel): Uint8Array {
  const headerBytes = 12 + 12 * model.layers.length
  let dataFloats = 0
  for (const layer of model.layers) dataFloats += layer.inDim * layer.outDim + layer.outDim
  const out = new Uint8Array(headerBytes + dataFloats * 4)
  const view = new DataView(out.buffer)
  view.setUint32(0, MAGIC, true)
  view.setUint32(4, VERSION, true)
  view.setUint32(8, model.layers.length, true)
  let offset = 12
  for (const layer of model.layers) {
    if (layer.weights.length !== layer.inDim * layer.outDim || layer.bias.length !== layer.outDim) {
      throw new RangeError('layer arrays do not match their dimensions')
    }
    view.setUint32(offset, layer.inDim, true)
    view.setUint32(offset + 4, layer.outDim, true)
    view.setUint32(offset + 8, ACTIVATIONS.indexOf(layer.activation), true)
    offset += 12
  }
  for (const layer of model.layers) {
    for (const value of layer.weights) { view.setFloat32(offset, value, true); offset += 4 }
    for (const value of layer.bias) { view.setFloat32(offset, value, true); offset += 4 }
  }
  return out
}

/** Parses and validates a weights file; a malformed file is an INVALID_TASK error, never a crash. */
export function decodeMlp (bytes: Uint8Array): MlpModel {
  const invalid = (why: string): ComputeError => new ComputeError('INVALID_TASK', `invalid MLP weights file: ${why}`)
  if (bytes.byteLength < 12) throw invalid('shorter than its header')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0, true) !== MAGIC) throw invalid('bad magic (expected HMLP)')
  if (view.getUint32(4, true) !== VERSION) throw invalid(`unsupported version ${view.getUint32(4, true)}`)
  const count = view.getUint32(8, true)
  if (count < 1 || count > MAX_LAYERS) throw invalid(`layer count ${count} outside 1..${MAX_LAYERS}`)
  const headerBytes = 12 + 12 * count
  if (bytes.byteLength < headerBytes) throw invalid('truncated layer table')
  const dims: Array<{ inDim: number, outDim: number, activation: Activation }> = []
  let expected = headerBytes
  for (let i = 0; i < count; i++) {
    const inDim = view.getUint32(12 + 12 * i, true)
    const outDim = view.getUint32(16 + 12 * i, true)
    const act = view.getUint32(20 + 12 * i, true)
    if (inDim < 1 || inDim > MAX_DIM || outDim < 1 || outDim > MAX_DIM) throw invalid(`layer ${i} dimensions out of range`)
    if (act >= ACTIVATIONS.length) throw invalid(`layer ${i} has unknown activation ${act}`)
    if (i > 0 && dims[i - 1].outDim !== inDim) throw invalid(`layer ${i} input ${inDim} does not match previous output ${dims[i - 1].outDim}`)
    dims.push({ inDim, outDim, activation: ACTIVATIONS[act] })
    expected += 4 * (inDim * outDim + outDim)
  }
  if (bytes.byteLength !== expected) throw invalid(`length ${bytes.byteLength}, expected ${expected}`)
  const floats = new Float32Array(bytes.slice(headerBytes).buffer)
  const layers: DenseLayer[] = []
  let at = 0
  for (const d of dims) {
    const weights = floats.slice(at, at + d.inDim * d.outDim)
    at += d.inDim * d.outDim
    const bias = floats.slice(at, at + d.outDim)
    at += d.outDim
    layers.push({ ...d, weights, bias })
  }
  return { layers }
}
