import {
  createJSONRPCErrorResponse,
  createJSONRPCSuccessResponse,
  JSONRPCErrorException,
  type JSONRPCErrorResponse,
  type JSONRPCID,
  type JSONRPCRequest,
  type JSONRPCResponse
} from 'json-rpc-2.0'
import { z } from 'zod'
import type { Logger } from '../core/logger.ts'
import type { RpcMetrics, RpcOutcome } from './metrics.ts'
import { UNKNOWN_METHOD_LABEL } from './metrics.ts'
import { HarmonyError } from '../core/errors.ts'
import { authorize } from './auth.ts'
import { RpcErrorCode, RpcMethodError, type RpcContext, type RpcErrorCodeValue, type RpcMethod, type RpcRegistry } from './registry.ts'

export interface RpcDispatcherInit {
  /** Largest batch accepted. @default 100 */
  maxBatch?: number
  /**
   * Typed errors that reach the caller: a `HarmonyError` thrown by a method whose `code` is a key here (or in the
   * registry's tables) becomes this JSON-RPC code, with its message and `data: { reason: code }`. Any other
   * error is -32603.
   * @default {}
   */
  errorCodes?: Readonly<Record<string, RpcErrorCodeValue>>
}

export interface RpcDispatcherComponents {
  /** The node's methods. */
  registry: RpcRegistry
  /** Methods the server itself provides (rpc.discover, subscriptions); looked up after `registry`. */
  builtins?: RpcRegistry
  logger: Logger
  metrics: RpcMetrics
}

// method names are echoed back in errors; longer ones are cut
const MAX_ECHOED_METHOD_CHARS = 128

/** One call handled: its answer (null for a notification) and how it is counted once the message's answer is fitted. */
interface CallAnswer {
  text: string | null
  /** The metric's method label: the method's name, or UNKNOWN_METHOD_LABEL. */
  method: string
  outcome: RpcOutcome
}

/**
 * Transport-free JSON-RPC 2.0 handling: envelope checks, batch limits, zod params validation, the error mapping
 * table and metrics. Takes request text, returns response text (or null when every request was a notification).
 * Serializes bigint as a decimal string. The response shapes and error class are `json-rpc-2.0`'s; its server is not
 * used: its ES5-compiled async state machines kept every call's objects alive through young-generation GCs
 * (docs/decisions.md "RPC latency").
 */
export class RpcDispatcher {
  private readonly registry: RpcRegistry
  private readonly builtins?: RpcRegistry
  private readonly logger: Logger
  private readonly metrics: RpcMetrics
  private readonly maxBatch: number
  private readonly errorCodes: Readonly<Record<string, RpcErrorCodeValue>>

  constructor (components: RpcDispatcherComponents, init: RpcDispatcherInit = {}) {
    this.registry = components.registry
    this.builtins = components.builtins
    this.logger = components.logger
    this.metrics = components.metrics
    this.maxBatch = init.maxBatch ?? 100
    this.errorCodes = init.errorCodes ?? {}
  }

  /** Handles one HTTP body or WebSocket message. */
  async handle (text: string, ctx: RpcContext): Promise<string | null> {
    let payload: unknown
    try {
      payload = JSON.parse(text)
    } catch {
      this.count('parse_error')
      return serialize(createJSONRPCErrorResponse(null, RpcErrorCode.PARSE_ERROR, 'parse error: the body is not valid JSON'))
    }
    payload = withExactIds(payload, text)
    // one token per call; an empty or oversized batch is refused below for one token (its size is not work done)
    const calls = Array.isArray(payload) && payload.length > 0 && payload.length <= this.maxBatch ? payload.length : 1
    const retryAfterMs = ctx.admit?.(calls) ?? 0
    if (retryAfterMs > 0) return this.rateLimited(payload, retryAfterMs)
    if (!Array.isArray(payload)) return this.fitted(payload, [await this.handleOne(payload, ctx)], ctx)
    if (payload.length === 0) {
      this.count('invalid_request')
      return serialize(createJSONRPCErrorResponse(null, RpcErrorCode.INVALID_REQUEST, 'invalid request: empty batch'))
    }
    if (payload.length > this.maxBatch) {
      this.count('limit_exceeded')
      return serialize(createJSONRPCErrorResponse(null, RpcErrorCode.LIMIT_EXCEEDED,
        `batch of ${payload.length} requests exceeds the limit of ${this.maxBatch}; split it`))
    }
    return this.fitted(payload, await Promise.all(payload.map(async (item) => await this.handleOne(item, ctx))), ctx)
  }

