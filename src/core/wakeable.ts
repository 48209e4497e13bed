/** Sleeps a service loop can take: ended by an abort, or cut short by new work. */

/** Sleeps `ms` (a past deadline: one turn of the event loop), ending early when `signal` (if any) aborts. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return
  await new Promise<void>(resolve => {
    const t = setTimeout(done, Math.max(0, ms))
    function done (): void { clearTimeout(t); signal?.removeEventListener('abort', done); resolve() }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * A sleep that another part of the service can cut short (new work arrived). A wake while nobody sleeps is kept
 * for the next sleep, which then returns at once: work that arrived while the loop was busy is not slept over.
 */
export class Wakeable {
  private wakeFn: (() => void) | undefined
  private woken = false

  async sleep (ms: number, signal: AbortSignal): Promise<void> {
    if (this.woken) { this.woken = false; return }
    if (signal.aborted) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(t)
        signal.removeEventListener('abort', done)
        if (this.wakeFn === done) this.wakeFn = undefined
        resolve()
      }
      const t = setTimeout(done, Math.max(0, ms))
      signal.addEventListener('abort', done, { once: true })
      this.wakeFn = done
    })
  }

  wake (): void {
    if (this.wakeFn !== undefined) this.wakeFn()
    else this.woken = true
  }
}
