import { Counter, Gauge, Histogram } from 'prom-client'
import { defineMetrics } from '../core/metrics.ts'

/** Every metric of the compute module (the sandboxed executor). */
export interface ComputeMetrics {
  tasks: Counter<'kernel' | 'outcome'>
  duration: Histogram<'kernel'>
  restarts: Counter
  deviceLost: Counter
  queue: Gauge
}

/**
 * The compute metrics on `registry`, created once per registry (auto-selection creates several executors on one
 * registry), or unexported ones without a registry.
 */
export const createComputeMetrics = defineMetrics<ComputeMetrics>((registers) => ({
  tasks: new Counter({ name: 'harmony_compute_tasks_total', help: 'Compute tasks finished, by kernel and outcome', labelNames: ['kernel', 'outcome'], registers }),
  duration: new Histogram({ name: 'harmony_compute_task_duration_seconds', help: 'Dispatch-to-readback time of successful tasks', labelNames: ['kernel'], buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60], registers }),
  restarts: new Counter({ name: 'harmony_compute_worker_restarts_total', help: 'Compute worker processes started after the first', registers }),
  deviceLost: new Counter({ name: 'harmony_compute_device_lost_total', help: 'GPU devices lost (and re-acquired)', registers }),
  queue: new Gauge({ name: 'harmony_compute_queue_tasks', help: 'Compute tasks waiting for the worker', registers })
}))
