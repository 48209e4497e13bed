// Child process of bench/rpc.ts: floods a node with anonymous calls (closed loop, no credentials, so it spends
// its IP's bucket) until told to stop, then reports what it got.
import { closedLoop } from './rpc-load.ts'

interface Start { url: string, body: string, concurrency: number }

const controller = new AbortController()
process.on('message', (message: Start | 'stop') => {
  if (message === 'stop') { controller.abort(); return }
  closedLoop({ url: message.url, body: message.body }, message.concurrency, 10 * 60_000, controller.signal).then((r) => {
    process.send?.({ ok: r.ok, limited: r.limited, failed: r.failed, elapsedMs: r.elapsedMs }, () => { process.exit(0) })
  }, (err: unknown) => { process.stderr.write(`flood failed: ${String(err)}\n`); process.exit(1) })
  process.send?.('started')
})
process.on('disconnect', () => { process.exit(0) })
