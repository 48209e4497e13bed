import { z } from 'zod'
import type { Checkpoint } from './checkpoint-digest.ts'
import { ChainError } from './errors.ts'

/**
 * The checkpoint signature message gossiped on GOSSIP_TOPICS.checkpoint (src/network/protocols.ts): strict JSON
 * `{ v: 1, epoch, dagRoot, stateRoot, withdrawalsRoot, signature, r? }`.
 */

/** A message is ~400 bytes of JSON; anything much larger is not ours. */
export const MAX_CHECKPOINT_MESSAGE_BYTES = 1024

export interface SignedCheckpoint { checkpoint: Checkpoint, signature: string }

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/)
const MessageSchema = z.object({
  v: z.literal(1),
  epoch: z.string().regex(/^[1-9][0-9]{0,19}$/),
  dagRoot: hex32,
  stateRoot: hex32,
  withdrawalsRoot: hex32,
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
  /** Re-publish round: makes a re-published message's bytes (and so its gossip message id) new. Not signed. */
  r: z.number().int().min(1).max(1_000_000_000).optional()
}).strict()

export function encodeCheckpointMessage (signed: SignedCheckpoint, round = 0): Uint8Array {
  const { checkpoint: cp, signature } = signed
  const message = { v: 1, epoch: cp.epoch.toString(), dagRoot: cp.dagRoot, stateRoot: cp.stateRoot, withdrawalsRoot: cp.withdrawalsRoot, signature, ...(round > 0 ? { r: round } : {}) }
  return new TextEncoder().encode(JSON.stringify(message))
}

/** Parses a gossiped message; throws CHECKPOINT_MESSAGE_INVALID. */
export function decodeCheckpointMessage (data: Uint8Array): SignedCheckpoint {
  if (data.byteLength > MAX_CHECKPOINT_MESSAGE_BYTES) throw new ChainError('CHECKPOINT_MESSAGE_INVALID', 'checkpoint message too large')
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data))
  } catch {
    throw new ChainError('CHECKPOINT_MESSAGE_INVALID', 'checkpoint message is not JSON')
  }
  const parsed = MessageSchema.safeParse(json)
  if (!parsed.success) throw new ChainError('CHECKPOINT_MESSAGE_INVALID', 'checkpoint message has the wrong shape')
  const m = parsed.data
  return {
    checkpoint: { epoch: BigInt(m.epoch), dagRoot: m.dagRoot.toLowerCase(), stateRoot: m.stateRoot.toLowerCase(), withdrawalsRoot: m.withdrawalsRoot.toLowerCase() },
    signature: m.signature.toLowerCase()
  }
}
