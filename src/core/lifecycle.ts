import type { Logger } from './logger.ts'

/** The js-libp2p service shape: started in dependency order, stopped in reverse. */
export interface Startable {
  start (): Promise<void>
  stop (): Promise<void>
}

export type LifecycleState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed'

/** A Startable from two functions (a resource that only needs closing, say). */
export function startable (stop: () => Promise<void>, start: () => Promise<void> = async () => {}): Startable {
  return { start, stop }
}

/**
 * Starts services in order and stops the started ones in reverse: the node and every composite service use it
 * (Lodestar's `BeaconNode.init`/`close`, geth's `RegisterLifecycle`). A failed start leaves the services started
 * before it running, so the caller stops the runner; a failed stop is logged and the others still stop.
 */
export class LifecycleRunner {
  private readonly started: Array<{ name: string, service: Startable }> = []
  private readonly log?: Logger
  private readonly signal?: AbortSignal

  /** With a signal, no service starts once it is aborted. */
  constructor (init: { logger?: Logger, signal?: AbortSignal } = {}) {
    this.log = init.logger
    this.signal = init.signal
  }

  /** Starts `service` and records it for `stopAll`. */
  async start<S extends Startable>(name: string, service: S): Promise<S> {
    if (this.signal?.aborted === true) throw new Error(`not starting ${name}: stopping`)
    await service.start()
    this.started.push({ name, service })
    this.log?.debug({ service: name }, 'service started')
    return service
  }

  /** Records a service that is already running (its stop still runs in reverse order). */
  adopt (name: string, service: Startable): void {
    this.started.push({ name, service })
  }

  /** Names of the running services, in start order. */
  get names (): string[] {
    return this.started.map(s => s.name)
  }

  /** Stops every started service, last first. */
  async stopAll (): Promise<void> {
    while (this.started.length > 0) {
      const { name, service } = this.started.pop()!
      try {
        await service.stop()
        this.log?.debug({ service: name }, 'service stopped')
      } catch (err) {
        this.log?.warn({ service: name, err: err instanceof Error ? err.message : String(err) }, 'service failed to stop cleanly')
      }
    }
  }
}
