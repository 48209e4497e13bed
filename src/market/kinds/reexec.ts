/**
 * `task-reexec` (42): a validator's commitment of its own re-execution of a disputed task. Under the commit rule a
 * dispute is settled by the commitment that validators holding a quorum of stake put in the order before the
 * settle (each validator's own re-execution is not an input every node has; these transactions are). Validator-
 * signed, fee 0, acting for `reexecAccount(validator, task)` with nonce 0: one per validator and task, and the
 * ledger lets exactly one become final.
 */
import { addressBytesFromPublicKey } from '../../core/address.ts'
import { Reader, toHex, Writer } from '../../core/codec.ts'
import { DagError } from '../../dag/errors.ts'
import type { TxKind } from '../../dag/tx-kinds.ts'
import { reexecAccount } from '../accounts.ts'
import { TX_KIND_TASK_REEXEC } from './ids.ts'
import { TASK_ID_BYTES } from './provider.ts'

export interface TaskReexecPayload {
  taskId: Uint8Array
  /** `compute/blob.ts` resultCommitment of this validator's re-execution (32 bytes). */
  commitment: Uint8Array
}

export const taskReexecKind: TxKind<TaskReexecPayload> = {
  id: TX_KIND_TASK_REEXEC,
  name: 'task-reexec',
  maxPayloadBytes: TASK_ID_BYTES + 32,
  encode (p) { return new Writer(TASK_ID_BYTES + 32).fixed(p.taskId, TASK_ID_BYTES).fixed(p.commitment, 32).finish() },
  decode (bytes) {
    const r = new Reader(bytes, 'task-reexec payload')
    const taskId = r.fixed(TASK_ID_BYTES)
    const commitment = r.fixed(32)
    r.end()
    return { taskId, commitment }
  },
  effects () { return { debit: 0n, credits: [] } },
  toJSON (p) { return { taskId: `0x${toHex(p.taskId)}`, commitment: toHex(p.commitment) } },
  account (p, signer) { return reexecAccount(addressBytesFromPublicKey(signer.publicKey), p.taskId) },
  validate (_p, tx) {
    if (tx.fee !== 0n) throw new DagError('ENCODING_INVALID', 'a task-reexec has fee 0')
    if (tx.nonce !== 0n) throw new DagError('ENCODING_INVALID', 'a task-reexec has nonce 0 (one per validator and task)')
  },
  validatorOnly: true,
  feeExempt: true
}
