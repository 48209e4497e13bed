/**
 * The contexts a private task's sealed payloads are bound to (blobs/seal.ts `SealOptions.context`; docs/market.md
 * "Private tasks"). Apart from the notices (sealed-inputs.ts), which need libp2p's peer ids: the SDK opens a private
 * output with `outputContext`, and a wallet's `harmonyd task` commands should not load libp2p's crypto for it.
 */
import { utf8, Writer } from '../core/codec.ts'
import { ADDRESS_BYTES, parseAddress } from '../core/address.ts'

const INPUT_CONTEXT = 'HARMONY/market/input/v1'
const ID_BYTES = 32

/** The context input `index` of `taskId` is sealed to `provider` under (m2's `seal` options.context). */
export function inputContext (taskIdHex: string, provider: string, index: number): Uint8Array {
  return new Writer(128).raw(utf8.encode(INPUT_CONTEXT)).fixed(Buffer.from(taskIdHex, 'hex'), ID_BYTES).fixed(parseAddress(provider), ADDRESS_BYTES).u8(index).finish()
}

/** The context a private task's output is sealed to the requester's key under: the task id (provider/blobs.ts). */
export function outputContext (taskIdHex: string): Uint8Array {
  return new Writer(ID_BYTES).fixed(Buffer.from(taskIdHex, 'hex'), ID_BYTES).finish()
}
