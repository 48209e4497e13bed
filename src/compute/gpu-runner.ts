import { createHash } from 'node:crypto'
import { create, globals } from 'webgpu'
import type { GpuPlan, PlanBinding } from './kernels/plan.ts'
import type { CustomParams } from './task.ts'
import { type AdapterDescription, ComputeError, type TaskLimits } from './types.ts'

/**
 * Owns the process's one Dawn instance, its adapter and device, and runs GPU plans on it. Lives only in the
 * worker process (`worker.ts`): a hung or crashing dispatch takes down the worker, never the daemon.
 */

// Pipelines kept per device; a bound so a stream of distinct custom shaders cannot grow memory without limit.
const PIPELINE_CACHE_SIZE = 64
// What we ask of the device (capped by the adapter): 256 invocations for the 16x16 matmul tile (llvmpipe's
// default is 128), 8 storage buffers per stage for custom tasks (compatibility mode's default is 4).
const WANTED_INVOCATIONS = 256
const WANTED_STORAGE_BUFFERS = 8
// Adapters that are CPU rasterizers, not GPUs: `gpu` mode refuses them, `software` mode expects them.
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe/i
// Mesa's llvmpipe ends an invocation's loops after 65535 iterations in total (measured: a 1,000,000-iteration
// loop stopped at 65535), silently truncating the result. Library kernels that would need more are refused.
const SOFTWARE_MAX_LOOP_ITERATIONS = 65_535
// Bound on the submits of one timed microbenchmark, whatever its minimum time.
const MAX_TIMED_REPS = 10_000

export type DeviceMode = 'gpu' | 'software'

interface CachedPipeline {
  pipeline: GPUComputePipeline
  layout: GPUBindGroupLayout
}

let dawn: GPU | undefined

/** The process's Dawn instance. Dawn crashed when a second instance was created in one process. */
function dawnInstance (mode: DeviceMode): GPU {
  if (dawn !== undefined) return dawn
  Object.assign(globalThis, globals)
  if (mode === 'software') process.env.EGL_PLATFORM ??= 'surfaceless'
  dawn = create(mode === 'software' ? ['backend=opengles'] : [])
  return dawn
}

export class GpuDevice {
  readonly mode: DeviceMode
  private device: GPUDevice | undefined
  private adapterInfo: AdapterDescription | undefined
  private pipelines = new Map<string, CachedPipeline>()
  private lostError: Promise<never> | undefined
  private acquiring: Promise<void> | undefined
  private closing = false
  /** How many devices this process has acquired; grows by one after every device loss. */
  generation = 0
  /** Called when the device is lost (message for the log). */
  onLost: ((reason: string, message: string) => void) | undefined

  constructor (mode: DeviceMode) {
    this.mode = mode
  }

  /** Acquires an adapter and device; NO_ADAPTER when this mode has none on this machine. */
  async open (): Promise<void> {
    await this.ensureDevice()
  }

  adapterDescription (): AdapterDescription {
    if (this.adapterInfo === undefined) throw new ComputeError('NO_ADAPTER', 'device not open')
    return this.adapterInfo
  }

  limits (): { maxStorageBufferBindingSize: number, maxBufferSize: number, maxComputeInvocationsPerWorkgroup: number, maxComputeWorkgroupsPerDimension: number } {
    const device = this.device
    if (device === undefined) throw new ComputeError('DEVICE_LOST', 'no device')
    return {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension
    }
  }

  private async ensureDevice (): Promise<GPUDevice> {
    if (this.device !== undefined) return this.device
    this.acquiring ??= this.acquire().finally(() => { this.acquiring = undefined })
    await this.acquiring
    if (this.device === undefined) throw new ComputeError('DEVICE_LOST', 'device could not be re-acquired')
    return this.device
  }

