import type { IncomingMessage, ServerResponse } from 'node:http'

/** Browser origins allowed to call the API: CORS for HTTP, the Origin check for WebSocket. `'*'` allows any. */
export class CorsPolicy {
  private readonly origins: ReadonlySet<string>

  constructor (origins: readonly string[]) {
    this.origins = new Set(origins)
  }

  allowed (origin: string): boolean {
    return this.origins.has('*') || this.origins.has(origin)
  }

  setHeaders (res: ServerResponse, origin: string): void {
    res.setHeader('Access-Control-Allow-Origin', this.origins.has('*') ? '*' : origin)
    res.setHeader('Vary', 'Origin')
  }

  /** Answers an OPTIONS preflight: 204 with the allowed methods and headers, or 403; false when refused. */
  preflight (req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin
    if (origin === undefined || !this.allowed(origin)) {
      res.writeHead(403)
      res.end()
      return false
    }
    this.setHeaders(res, origin)
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'POST, OPTIONS',
      // authorization and x-api-key carry the credentials of admin and spending calls
      'Access-Control-Allow-Headers': 'content-type, authorization, x-api-key',
      'Access-Control-Max-Age': '600'
    })
    res.end()
    return true
  }
}
