import { z } from 'zod'
import { isBlobId, sha256Hex } from './blob.ts'
import { decodeMlp, type MlpModel } from './model/weights.ts'
import {
  ComputeError, type ComputeTask, DEFAULT_LIMITS, type DType, KERNEL_NAMES, type TaskLimits, type TaskSpec
} from './types.ts'

// Largest single dimension a library kernel accepts; products are bounded by the byte limits.
const MAX_DIM = 1 << 24
// Custom WGSL source size and binding count (compatibility-mode devices guarantee 4 storage buffers per stage;
// llvmpipe offers 8, Vulkan GPUs at least 8).
const MAX_WGSL_BYTES = 64 * 1024
export const MAX_CUSTOM_BINDINGS = 8

export const UNARY_OPS = ['relu', 'sigmoid', 'tanh', 'exp', 'neg', 'abs'] as const
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'max', 'min'] as const
export type ElementwiseOp = (typeof UNARY_OPS)[number] | (typeof BINARY_OPS)[number]

const dim = z.number().int().min(1).max(MAX_DIM)

export const paramSchemas = {
  matmul: z.strictObject({ m: dim, k: dim, n: dim }),
  conv2d: z.strictObject({
    channels: dim,
    height: dim,
    width: dim,
    filters: dim,
    kernelH: z.number().int().min(1).max(64),
    kernelW: z.number().int().min(1).max(64),
    stride: z.number().int().min(1).max(64).default(1),
    padding: z.number().int().min(0).max(64).default(0)
  }),
  elementwise: z.strictObject({ op: z.enum([...UNARY_OPS, ...BINARY_OPS]), n: dim }),
  reduce: z.strictObject({ op: z.enum(['sum', 'max']), rows: dim, cols: dim }),
  softmax: z.strictObject({ rows: dim, cols: dim }),
  layernorm: z.strictObject({ rows: dim, cols: dim, eps: z.number().positive().max(1).default(1e-5) }),
  mlp: z.strictObject({ batch: dim }),
  custom: z.strictObject({
    entryPoint: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/).default('main'),
    workgroups: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
    outputs: z.array(z.strictObject({
      dtype: z.enum(['f32', 'u32', 'i32']),
      shape: z.array(dim).min(1).max(8)
    })).min(1).max(MAX_CUSTOM_BINDINGS)
  })
} as const

export type MatmulParams = z.infer<typeof paramSchemas.matmul>
export type Conv2dParams = z.infer<typeof paramSchemas.conv2d>
export type ElementwiseParams = z.infer<typeof paramSchemas.elementwise>
export type ReduceParams = z.infer<typeof paramSchemas.reduce>
export type SoftmaxParams = z.infer<typeof paramSchemas.softmax>
export type LayernormParams = z.infer<typeof paramSchemas.layernorm>
export type MlpParams = z.infer<typeof paramSchemas.mlp>
export type CustomParams = z.infer<typeof paramSchemas.custom>

/** A validated task: typed parameters, the input shapes it needs, and the outputs it will produce. */
export type CheckedTask =
  | { kernel: 'matmul', params: MatmulParams, inputs: Uint8Array[], outputs: OutputDescriptor[] }
  | { kernel: 'conv2d', params: Conv2dParams, inputs: Uint8Array[], outputs: OutputDescriptor[] }
  | { kernel: 'elementwise', params: ElementwiseParams, inputs: Uint8Array[], outputs: OutputDescriptor[] }
  | { kernel: 'reduce', params: ReduceParams, inputs: Uint8Array[], outputs: OutputDescriptor[] }
  | { kernel: 'softmax', params: SoftmaxParams, inputs: Uint8Array[], outputs: OutputDescriptor[] }
  | { kernel: 'layernorm', params: LayernormParams, inputs: Uint8Array[], outputs: OutputDescriptor[] }
  | { kernel: 'mlp', params: MlpParams, inputs: Uint8Array[], outputs: OutputDescriptor[], model: MlpModel }
  | { kernel: 'custom', params: CustomParams, inputs: Uint8Array[], outputs: OutputDescriptor[], wgsl: string }

export interface OutputDescriptor {
  dtype: DType
  shape: number[]
  bytes: number
}

const limitsSchema = z.strictObject({
  maxBufferBytes: z.number().int().positive(),
  maxInputBytes: z.number().int().positive(),
  maxOutputBytes: z.number().int().positive(),
  maxWorkgroupsPerDimension: z.number().int().positive(),
  maxWorkgroupsTotal: z.number().int().positive(),
  timeoutMs: z.number().int().positive()
}).partial()