  private async acquire (): Promise<void> {
    const gpu = dawnInstance(this.mode)
    const featureLevel = this.mode === 'gpu' ? 'core' : 'compatibility'
    const adapter = await gpu.requestAdapter({ featureLevel, powerPreference: 'high-performance' })
    if (adapter === null) {
      throw new ComputeError('NO_ADAPTER', this.mode === 'gpu'
        ? 'no GPU adapter (Vulkan, feature level core) found'
        : 'no software GPU adapter found: install Mesa (Debian: libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)')
    }
    const info = adapter.info
    const software = info.isFallbackAdapter || SOFTWARE_ADAPTER.test(`${info.device} ${info.description}`)
    if (this.mode === 'gpu' && software) {
      throw new ComputeError('NO_ADAPTER', `only a software adapter is available (${info.description}); use --executor software`)
    }
    const want = (name: keyof GPUSupportedLimits, wanted: number): number => Math.min(adapter.limits[name] as number, wanted)
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxComputeInvocationsPerWorkgroup: want('maxComputeInvocationsPerWorkgroup', WANTED_INVOCATIONS),
        maxComputeWorkgroupSizeX: want('maxComputeWorkgroupSizeX', WANTED_INVOCATIONS),
        maxComputeWorkgroupSizeY: want('maxComputeWorkgroupSizeY', WANTED_INVOCATIONS),
        maxStorageBuffersPerShaderStage: want('maxStorageBuffersPerShaderStage', WANTED_STORAGE_BUFFERS),
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize
      }
    })
    // Errors are captured by error scopes around every task; anything else is logged, never printed by Dawn.
    device.onuncapturederror = () => {}
    this.device = device
    this.generation++
    this.pipelines.clear()
    this.adapterInfo = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      backend: this.mode === 'software' ? 'opengles' : 'default',
      featureLevel,
      isFallbackAdapter: software
    }
    this.lostError = device.lost.then(lost => {
      if (this.device === device) {
        this.device = undefined
      }
      if (!this.closing) this.onLost?.(lost.reason, lost.message)
      throw new ComputeError('DEVICE_LOST', `GPU device lost (${lost.reason}): ${lost.message}`)
    })
    this.lostError.catch(() => {})
  }

  /** Destroys the current device, as a driver reset would. The next task acquires a new one. */
  destroyDevice (): void {
    this.device?.destroy()
  }

  close (): void {
    this.closing = true
    this.device?.destroy()
    this.device = undefined
  }

  /** Compiles a custom shader; COMPILE_ERROR carries Dawn's messages with line:column. */
  async compile (wgsl: string): Promise<GPUShaderModule> {
    const device = await this.ensureDevice()
    device.pushErrorScope('validation')
    const module = device.createShaderModule({ code: wgsl })
    const compilation = await module.getCompilationInfo()
    await device.popErrorScope()
    const errors = compilation.messages.filter(m => m.type === 'error')
    if (errors.length > 0) {
      const text = errors.map(m => `${m.lineNum}:${m.linePos}: ${m.message}`).join('\n')
      throw new ComputeError('COMPILE_ERROR', `WGSL compilation failed:\n${text}`, { messages: errors.map(m => ({ line: m.lineNum, column: m.linePos, message: m.message })) })
    }
    return module
  }

  private async pipeline (wgsl: string, entryPoint: string, bindings: PlanBinding[]): Promise<CachedPipeline> {
    const key = createHash('sha256').update(wgsl).update('\0').update(entryPoint).update('\0').update(bindings.map(b => b.kind).join(',')).digest('hex')
    const cached = this.pipelines.get(key)
    if (cached !== undefined) return cached
    const device = await this.ensureDevice()
    const module = await this.compile(wgsl)
    const layout = device.createBindGroupLayout({
      entries: bindings.map((binding, i) => ({ binding: i, visibility: GPUShaderStage.COMPUTE, buffer: { type: binding.kind } }))
    })
    let pipeline: GPUComputePipeline
    try {
      pipeline = await device.createComputePipelineAsync({
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint }
      })
    } catch (err) {
      throw new ComputeError('INVALID_TASK', `pipeline refused by the device: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (this.pipelines.size >= PIPELINE_CACHE_SIZE) {
      const oldest = this.pipelines.keys().next().value
      if (oldest !== undefined) this.pipelines.delete(oldest)
    }
    const entry = { pipeline, layout }
    this.pipelines.set(key, entry)
    return entry
  }

  /** Checks a plan against the task limits and the device's own limits (LIMIT_EXCEEDED). */
  checkPlan (plan: GpuPlan, limits: TaskLimits): void {
    const device = this.device
    const maxBinding = device?.limits.maxStorageBufferBindingSize ?? Number.MAX_SAFE_INTEGER
    const maxPerDim = Math.min(limits.maxWorkgroupsPerDimension, device?.limits.maxComputeWorkgroupsPerDimension ?? 65535)
    for (const buffer of plan.buffers) {
      if (buffer.bytes > limits.maxBufferBytes || buffer.bytes > maxBinding) {
        throw new ComputeError('LIMIT_EXCEEDED', `a buffer of ${buffer.bytes} bytes is over the limit of ${Math.min(limits.maxBufferBytes, maxBinding)}`, { limit: 'maxBufferBytes' })
      }
    }
    for (const pass of plan.passes) {
      if (this.mode === 'software' && (pass.loopIterations ?? 0) > SOFTWARE_MAX_LOOP_ITERATIONS) {
        throw new ComputeError('LIMIT_EXCEEDED', `this task needs ${pass.loopIterations} loop iterations per invocation; the software GPU stops loops after ${SOFTWARE_MAX_LOOP_ITERATIONS}: run it on a GPU or the cpu executor`, { limit: 'loopIterations' })
      }
      const [x, y, z] = pass.workgroups
      if (Math.max(x, y, z) > maxPerDim || x * y * z > limits.maxWorkgroupsTotal) {
        throw new ComputeError('LIMIT_EXCEEDED', `dispatch of ${x}x${y}x${z} workgroups is over the limit of ${maxPerDim} per dimension and ${limits.maxWorkgroupsTotal} in total`, { limit: 'maxWorkgroups' })
      }
    }
  }

  /** Runs a plan: upload, one submission with every pass, read the outputs back. */
  async run (plan: GpuPlan, limits: TaskLimits): Promise<{ outputs: Uint8Array[], durationMs: number }> {
    const device = await this.ensureDevice()
    const lost = this.lostError
    this.checkPlan(plan, limits)
    const work = this.execute(device, plan)
    return await (lost === undefined ? work : Promise.race([work, lost]))
  }

  private async execute (device: GPUDevice, plan: GpuPlan): Promise<{ outputs: Uint8Array[], durationMs: number }> {
    const pipelines: CachedPipeline[] = []
    for (const pass of plan.passes) pipelines.push(await this.pipeline(pass.wgsl, pass.entryPoint, pass.bindings))
    const uniformBuffers = new Set<number>()
    for (const pass of plan.passes) for (const b of pass.bindings) if (b.kind === 'uniform') uniformBuffers.add(b.buffer)

    device.pushErrorScope('out-of-memory')
    device.pushErrorScope('validation')
    const buffers: GPUBuffer[] = []
    const readbacks: GPUBuffer[] = []
    try {
      plan.buffers.forEach((spec, i) => {
        const size = Math.max(4, Math.ceil(spec.bytes / 4) * 4)
        const usage = uniformBuffers.has(i)
          ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
          : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST
        const buffer = device.createBuffer({ size, usage, mappedAtCreation: spec.init !== undefined })
        if (spec.init !== undefined) {
          new Uint8Array(buffer.getMappedRange()).set(spec.init)
          buffer.unmap()
        }
        buffers.push(buffer)
      })
      const started = performance.now()
      const encoder = device.createCommandEncoder()
      plan.passes.forEach((pass, i) => {
        const { pipeline, layout } = pipelines[i]
        const bindGroup = device.createBindGroup({
          layout,
          entries: pass.bindings.map((b, binding) => ({ binding, resource: { buffer: buffers[b.buffer] } }))
        })
        const compute = encoder.beginComputePass()
        compute.setPipeline(pipeline)
        compute.setBindGroup(0, bindGroup)
        compute.dispatchWorkgroups(...pass.workgroups)
        compute.end()
      })
      for (const output of plan.outputs) {
        const size = buffers[output.buffer].size
        const readback = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
        encoder.copyBufferToBuffer(buffers[output.buffer], 0, readback, 0, size)
        readbacks.push(readback)
      }
      device.queue.submit([encoder.finish()])
      const validation = await device.popErrorScope()
      const oom = await device.popErrorScope()
      if (validation !== null) throw new ComputeError('INVALID_TASK', `the device refused the task: ${validation.message}`)
      if (oom !== null) throw new ComputeError('LIMIT_EXCEEDED', `the device is out of memory: ${oom.message}`, { limit: 'deviceMemory' })
      await Promise.all(readbacks.map(async b => { await b.mapAsync(GPUMapMode.READ) }))
      const durationMs = performance.now() - started
      const outputs = plan.outputs.map((output, i) => {
        const bytes = new Uint8Array(plan.buffers[output.buffer].bytes)
        bytes.set(new Uint8Array(readbacks[i].getMappedRange(), 0, bytes.byteLength))
        readbacks[i].unmap()
        return bytes
      })
      return { outputs, durationMs }
    } catch (err) {
      if (err instanceof ComputeError) throw err
      if (this.device !== device) throw new ComputeError('DEVICE_LOST', `GPU device lost during the task: ${err instanceof Error ? err.message : String(err)}`)
      throw new ComputeError('GPU_ERROR', `GPU error: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      for (const buffer of [...buffers, ...readbacks]) buffer.destroy()
    }
  }

  /** Plan for custom WGSL: inputs at bindings 0..n-1 (read-only storage), outputs after them (read_write). */
  customPlan (params: CustomParams, wgsl: string, inputs: Uint8Array[]): GpuPlan {
    const buffers: GpuPlan['buffers'] = inputs.map(init => ({ bytes: init.byteLength, init }))
    const outputIndices = params.outputs.map(o => buffers.push({ bytes: 4 * o.shape.reduce((a, b) => a * b, 1) }) - 1)
    return {
      buffers,
      passes: [{
        wgsl,
        entryPoint: params.entryPoint,
        bindings: [
          ...inputs.map((_, i) => ({ buffer: i, kind: 'read-only-storage' as const })),
          ...outputIndices.map(buffer => ({ buffer, kind: 'storage' as const }))
        ],
        workgroups: params.workgroups
      }],
      outputs: params.outputs.map((o, i) => ({ buffer: outputIndices[i], dtype: o.dtype, shape: o.shape })),
      maxInvocations: 0
    }
  }

  /**
   * On-device timing for the capability benchmark (inputs uploaded once): mean milliseconds per submit of `plan`.
   * After a warm-up (pipeline compile, first use, the clock leaving idle), at least `reps` submits, and more until
   * `minMs` have passed (at most MAX_TIMED_REPS), so that a fast GPU is not timed on one dispatch that its idle
   * clock and the submit round trip dominate.
   */
  async timeDispatches (plan: GpuPlan, reps: number, minMs = 0): Promise<number> {
    const device = await this.ensureDevice()
    const pipelines: CachedPipeline[] = []
    for (const pass of plan.passes) pipelines.push(await this.pipeline(pass.wgsl, pass.entryPoint, pass.bindings))
    const uniformBuffers = new Set<number>()
    for (const pass of plan.passes) for (const b of pass.bindings) if (b.kind === 'uniform') uniformBuffers.add(b.buffer)
    const buffers = plan.buffers.map((spec, i) => {
      const buffer = device.createBuffer({
        size: Math.max(4, Math.ceil(spec.bytes / 4) * 4),
        usage: uniformBuffers.has(i) ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
        mappedAtCreation: spec.init !== undefined
      })
      if (spec.init !== undefined) { new Uint8Array(buffer.getMappedRange()).set(spec.init); buffer.unmap() }
      return buffer
    })
    const bindGroups = plan.passes.map((pass, i) => device.createBindGroup({
      layout: pipelines[i].layout,
      entries: pass.bindings.map((b, binding) => ({ binding, resource: { buffer: buffers[b.buffer] } }))
    }))
    const once = async (): Promise<void> => {
      const encoder = device.createCommandEncoder()
      plan.passes.forEach((pass, i) => {
        const compute = encoder.beginComputePass()
        compute.setPipeline(pipelines[i].pipeline)
        compute.setBindGroup(0, bindGroups[i])
        compute.dispatchWorkgroups(...pass.workgroups)
        compute.end()
      })
      device.queue.submit([encoder.finish()])
      await device.queue.onSubmittedWorkDone()
    }
    try {
      // Warm-up: pipeline compile and first-use costs are not capability, nor is a clock ramping up from idle.
      const warmStarted = performance.now()
      do {
        await once()
      } while (performance.now() - warmStarted < minMs / 4)
      const started = performance.now()
      let done = 0
      while (done < reps || (performance.now() - started < minMs && done < MAX_TIMED_REPS)) {
        await once()
        done++
      }
      return (performance.now() - started) / done
    } finally {
      for (const buffer of buffers) buffer.destroy()
    }
  }
}