  /**
   * The message's answer, or -32005 for each call under its own id when the answer is over what the transport
   * delivers (`ctx.maxAnswerBytes`): each caller learns why rather than waiting for a reply by its id. Each call is
   * counted here, once, with the outcome its caller sees.
   */
  private fitted (payload: unknown, calls: CallAnswer[], ctx: RpcContext): string | null {
    const present = calls.flatMap((call) => call.text === null ? [] : [call.text])
    // a batch always answers with an array, even of one
    const answer = present.length === 0 ? null : Array.isArray(payload) ? `[${present.join(',')}]` : present[0]
    const maxBytes = ctx.maxAnswerBytes
    // a UTF-16 unit is at most 3 bytes of UTF-8: most answers pass without counting their bytes
    const bytes = answer === null || maxBytes === undefined || answer.length * 3 <= maxBytes ? 0 : Buffer.byteLength(answer)
    if (maxBytes === undefined || bytes <= maxBytes) {
      for (const call of calls) this.metrics.requests.inc({ method: call.method, outcome: call.outcome })
      return answer
    }
    // a notification had no answer to replace: it counts as what it did
    for (const call of calls) this.metrics.requests.inc({ method: call.method, outcome: call.text === null ? call.outcome : 'limit_exceeded' })
    return this.errorPerCall(payload, RpcErrorCode.LIMIT_EXCEEDED,
      `the answer is ${bytes} bytes, more than the ${maxBytes} this connection can queue; ask for less (a smaller batch or page)`, null)
  }

  /** The error response text for a request refused before it was read (body too large, queue full...). */
  refuse (code: (typeof RpcErrorCode)[keyof typeof RpcErrorCode], message: string, outcome: RpcOutcome): string {
    this.count(outcome)
    return serialize(createJSONRPCErrorResponse(null, code, message))
  }

  /** Every call of a message refused by the rate limit, each with its own id; notifications get no answer. */
  private rateLimited (payload: unknown, retryAfterMs: number): string | null {
    const message = `rate limit exceeded for this client: retry in ${retryAfterMs} ms (data.retryAfterMs)`
    // an empty or oversized batch gets one answer, as it would without the limit
    if (Array.isArray(payload) && (payload.length === 0 || payload.length > this.maxBatch)) {
      this.count('limit_exceeded')
      return serialize(createJSONRPCErrorResponse(null, RpcErrorCode.LIMIT_EXCEEDED, message, { retryAfterMs }))
    }
    return this.errorPerCall(payload, RpcErrorCode.LIMIT_EXCEEDED, message, 'limit_exceeded', { retryAfterMs })
  }

  /**
   * One error per call of `payload` under its id; notifications get no answer (null when none is left). Each answer
   * is counted as `countAs`, unless null (the caller counted the calls).
   */
  private errorPerCall (payload: unknown, code: RpcErrorCodeValue, message: string, countAs: RpcOutcome | null, data?: unknown): string | null {
    const items = Array.isArray(payload) ? payload : [payload]
    const answers: string[] = []
    for (const item of items) {
      if (isObject(item) && item.id === undefined && typeof item.method === 'string') continue
      const id = isObject(item) && isValidId(item.id) ? item.id : null
      if (countAs !== null) this.count(countAs)
      answers.push(serialize(createJSONRPCErrorResponse(id, code, message, data)))
    }
    if (answers.length === 0) return null
    return Array.isArray(payload) ? `[${answers.join(',')}]` : answers[0]
  }