export const taskSpecSchema = z.strictObject({
  v: z.literal(1),
  kernel: z.enum(KERNEL_NAMES),
  params: z.record(z.string(), z.unknown()),
  inputs: z.array(z.string().refine(isBlobId, 'input ids are lowercase sha256 hex')).max(MAX_CUSTOM_BINDINGS),
  wgsl: z.string().max(MAX_WGSL_BYTES).optional(),
  limits: limitsSchema.optional()
})

/** Parses a task spec from outside (JSON). Throws INVALID_TASK with zod's description of what is wrong. */
export function parseTaskSpec (value: unknown): TaskSpec {
  const parsed = taskSpecSchema.safeParse(value)
  if (!parsed.success) throw new ComputeError('INVALID_TASK', `invalid task spec: ${z.prettifyError(parsed.error)}`)
  return parsed.data as TaskSpec
}

/** Deterministic JSON: object keys sorted, no whitespace. Used for task ids. */
export function canonicalJson (value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

/** sha256 hex of the canonical JSON of a spec. */
export function taskId (spec: TaskSpec): string {
  return sha256Hex(new TextEncoder().encode(canonicalJson(spec)))
}

/** Effective limits: the executor's, tightened (never loosened) by the task's own. */
export function effectiveLimits (executorLimits: TaskLimits, taskLimits: Partial<TaskLimits> = {}): TaskLimits {
  const out = { ...executorLimits }
  for (const key of Object.keys(out) as Array<keyof TaskLimits>) {
    const asked = taskLimits[key]
    if (asked !== undefined) out[key] = Math.min(out[key], asked)
  }
  return out
}

/**
 * Validates a task against its kernel's parameter schema, its inputs' sizes and ids, and the limits. Throws
 * INVALID_TASK, INPUT_MISMATCH or LIMIT_EXCEEDED. Does not touch a GPU.
 */
export function checkTask (task: ComputeTask, limits: TaskLimits = DEFAULT_LIMITS): CheckedTask {
  const spec = parseTaskSpec(task.spec)
  if (task.inputs.length !== spec.inputs.length) {
    throw new ComputeError('INPUT_MISMATCH', `task names ${spec.inputs.length} inputs but ${task.inputs.length} were supplied`)
  }
  let inputBytes = 0
  for (let i = 0; i < spec.inputs.length; i++) {
    const blob = task.inputs[i]
    if (!(blob.bytes instanceof Uint8Array)) throw new ComputeError('INVALID_TASK', `input ${i} is not bytes`)
    if (blob.bytes.byteLength > limits.maxBufferBytes) {
      throw new ComputeError('LIMIT_EXCEEDED', `input ${i} is ${blob.bytes.byteLength} bytes, over the buffer limit of ${limits.maxBufferBytes}`, { limit: 'maxBufferBytes' })
    }
    inputBytes += blob.bytes.byteLength
    if (sha256Hex(blob.bytes) !== spec.inputs[i]) {
      throw new ComputeError('INPUT_MISMATCH', `input ${i} does not hash to its id ${spec.inputs[i]}`)
    }
  }
  if (inputBytes > limits.maxInputBytes) {
    throw new ComputeError('LIMIT_EXCEEDED', `inputs total ${inputBytes} bytes, over the limit of ${limits.maxInputBytes}`, { limit: 'maxInputBytes' })
  }
  if (spec.kernel !== 'custom' && spec.wgsl !== undefined) throw new ComputeError('INVALID_TASK', 'only custom tasks carry WGSL')
  const inputs = task.inputs.map(b => b.bytes)
  const checked = checkKernel(spec, inputs)
  let outputBytes = 0
  for (const output of checked.outputs) {
    if (output.bytes > limits.maxBufferBytes) {
      throw new ComputeError('LIMIT_EXCEEDED', `an output of ${output.bytes} bytes is over the buffer limit of ${limits.maxBufferBytes}`, { limit: 'maxBufferBytes' })
    }
    outputBytes += output.bytes
  }
  if (outputBytes > limits.maxOutputBytes) {
    throw new ComputeError('LIMIT_EXCEEDED', `outputs total ${outputBytes} bytes, over the limit of ${limits.maxOutputBytes}`, { limit: 'maxOutputBytes' })
  }
  if (checked.kernel === 'custom') {
    const [x, y, z] = checked.params.workgroups
    if (Math.max(x, y, z) > limits.maxWorkgroupsPerDimension || x * y * z > limits.maxWorkgroupsTotal) {
      throw new ComputeError('LIMIT_EXCEEDED', `dispatch of ${x}x${y}x${z} workgroups is over the limit of ${limits.maxWorkgroupsPerDimension} per dimension and ${limits.maxWorkgroupsTotal} in total`, { limit: 'maxWorkgroups' })
    }
  }
  return checked
}

function params<S extends z.ZodType> (schema: S, value: unknown, kernel: string): z.infer<S> {
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new ComputeError('INVALID_TASK', `invalid ${kernel} params: ${z.prettifyError(parsed.error)}`)
  return parsed.data
}

function f32Output (shape: number[]): OutputDescriptor {
  return { dtype: 'f32', shape, bytes: 4 * shape.reduce((a, b) => a * b, 1) }
}

function expectInputs (inputs: Uint8Array[], floats: number[], kernel: string): void {
  if (inputs.length !== floats.length) {
    throw new ComputeError('INVALID_TASK', `${kernel} takes ${floats.length} inputs, got ${inputs.length}`)
  }
  for (let i = 0; i < floats.length; i++) {
    if (inputs[i].byteLength !== floats[i] * 4) {
      throw new ComputeError('INVALID_TASK', `${kernel} input ${i} must be ${floats[i]} f32 values (${floats[i] * 4} bytes), got ${inputs[i].byteLength} bytes`)
    }
  }
}

/** The kernels whose parameters alone fix their inputs' sizes and their output's shape (not mlp, custom). */
type StaticKernel = 'matmul' | 'conv2d' | 'elementwise' | 'reduce' | 'softmax' | 'layernorm'

/** Each static kernel's input sizes (f32 values) and output shape, from its parsed parameters. */
const STATIC_SHAPES: { [K in StaticKernel]: (p: z.infer<(typeof paramSchemas)[K]>) => { inputs: number[], output: number[] } } = {
  matmul: p => ({ inputs: [p.m * p.k, p.k * p.n], output: [p.m, p.n] }),
  conv2d: p => {
    const outH = Math.floor((p.height + 2 * p.padding - p.kernelH) / p.stride) + 1
    const outW = Math.floor((p.width + 2 * p.padding - p.kernelW) / p.stride) + 1
    if (outH < 1 || outW < 1) throw new ComputeError('INVALID_TASK', 'conv2d kernel is larger than the padded input')
    return { inputs: [p.channels * p.height * p.width, p.filters * p.channels * p.kernelH * p.kernelW, p.filters], output: [p.filters, outH, outW] }
  },
  elementwise: p => ({ inputs: (BINARY_OPS as readonly string[]).includes(p.op) ? [p.n, p.n] : [p.n], output: [p.n] }),
  reduce: p => ({ inputs: [p.rows * p.cols], output: [p.rows] }),
  softmax: p => ({ inputs: [p.rows * p.cols], output: [p.rows, p.cols] }),
  layernorm: p => ({ inputs: [p.rows * p.cols, p.cols, p.cols], output: [p.rows, p.cols] })
}

/** A static kernel's outputs, once its inputs are the sizes its parameters fix (else INVALID_TASK). */
function staticOutputs (shape: { inputs: number[], output: number[] }, inputs: Uint8Array[], kernel: StaticKernel): OutputDescriptor[] {
  expectInputs(inputs, shape.inputs, kernel)
  return [f32Output(shape.output)]
}

/**
 * The input sizes and output bytes a task announces, from its kernel and parameters alone (no input fetched):
 * undefined for a kernel they do not fix (mlp, custom) or parameters it refuses.
 */
export function staticShapeOf (kernel: string, params: unknown): { inputBytes: number[], outputBytes: number } | undefined {
  if (!Object.hasOwn(STATIC_SHAPES, kernel)) return undefined
  const k = kernel as StaticKernel
  const parsed = paramSchemas[k].safeParse(params)
  if (!parsed.success) return undefined
  try {
    const shape = (STATIC_SHAPES[k] as (p: unknown) => { inputs: number[], output: number[] })(parsed.data)
    return { inputBytes: shape.inputs.map(n => 4 * n), outputBytes: 4 * shape.output.reduce((a, b) => a * b, 1) }
  } catch (err) {
    if (err instanceof ComputeError) return undefined
    throw err
  }
}

/**
 * Why `inputs` cannot be run as `spec` asks, from its kernel, parameters and output limit and the inputs' bytes
 * alone, never the executor's limits or device, so every node finds the same (undefined: they fit). What a
 * provider reports instead of a result when a requester's inputs do not fit its task (market/provider/job.ts).
 */
export function inputFault (spec: TaskSpec, inputs: Uint8Array[]): string | undefined {
  try {
    const checked = checkKernel(parseTaskSpec(spec), inputs)
    const bytes = checked.outputs.reduce((sum, o) => sum + o.bytes, 0)
    const limit = spec.limits?.maxOutputBytes
    return limit !== undefined && bytes > limit ? `outputs total ${bytes} bytes, over the task's output limit of ${limit}` : undefined
  } catch (err) {
    if (err instanceof ComputeError && err.code === 'INVALID_TASK') return err.message
    throw err
  }
}

function checkKernel (spec: TaskSpec, inputs: Uint8Array[]): CheckedTask {
  switch (spec.kernel) {
    case 'matmul': {
      const p = params(paramSchemas.matmul, spec.params, 'matmul')
      return { kernel: 'matmul', params: p, inputs, outputs: staticOutputs(STATIC_SHAPES.matmul(p), inputs, 'matmul') }
    }
    case 'conv2d': {
      const p = params(paramSchemas.conv2d, spec.params, 'conv2d')
      return { kernel: 'conv2d', params: p, inputs, outputs: staticOutputs(STATIC_SHAPES.conv2d(p), inputs, 'conv2d') }
    }
    case 'elementwise': {
      const p = params(paramSchemas.elementwise, spec.params, 'elementwise')
      return { kernel: 'elementwise', params: p, inputs, outputs: staticOutputs(STATIC_SHAPES.elementwise(p), inputs, 'elementwise') }
    }
    case 'reduce': {
      const p = params(paramSchemas.reduce, spec.params, 'reduce')
      return { kernel: 'reduce', params: p, inputs, outputs: staticOutputs(STATIC_SHAPES.reduce(p), inputs, 'reduce') }
    }
    case 'softmax': {
      const p = params(paramSchemas.softmax, spec.params, 'softmax')
      return { kernel: 'softmax', params: p, inputs, outputs: staticOutputs(STATIC_SHAPES.softmax(p), inputs, 'softmax') }
    }
    case 'layernorm': {
      const p = params(paramSchemas.layernorm, spec.params, 'layernorm')
      return { kernel: 'layernorm', params: p, inputs, outputs: staticOutputs(STATIC_SHAPES.layernorm(p), inputs, 'layernorm') }
    }
    case 'mlp': {
      const p = params(paramSchemas.mlp, spec.params, 'mlp')
      if (inputs.length !== 2) throw new ComputeError('INVALID_TASK', 'mlp takes 2 inputs: the weights file and the batch')
      const model = decodeMlp(inputs[0])
      const inDim = model.layers[0].inDim
      const outDim = model.layers[model.layers.length - 1].outDim
      if (inputs[1].byteLength !== p.batch * inDim * 4) {
        throw new ComputeError('INVALID_TASK', `mlp batch must be ${p.batch}x${inDim} f32 values, got ${inputs[1].byteLength} bytes`)
      }
      return { kernel: 'mlp', params: p, inputs, outputs: [f32Output([p.batch, outDim])], model }
    }
    case 'custom': {
      const p = params(paramSchemas.custom, spec.params, 'custom')
      if (spec.wgsl === undefined || spec.wgsl.length === 0) throw new ComputeError('INVALID_TASK', 'a custom task carries its WGSL source')
      if (inputs.length + p.outputs.length > MAX_CUSTOM_BINDINGS) {
        throw new ComputeError('INVALID_TASK', `custom tasks bind at most ${MAX_CUSTOM_BINDINGS} buffers (inputs + outputs)`)
      }
      for (let i = 0; i < inputs.length; i++) {
        if (inputs[i].byteLength === 0 || inputs[i].byteLength % 4 !== 0) {
          throw new ComputeError('INVALID_TASK', `custom input ${i} must be a non-empty multiple of 4 bytes`)
        }
      }
      const outputs = p.outputs.map(o => ({ dtype: o.dtype, shape: o.shape, bytes: 4 * o.shape.reduce((a, b) => a * b, 1) }))
      return { kernel: 'custom', params: p, inputs, outputs, wgsl: spec.wgsl }
    }
  }
}
