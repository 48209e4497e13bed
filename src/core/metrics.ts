import type { Registry } from 'prom-client'

/**
 * One typed metrics object per module (Lodestar's `createBeaconMetrics`): a module declares its metrics once in
 * its own `metrics.ts` through `defineMetrics`, and every class of the module asks for the same object with
 * `createXMetrics(registry?)`. The optional registry is handled here, in one place:
 * - with a registry, the metrics are created and registered once per registry, so several instances of a class
 *   (auto-selected executors, a chain service's watcher, client and aggregator) share them and never collide on a
 *   metric name;
 * - without one, real metrics are created on no registry: the module counts as usual and nothing is exported, so
 *   no call site needs `?.` and no no-op stand-ins exist.
 */
export type MetricsFactory<M> = (registry?: Registry) => M

/** `create` receives the `registers` list to pass to every prom-client metric it builds. */
export function defineMetrics<M extends object> (create: (registers: Registry[]) => M): MetricsFactory<M> {
  const byRegistry = new WeakMap<Registry, M>()
  return (registry) => {
    if (registry === undefined) return create([])
    let metrics = byRegistry.get(registry)
    if (metrics === undefined) {
      metrics = create([registry])
      byRegistry.set(registry, metrics)
    }
    return metrics
  }
}
