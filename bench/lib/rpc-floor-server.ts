// Child process of bench/rpc.ts: the floor. A bare node:http JSON server that reads the body, parses it, and
// answers the bytes the real node answered for that method (no validation, no auth, no limits, no ledger).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

process.once('message', (answers: Record<string, string>) => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const { method } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { method: string }
      const body = answers[method] ?? '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"not found"}}'
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => { process.send?.({ port: (server.address() as AddressInfo).port }) })
})
process.on('disconnect', () => { process.exit(0) })
