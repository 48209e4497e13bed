// Load generators for bench/rpc.ts: raw node:http requests over a keep-alive agent (not the SDK: its fetch and
// JSON handling would be measured along with the node). Used in the bench process and in the flood child.
import { Agent, request } from 'node:http'

export interface LoadResult {
  /** Latency of each answered request, ms, in completion order. */
  latenciesMs: number[]
  ok: number
  /** Answered 429 (the rate limit). */
  limited: number
  failed: number
  elapsedMs: number
}

export interface LoadTarget {
  url: string
  body: string
  /** Extra headers per request (a fresh JWT for the operator). */
  headers?: () => Record<string, string>
}

function once (agent: Agent, target: LoadTarget): Promise<number> {
  return new Promise((resolve) => {
    const req = request(target.url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(target.body), ...target.headers?.() }
    }, (res) => {
      res.on('data', () => {})
      res.on('end', () => { resolve(res.statusCode ?? 0) })
      res.on('error', () => { resolve(0) })
    })
    req.on('error', () => { resolve(0) })
    req.end(target.body)
  })
}

async function timed (agent: Agent, target: LoadTarget, result: LoadResult): Promise<void> {
  const start = performance.now()
  const status = await once(agent, target)
  if (status === 200) {
    result.ok++
    result.latenciesMs.push(performance.now() - start)
  } else if (status === 429) {
    result.limited++
  } else {
    result.failed++
  }
}

/** `concurrency` requests always in flight, until `signal` aborts or `durationMs` passes. */
export async function closedLoop (target: LoadTarget, concurrency: number, durationMs: number, signal?: AbortSignal): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const result: LoadResult = { latenciesMs: [], ok: 0, limited: 0, failed: 0, elapsedMs: 0 }
  const start = performance.now()
  const deadline = start + durationMs
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline && signal?.aborted !== true) await timed(agent, target, result)
  }))
  result.elapsedMs = performance.now() - start
  agent.destroy()
  return result
}

/** Requests started at a fixed rate (open loop, so a slow server shows as latency), at most `maxInFlight` at once. */
export async function paced (target: LoadTarget, ratePerSecond: number, durationMs: number, maxInFlight = 64): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight })
  const result: LoadResult = { latenciesMs: [], ok: 0, limited: 0, failed: 0, elapsedMs: 0 }
  const start = performance.now()
  const total = Math.round(ratePerSecond * durationMs / 1000)
  const inFlight = new Set<Promise<void>>()
  for (let i = 0; i < total; i++) {
    const due = start + i * 1000 / ratePerSecond
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    if (inFlight.size >= maxInFlight) await Promise.race(inFlight)
    const p = timed(agent, target, result).finally(() => { inFlight.delete(p) })
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  result.elapsedMs = performance.now() - start
  agent.destroy()
  return result
}
