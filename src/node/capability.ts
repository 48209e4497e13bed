import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gpuCapabilitySchema, type GpuCapability } from '../compute/index.ts'
import { readBoundedText } from '../core/bounded-file.ts'

/** `harmonyd bench gpu` stores its result here; the node advertises it (node_info, and bids in the market). */
export const CAPABILITY_FILE = 'capability.json'
// what `bench gpu` writes is under a kilobyte
const MAX_CAPABILITY_FILE_BYTES = 64 * 1024

export async function readCapability (datadir: string): Promise<GpuCapability | undefined> {
  let json: unknown
  // a missing, unreadable, oversized, stale or hand-edited file is ignored rather than advertised
  try {
    json = JSON.parse(await readBoundedText(join(datadir, CAPABILITY_FILE), MAX_CAPABILITY_FILE_BYTES))
  } catch {
    return undefined
  }
  const parsed = gpuCapabilitySchema.safeParse(json)
  return parsed.success ? parsed.data as GpuCapability : undefined
}

export async function writeCapability (datadir: string, capability: GpuCapability): Promise<void> {
  await writeFile(join(datadir, CAPABILITY_FILE), `${JSON.stringify(capability, null, 2)}\n`)
}
