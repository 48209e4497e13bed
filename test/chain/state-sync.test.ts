/**
 * State sync from a checkpoint under Avalanche: the scenario of test/helpers/state-sync-scenario.ts.
 */
import { registerStateSyncTests } from '../helpers/state-sync-scenario.ts'

registerStateSyncTests('avalanche')
