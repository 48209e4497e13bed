/**
 * State sync from a checkpoint under the commit rule (docs/consensus-next.md step 4): the scenario of
 * test/helpers/state-sync-scenario.ts, where the cut is the state after the slot that ordered the epoch's close and
 * the joiner goes on ordering from the next slot as the validators do.
 */
import { registerStateSyncTests } from '../helpers/state-sync-scenario.ts'

registerStateSyncTests('commit')
