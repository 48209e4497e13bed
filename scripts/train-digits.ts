/**
 * Trains the digit classifier shipped in models/ and reports its accuracy on a held-out split.
 * Run: npm run train:digits   (options: --epochs N --out models/digits-mlp.hmlp)
 * The data is generated (src/compute/model/digits.ts); nothing is downloaded.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { sha256Hex } from '../src/compute/blob.ts'
import { DIGIT_SIZE, generateDigits } from '../src/compute/model/digits.ts'
import { accuracy, trainDigitMlp } from '../src/compute/model/train.ts'
import { encodeMlp } from '../src/compute/model/weights.ts'

// Fixed seeds: the training and held-out sets never share a generator stream.
const TRAIN_SEED = 20241
const HELD_OUT_SEED = 90001
const TRAIN_COUNT = 32_000
const HELD_OUT_COUNT = 4_000

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    hidden: { type: 'string', default: '64' },
    out: { type: 'string', default: 'models/digits-mlp.hmlp' }
  }
})
const started = performance.now()
const train = generateDigits(TRAIN_COUNT, TRAIN_SEED)
const heldOut = generateDigits(HELD_OUT_COUNT, HELD_OUT_SEED)
const model = trainDigitMlp(train, {
  epochs: Number(values.epochs),
  hidden: Number(values.hidden),
  onEpoch: (epoch, loss) => { console.log(`epoch ${epoch + 1}: train loss ${loss.toFixed(4)}`) }
})
const trainAccuracy = accuracy(model, train)
const heldOutAccuracy = accuracy(model, heldOut)
const bytes = encodeMlp(model)
writeFileSync(values.out, bytes)
const meta = {
  file: values.out,
  sha256: sha256Hex(bytes),
  bytes: bytes.byteLength,
  input: `${DIGIT_SIZE}x${DIGIT_SIZE} grayscale in [0,1], row-major`,
  layers: model.layers.map(l => `${l.inDim}->${l.outDim} ${l.activation}`),
  train: { count: TRAIN_COUNT, seed: TRAIN_SEED, accuracy: trainAccuracy },
  heldOut: { count: HELD_OUT_COUNT, seed: HELD_OUT_SEED, accuracy: heldOutAccuracy },
  trainingSeconds: Math.round((performance.now() - started) / 100) / 10
}
writeFileSync(values.out.replace(/\.hmlp$/, '.json'), `${JSON.stringify(meta, null, 2)}\n`)
console.log(`train accuracy ${(trainAccuracy * 100).toFixed(2)}%, held-out accuracy ${(heldOutAccuracy * 100).toFixed(2)}% (${HELD_OUT_COUNT} images)`)
console.log(`wrote ${values.out} (${bytes.byteLength} bytes, sha256 ${meta.sha256}) in ${meta.trainingSeconds} s`)
