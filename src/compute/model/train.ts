import { mlpReference } from '../kernels/matmul.ts'
import { prng } from '../../core/prng.ts'
import { argmaxRows, DIGIT_CLASSES, DIGIT_PIXELS, type DigitSet } from './digits.ts'
import type { MlpModel } from './weights.ts'

/**
 * Trains the digit classifier (DIGIT_PIXELS -> hidden ReLU -> 10 logits) with plain minibatch SGD + momentum on
 * softmax cross-entropy, in TypeScript on the CPU. Small enough to train in well under a minute on one core.
 */
export interface TrainOptions {
  /** Hidden units. @default 64 */
  hidden?: number
  /** Passes over the training set. @default 8 */
  epochs?: number
  /** @default 32 */
  batchSize?: number
  /** @default 0.05 */
  learningRate?: number
  /** @default 0.9 */
  momentum?: number
  /** Seed for initialisation and shuffling. @default 1 */
  seed?: number
  onEpoch?: (epoch: number, loss: number) => void
}

export function trainDigitMlp (train: DigitSet, options: TrainOptions = {}): MlpModel {
  const hidden = options.hidden ?? 64
  const epochs = options.epochs ?? 8
  const batchSize = options.batchSize ?? 32
  const lr = options.learningRate ?? 0.05
  const momentum = options.momentum ?? 0.9
  const random = prng(options.seed ?? 1)
  const gaussian = (): number => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random())
  const inDim = DIGIT_PIXELS
  const outDim = DIGIT_CLASSES
  // He initialisation for the ReLU layer, Xavier-like for the output layer.
  const w1 = Float64Array.from({ length: inDim * hidden }, () => gaussian() * Math.sqrt(2 / inDim))
  const b1 = new Float64Array(hidden)
  const w2 = Float64Array.from({ length: hidden * outDim }, () => gaussian() * Math.sqrt(1 / hidden))
  const b2 = new Float64Array(outDim)
  const params = [w1, b1, w2, b2]
  const grads = params.map(p => new Float64Array(p.length))
  const velocity = params.map(p => new Float64Array(p.length))
  const [gw1, gb1, gw2, gb2] = grads
  const h = new Float64Array(hidden)
  const logits = new Float64Array(outDim)
  const dLogits = new Float64Array(outDim)
  const dh = new Float64Array(hidden)
  const order = Uint32Array.from({ length: train.count }, (_, i) => i)

  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      const t = order[i]; order[i] = order[j]; order[j] = t
    }
    let lossSum = 0
    for (let start = 0; start < order.length; start += batchSize) {
      const end = Math.min(start + batchSize, order.length)
      for (const g of grads) g.fill(0)
      for (let s = start; s < end; s++) {
        const n = order[s]
        const x = train.images.subarray(n * inDim, (n + 1) * inDim)
        for (let j = 0; j < hidden; j++) h[j] = b1[j]
        for (let i = 0; i < inDim; i++) {
          const xi = x[i]
          if (xi === 0) continue
          const row = i * hidden
          for (let j = 0; j < hidden; j++) h[j] += xi * w1[row + j]
        }
        for (let j = 0; j < hidden; j++) if (h[j] < 0) h[j] = 0
        let max = -Infinity
        for (let o = 0; o < outDim; o++) {
          let v = b2[o]
          for (let j = 0; j < hidden; j++) v += h[j] * w2[j * outDim + o]
          logits[o] = v
          if (v > max) max = v
        }
        let sum = 0
        for (let o = 0; o < outDim; o++) { dLogits[o] = Math.exp(logits[o] - max); sum += dLogits[o] }
        const label = train.labels[n]
        lossSum += -Math.log(dLogits[label] / sum)
        for (let o = 0; o < outDim; o++) dLogits[o] = dLogits[o] / sum - (o === label ? 1 : 0)
        dh.fill(0)
        for (let j = 0; j < hidden; j++) {
          const row = j * outDim
          for (let o = 0; o < outDim; o++) {
            gw2[row + o] += h[j] * dLogits[o]
            dh[j] += w2[row + o] * dLogits[o]
          }
          if (h[j] <= 0) dh[j] = 0
        }
        for (let o = 0; o < outDim; o++) gb2[o] += dLogits[o]
        for (let j = 0; j < hidden; j++) gb1[j] += dh[j]
        for (let i = 0; i < inDim; i++) {
          const xi = x[i]
          if (xi === 0) continue
          const row = i * hidden
          for (let j = 0; j < hidden; j++) gw1[row + j] += xi * dh[j]
        }
      }
      const scale = lr / (end - start)
      params.forEach((p, k) => {
        const g = grads[k]
        const v = velocity[k]
        for (let i = 0; i < p.length; i++) {
          v[i] = momentum * v[i] - scale * g[i]
          p[i] += v[i]
        }
      })
    }
    options.onEpoch?.(epoch, lossSum / train.count)
  }
  return {
    layers: [
      { inDim, outDim: hidden, activation: 'relu', weights: Float32Array.from(w1), bias: Float32Array.from(b1) },
      { inDim: hidden, outDim, activation: 'none', weights: Float32Array.from(w2), bias: Float32Array.from(b2) }
    ]
  }
}

/** Accuracy of the model (run by the f32 CPU reference) on a labelled set. */
export function accuracy (model: MlpModel, set: DigitSet): number {
  const predictions = argmaxRows(mlpReference(model, set.count, set.images), set.count, DIGIT_CLASSES)
  let correct = 0
  for (let i = 0; i < set.count; i++) if (predictions[i] === set.labels[i]) correct++
  return correct / set.count
}
