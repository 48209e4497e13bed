/**
 * Procedurally generated handwritten-style digits: each digit is a stroke skeleton (polylines in a unit box)
 * drawn with a random affine transform (scale, rotation, shear, translation), stroke width and pixel noise,
 * onto a SIZE x SIZE grayscale image in [0, 1]. Deterministic for a seed, so the training set, the held-out
 * set and the tests are reproducible without shipping or downloading data.
 */
import { prng } from '../../core/prng.ts'

export const DIGIT_SIZE = 16
export const DIGIT_PIXELS = DIGIT_SIZE * DIGIT_SIZE
export const DIGIT_CLASSES = 10

type Point = [number, number]
type Stroke = Point[]

function arc (cx: number, cy: number, rx: number, ry: number, from: number, to: number, steps = 14): Stroke {
  const out: Stroke = []
  for (let i = 0; i <= steps; i++) {
    const t = from + (to - from) * (i / steps)
    out.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)])
  }
  return out
}

const TAU = 2 * Math.PI

// Skeletons in a unit box, y pointing down.
const SKELETONS: Stroke[][] = [
  [arc(0.5, 0.5, 0.25, 0.38, 0, TAU, 20)],
  [[[0.35, 0.25], [0.52, 0.1], [0.52, 0.9]]],
  [[...arc(0.5, 0.3, 0.24, 0.2, Math.PI, TAU + 0.5, 10), [0.25, 0.9], [0.78, 0.9]]],
  [[...arc(0.5, 0.3, 0.22, 0.18, -Math.PI * 0.9, Math.PI * 0.5, 10)], [...arc(0.5, 0.7, 0.25, 0.2, -Math.PI * 0.5, Math.PI * 0.9, 10)]],
  [[[0.65, 0.9], [0.65, 0.1], [0.2, 0.65], [0.82, 0.65]]],
  [[[0.74, 0.1], [0.32, 0.1], [0.28, 0.45], ...arc(0.5, 0.66, 0.24, 0.24, -Math.PI * 0.75, Math.PI * 0.8, 10)]],
  [[[0.68, 0.1], [0.45, 0.22], ...arc(0.5, 0.68, 0.22, 0.22, Math.PI, Math.PI * 3, 14)]],
  [[[0.22, 0.1], [0.78, 0.1], [0.45, 0.9]]],
  [arc(0.5, 0.3, 0.2, 0.18, 0, TAU, 14), arc(0.5, 0.7, 0.24, 0.2, 0, TAU, 14)],
  [[...arc(0.5, 0.32, 0.22, 0.2, 0, TAU, 14)], [[0.72, 0.32], [0.6, 0.9]]]
]

function distanceToSegment (px: number, py: number, a: Point, b: Point): number {
  const dx = b[0] - a[0]
  const dy = b[1] - a[1]
  const len2 = dx * dx + dy * dy
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - a[0]) * dx + (py - a[1]) * dy) / len2))
  const x = a[0] + t * dx - px
  const y = a[1] + t * dy - py
  return Math.sqrt(x * x + y * y)
}

/** Renders one digit with random variation into `out` (DIGIT_PIXELS floats). */
export function renderDigit (digit: number, random: () => number, out: Float32Array = new Float32Array(DIGIT_PIXELS)): Float32Array {
  const angle = (random() - 0.5) * 0.8
  const shear = (random() - 0.5) * 0.6
  const sx = 0.6 + random() * 0.45
  const sy = 0.7 + random() * 0.35
  const tx = (random() - 0.5) * 0.3
  const ty = (random() - 0.5) * 0.2
  const width = 0.03 + random() * 0.05
  const jitter = 0.06
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  const transform = ([x, y]: Point): Point => {
    const cx = (x - 0.5) * sx + shear * (y - 0.5) + (random() - 0.5) * jitter
    const cy = (y - 0.5) * sy + (random() - 0.5) * jitter
    return [0.5 + cx * cos - cy * sin + tx, 0.5 + cx * sin + cy * cos + ty]
  }
  const strokes = SKELETONS[digit].map(stroke => stroke.map(transform))
  // Clutter: a stray pen stroke on some images.
  if (random() < 0.3) strokes.push([[random(), random()], [random(), random()]])
  const noiseLevel = 0.2 + random() * 0.4
  for (let py = 0; py < DIGIT_SIZE; py++) {
    for (let px = 0; px < DIGIT_SIZE; px++) {
      const x = (px + 0.5) / DIGIT_SIZE
      const y = (py + 0.5) / DIGIT_SIZE
      let d = Infinity
      for (const stroke of strokes) {
        for (let i = 1; i < stroke.length; i++) d = Math.min(d, distanceToSegment(x, y, stroke[i - 1], stroke[i]))
      }
      const ink = Math.max(0, Math.min(1, 1 - (d - width) / 0.04))
      const noise = (random() - 0.5) * noiseLevel
      out[py * DIGIT_SIZE + px] = Math.max(0, Math.min(1, ink + noise))
    }
  }
  return out
}

export interface DigitSet {
  /** [count][DIGIT_PIXELS] row-major. */
  images: Float32Array
  labels: Uint8Array
  count: number
}

/** `count` digits with balanced labels in a seeded random order. */
export function generateDigits (count: number, seed: number): DigitSet {
  const random = prng(seed)
  const images = new Float32Array(count * DIGIT_PIXELS)
  const labels = new Uint8Array(count)
  for (let i = 0; i < count; i++) {
    const digit = Math.floor(random() * DIGIT_CLASSES)
    labels[i] = digit
    renderDigit(digit, random, images.subarray(i * DIGIT_PIXELS, (i + 1) * DIGIT_PIXELS))
  }
  return { images, labels, count }
}

/** Index of the largest value in each row of a [rows][cols] matrix. */
export function argmaxRows (values: Float32Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows)
  for (let r = 0; r < rows; r++) {
    let best = 0
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c
    out[r] = best
  }
  return out
}
