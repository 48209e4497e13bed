import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One POST as the receiver saw it. */
export interface ReceivedDelivery {
  headers: IncomingMessage['headers']
  body: string
  /** The status the receiver answered. */
  status: number
}

/**
 * A webhook receiver on 127.0.0.1 (node:http, port chosen at run time). `answer` picks each reply's status from
 * the delivery and the number of requests so far; waiters are woken on every request.
 */
export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = []
  answer: (delivery: { headers: IncomingMessage['headers'], body: string }, index: number) => number = () => 200
  private readonly server: Server
  private waiters: Array<() => void> = []

  private constructor (server: Server) {
    this.server = server
    server.on('request', (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => { chunks.push(c) })
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const status = this.answer({ headers: req.headers, body }, this.received.length)
        this.received.push({ headers: req.headers, body, status })
        res.writeHead(status, { 'content-type': 'text/plain' })
        res.end(status < 300 ? 'ok' : 'not now')
        for (const wake of this.waiters.splice(0)) wake()
      })
    })
  }

  static async start (): Promise<WebhookReceiver> {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return new WebhookReceiver(server)
  }

  get url (): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`
  }

  /** Deliveries answered 2xx. */
  accepted (): ReceivedDelivery[] {
    return this.received.filter((d) => d.status < 300)
  }

  /** Resolves once `check` holds over the deliveries received (checked on each new one). */
  async until (check: (received: ReceivedDelivery[]) => boolean): Promise<void> {
    while (!check(this.received)) {
      await new Promise<void>((resolve) => { this.waiters.push(resolve) })
    }
  }

  async close (): Promise<void> {
    this.server.closeAllConnections()
    this.server.close()
    await once(this.server, 'close')
  }
}