  /** One call's answer and outcome; counted by the caller once the message's answer is fitted. */
  private async handleOne (item: unknown, ctx: RpcContext): Promise<CallAnswer> {
    const problem = envelopeProblem(item)
    if (problem !== undefined) {
      const id = isObject(item) && isValidId(item.id) ? item.id : null
      const text = serialize(createJSONRPCErrorResponse(id, RpcErrorCode.INVALID_REQUEST, `invalid request: ${problem}`))
      return { text, method: UNKNOWN_METHOD_LABEL, outcome: 'invalid_request' }
    }
    const request = item as JSONRPCRequest
    // looked up per call, so methods registered after start work too
    const method = this.lookup(request.method)
    const label = method === undefined ? UNKNOWN_METHOD_LABEL : request.method
    const stopTimer = this.metrics.requestDuration.startTimer({ method: label })
    const id = request.id ?? null
    let response: JSONRPCResponse
    try {
      response = method === undefined
        ? createJSONRPCErrorResponse(id, RpcErrorCode.METHOD_NOT_FOUND,
          `the method ${request.method.slice(0, MAX_ECHOED_METHOD_CHARS)} does not exist/is not available`)
        : createJSONRPCSuccessResponse(id, await this.call(method, request, ctx) ?? null)
    } catch (err) {
      response = toErrorResponse(id, err)
    }
    stopTimer()
    const outcome = response.error === undefined ? 'ok' : outcomeOf(response.error.code)
    // a notification is never answered, not even with an error
    if (request.id === undefined) return { text: null, method: label, outcome }
    try {
      return { text: serialize(response), method: label, outcome }
    } catch (err) {
      this.logger.warn({ err, method: request.method }, 'RPC result could not be serialized')
      return { text: serialize(createJSONRPCErrorResponse(id, RpcErrorCode.INTERNAL_ERROR, 'internal error')), method: label, outcome: 'internal_error' }
    }
  }

  private lookup (name: string): RpcMethod | undefined {
    return this.registry.get(name) ?? this.builtins?.get(name)
  }

  /** One call's result; throws what reaches the caller as an error (mapped by toErrorResponse). */
  private async call (method: RpcMethod, request: JSONRPCRequest, ctx: RpcContext): Promise<unknown> {
    // credentials before params: a caller without rights learns nothing about the method's inputs
    const refused = authorize(ctx.grant, method.name, method.class ?? 'admin')
    if (refused !== undefined) throw refused
    const params = parseParams(method, request.params)
    try {
      return await method.handler(params, ctx)
    } catch (err) {
      if (err instanceof RpcMethodError || err instanceof JSONRPCErrorException) throw err
      if (err instanceof HarmonyError) {
        const rpcCode = this.errorCodeOf(err.code)
        if (rpcCode !== undefined) throw new RpcMethodError(rpcCode, err.message, { reason: err.code })
      }
      // the cause stays in the log; the caller learns only that it failed
      this.logger.warn({ err, method: method.name }, 'RPC method failed')
      throw new JSONRPCErrorException('internal error', RpcErrorCode.INTERNAL_ERROR)
    }
  }

  // looked up per error, so tables registered after the server started apply too
  private errorCodeOf (code: string): RpcErrorCodeValue | undefined {
    return Object.hasOwn(this.errorCodes, code) ? this.errorCodes[code] : this.registry.errorCodeOf(code)
  }

  private count (outcome: RpcOutcome): void {
    this.metrics.requests.inc({ method: UNKNOWN_METHOD_LABEL, outcome })
  }
}

/**
 * Fits raw params to the method's schema. A tuple schema takes positional params. A schema with named params (an
 * object, or a union listing one) takes them by name, or by position mapped onto its keys in declaration order, as
 * docs/rpc.md promises: a positional form the union lists itself (`[text]`, `[{...}]`) comes first, and a `null`
 * at the position of an optional key that does not take null leaves that key out. Absent params are `[]` or `{}`.
 * Throws -32602 with the zod issues (path and message) in `data`.
 */
