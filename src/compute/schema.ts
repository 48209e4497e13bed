import { z } from 'zod'
import { KERNEL_NAMES } from './types.ts'

/** `node_info.executor` as a zod schema, for the RPC result and the OpenRPC document. */
export const executorInfoSchema = z.object({
  kind: z.enum(['gpu', 'software', 'cpu']),
  adapter: z.object({
    vendor: z.string(),
    architecture: z.string(),
    device: z.string(),
    description: z.string(),
    backend: z.string(),
    featureLevel: z.enum(['core', 'compatibility', 'none']),
    isFallbackAdapter: z.boolean()
  }),
  limits: z.object({
    maxStorageBufferBindingSize: z.number(),
    maxComputeInvocationsPerWorkgroup: z.number(),
    maxComputeWorkgroupsPerDimension: z.number()
  }),
  taskLimits: z.object({
    maxBufferBytes: z.number(),
    maxInputBytes: z.number(),
    maxOutputBytes: z.number(),
    maxWorkgroupsPerDimension: z.number(),
    maxWorkgroupsTotal: z.number(),
    timeoutMs: z.number()
  }),
  profile: z.string(),
  kernels: z.array(z.enum(KERNEL_NAMES))
})

/** What a node advertises from `runGpuBench` (GpuCapability). */
export const gpuCapabilitySchema = z.object({
  kind: z.enum(['gpu', 'software', 'cpu']),
  adapter: z.string(),
  matmulGflops: z.number(),
  memoryBandwidthGBps: z.number(),
  fp32PeakGflops: z.number(),
  measuredAt: z.string()
})
