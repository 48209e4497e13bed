// A pruned node under the commit rule (the default): test/helpers/pruned-node-scenario.ts.
import { registerPrunedNodeTests } from '../helpers/pruned-node-scenario.ts'

registerPrunedNodeTests('commit')