export function parseParams (method: RpcMethod, raw: unknown): unknown {
  const schema = method.params
  // coercion looks through optional()/default(); parsing uses the schema as written
  let shaped: z.ZodType = schema
  while (shaped instanceof z.ZodOptional || shaped instanceof z.ZodDefault) shaped = shaped.def.innerType as z.ZodType
  if (raw === undefined && schema.isOptional()) return checked(schema, undefined)
  if (shaped instanceof z.ZodTuple) {
    const arity = (shaped.def.items as readonly unknown[]).length
    if (raw === undefined || (arity === 0 && isObject(raw) && Object.keys(raw).length === 0)) return checked(schema, [])
    if (!Array.isArray(raw)) throw invalidParams(`${method.name} takes its params by position (a JSON array)`)
    return checked(schema, raw)
  }
  const named = namedParams(shaped)
  if (named === undefined) return checked(schema, raw)
  if (shaped instanceof z.ZodUnion && raw !== undefined) {
    const listed = schema.safeParse(raw)
    if (listed.success) return listed.data
    // the one-object form `[{...}]` the union lists: report what is wrong inside the object
    if (Array.isArray(raw) && raw.length === 1 && isObject(raw[0]) && listsWrappedObject(shaped, named)) return checked(named, raw[0])
  }
  // from here on the object's own issues, not the union's "invalid input"
  if (raw === undefined) return checked(named, {})
  if (!Array.isArray(raw)) return checked(named, raw)
  const shape = named.shape as Record<string, z.ZodType>
  const keys = Object.keys(shape)
  if (raw.length > keys.length) {
    throw invalidParams(keys.length === 0
      ? `${method.name} takes no params, got ${raw.length}`
      : `${method.name} takes at most ${keys.length} params (${keys.join(', ')}), got ${raw.length}`)
  }
  const byName: Record<string, unknown> = {}
  raw.forEach((value: unknown, index) => {
    const field = shape[keys[index]]
    // `[null, 5]`: a placeholder for an optional param left out, unless null means something there
    if (value === null && field.isOptional() && !field.safeParse(null).success) return
    byName[keys[index]] = value
  })
  return checked(named, byName)
}

/** The object of named params: the schema itself, or the object a union lists beside its positional forms. */
function namedParams (shaped: z.ZodType): z.ZodObject | undefined {
  if (shaped instanceof z.ZodObject) return shaped
  if (shaped instanceof z.ZodUnion) {
    const objects = (shaped.def.options as readonly z.ZodType[]).filter((option) => option instanceof z.ZodObject)
    // two objects would make the names ambiguous; such a schema is parsed as written
    return objects.length === 1 ? objects[0] : undefined
  }
  return undefined
}

function listsWrappedObject (union: z.ZodUnion, named: z.ZodObject): boolean {
  return (union.def.options as readonly z.ZodType[]).some((option) => option instanceof z.ZodTuple &&
    (option.def.items as readonly z.ZodType[]).length === 1 && option.def.items[0] === named)
}

function checked (schema: z.ZodType, input: unknown): unknown {
  const parsed = schema.safeParse(input)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message, code: issue.code }))
  const first = issues[0]
  const where = first === undefined || first.path.length === 0 ? '' : `${first.path.join('.')}: `
  throw new JSONRPCErrorException(`invalid params: ${where}${first?.message ?? 'rejected'}`, RpcErrorCode.INVALID_PARAMS, issues)
}

function invalidParams (message: string): JSONRPCErrorException {
  return new JSONRPCErrorException(`invalid params: ${message}`, RpcErrorCode.INVALID_PARAMS)
}

