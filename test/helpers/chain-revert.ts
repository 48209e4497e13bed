import type { ExecutionContext } from 'ava'
import { decodeRevert } from '../../src/chain/bindings.ts'

/** Asserts that `action` reverts with the custom error `errorName` (decoded from the ABI by ethers). */
export async function assertReverts (t: ExecutionContext, action: () => Promise<unknown>, errorName: string): Promise<unknown[]> {
  try {
    const result = await action()
    // A returned transaction response still needs mining; a revert there fails wait().
    if (result !== null && typeof result === 'object' && 'wait' in result && typeof result.wait === 'function') {
      await (result.wait as () => Promise<unknown>)()
    }
  } catch (err) {
    const code = (err as { code?: string }).code
    t.is(code, 'CALL_EXCEPTION', `expected a revert, got ${String(err)}`)
    const decoded = decodeRevert(err)
    t.is(decoded?.name, errorName, `expected ${errorName}, got ${decoded?.name ?? String(err)}`)
    return decoded?.args ?? []
  }
  t.fail(`expected revert ${errorName}, but the call succeeded`)
  return []
}

/** Sends a transaction and waits for it to be mined. */
export async function mined (tx: Promise<{ wait: () => Promise<unknown> }>): Promise<void> {
  await (await tx).wait()
}
