// A pruned node under Avalanche: test/helpers/pruned-node-scenario.ts.
import { registerPrunedNodeTests } from '../helpers/pruned-node-scenario.ts'

registerPrunedNodeTests('avalanche')
