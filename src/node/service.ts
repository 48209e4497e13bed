/** The js-libp2p service shape: started in dependency order, stopped in reverse. */
export interface Startable {
  start (): Promise<void>
  stop (): Promise<void>
}

export type LifecycleState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed'
