import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gpuCapabilitySchema, type GpuCapability } from '../compute/index.ts'
import { readBoundedText } from '../core/bounded-file.ts'
import { errorMessage } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'

/** `harmonyd bench gpu` stores its result here; the node advertises it (node_info, and bids in the market). */
export const CAPABILITY_FILE = 'capability.json'
// what `bench gpu` writes is under a kilobyte
const MAX_CAPABILITY_FILE_BYTES = 64 * 1024

/**
 * The capability `harmonyd bench gpu` stored, or undefined. A missing file is the normal case before a bench; a
 * file that is unreadable, too large, not JSON or not a capability (stale or hand-edited) is ignored rather than
 * advertised, with a warning on `logger` naming the file and why, so an operator knows to measure again.
 */
export async function readCapability (datadir: string, logger?: Pick<Logger, 'warn'>): Promise<GpuCapability | undefined> {
  const path = join(datadir, CAPABILITY_FILE)
  const ignore = (reason: string): undefined => {
    logger?.warn({ path, reason }, `ignoring ${path}: ${reason}; run 'harmonyd bench gpu' to measure again`)
    return undefined
  }
  let text: string
  try {
    text = await readBoundedText(path, MAX_CAPABILITY_FILE_BYTES)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    return ignore(`cannot read it: ${errorMessage(err)}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    return ignore(`it is not JSON (${errorMessage(err)})`)
  }
  const parsed = gpuCapabilitySchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return ignore(`it is not a capability: ${issue.path.length === 0 ? '' : `${issue.path.join('.')}: `}${issue.message}`)
  }
  return parsed.data as GpuCapability
}

export async function writeCapability (datadir: string, capability: GpuCapability): Promise<void> {
  await writeFile(join(datadir, CAPABILITY_FILE), `${JSON.stringify(capability, null, 2)}\n`)
}