/** The one error mapping table: what reaches the caller for each thrown value. */
function toErrorResponse (id: JSONRPCID, error: unknown): JSONRPCErrorResponse {
  if (error instanceof RpcMethodError) return createJSONRPCErrorResponse(id, error.rpcCode, error.message, error.data)
  if (error instanceof JSONRPCErrorException) return createJSONRPCErrorResponse(id, error.code, error.message, error.data)
  return createJSONRPCErrorResponse(id, RpcErrorCode.INTERNAL_ERROR, 'internal error')
}

function outcomeOf (code: number): RpcOutcome {
  switch (code) {
    case RpcErrorCode.METHOD_NOT_FOUND: return 'method_not_found'
    case RpcErrorCode.INVALID_PARAMS: return 'invalid_params'
    case RpcErrorCode.INTERNAL_ERROR: return 'internal_error'
    case RpcErrorCode.INVALID_REQUEST: return 'invalid_request'
    case RpcErrorCode.LIMIT_EXCEEDED: return 'limit_exceeded'
    case RpcErrorCode.UNAUTHORIZED: return 'unauthorized'
    default: return 'error'
  }
}

function envelopeProblem (item: unknown): string | undefined {
  if (!isObject(item)) return 'a request must be a JSON object'
  if (item.jsonrpc !== '2.0') return '"jsonrpc" must be "2.0"'
  if (typeof item.method !== 'string' || item.method === '') return '"method" must be a non-empty string'
  if (item.id !== undefined && !isValidId(item.id)) return '"id" must be a string, a number or null'
  if (item.params !== undefined && (item.params === null || typeof item.params !== 'object')) {
    return '"params" must be an array or an object'
  }
  if (item.result !== undefined || item.error !== undefined) return 'a request has no "result" or "error"'
  return undefined
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isValidId (id: unknown): id is JSONRPCID {
  return typeof id === 'string' || id === null || (typeof id === 'number' && Number.isFinite(id)) || isRawJson(id)
}

// JSON.rawJSON and JSON.isRawJSON (Node 21+; not yet in TypeScript's lib): a value JSON.stringify writes as its text
const { rawJSON, isRawJSON: isRawJson } = JSON as unknown as { rawJSON: (text: string) => object, isRawJSON: (value: unknown) => boolean }

/**
 * The payload with every numeric id that is not a safe integer (12345678901234567890, 2.50, 1e400) replaced by its
 * exact text, so the answer carries the id as sent (JSON-RPC 2.0: the same value; geth echoes the raw id too) rather
 * than a double's rounding of it. Parses the text again, keeping each request's id source, only for such a payload:
 * clients number their calls with small integers, and the common case pays one scan of the top-level items.
 */
function withExactIds (payload: unknown, text: string): unknown {
  const items = Array.isArray(payload) ? payload : [payload]
  if (!items.some((item) => isObject(item) && typeof item.id === 'number' && !Number.isSafeInteger(item.id))) return payload
  // the source of every numeric `id` member, by the object holding it (params' own `id` members are recorded too,
  // and left alone: only the requests' ids are replaced)
  const idSources = new Map<object, string>()
  const again: unknown = JSON.parse(text, function (this: object, key: string, value: unknown, context?: { source?: string }) {
    if (key === 'id' && typeof value === 'number' && context?.source !== undefined) idSources.set(this, context.source)
    return value
  })
  for (const item of Array.isArray(again) ? again : [again]) {
    if (!isObject(item) || typeof item.id !== 'number' || Number.isSafeInteger(item.id)) continue
    const source = idSources.get(item)
    if (source !== undefined) item.id = rawJSON(source)
  }
  return again
}

/** JSON text for a response or notification; bigint values travel as decimal strings. */
export function serialize (value: unknown): string {
  // a replacer puts JSON.stringify on its slow path for every value; bigints are rare (amounts travel as strings),
  // so the plain form goes first and the replacer only when it refused a bigint
  try {
    return JSON.stringify(value)
  } catch (err) {
    if (!(err instanceof TypeError)) throw err
    return JSON.stringify(value, (_key, v: unknown) => typeof v === 'bigint' ? v.toString() : v)
  }
}
