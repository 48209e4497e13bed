import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gpuCapabilitySchema, type GpuCapability } from '../compute/index.ts'

/** `harmonyd bench gpu` stores its result here; the node advertises it (node_info, and bids in the market). */
export const CAPABILITY_FILE = 'capability.json'

export async function readCapability (datadir: string): Promise<GpuCapability | undefined> {
  let text: string
  try {
    text = await readFile(join(datadir, CAPABILITY_FILE), 'utf8')
  } catch {
    return undefined
  }
  const parsed = gpuCapabilitySchema.safeParse(JSON.parse(text))
  // a stale or hand-edited file is ignored rather than advertised
  return parsed.success ? parsed.data as GpuCapability : undefined
}

export async function writeCapability (datadir: string, capability: GpuCapability): Promise<void> {
  await writeFile(join(datadir, CAPABILITY_FILE), `${JSON.stringify(capability, null, 2)}\n`)
}
