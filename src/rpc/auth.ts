import type { IncomingHttpHeaders } from 'node:http'
import { RpcErrorCode, RpcMethodError } from './errors.ts'
import { type ApiKeyStore, looksLikeApiKey } from './api-keys.ts'
import { checkIat, jwtKey, verifyJwt } from './jwt.ts'
import type { KeyObject } from 'node:crypto'
import type { MethodClass } from './method-class.ts'
import { anonymousClient } from './access.ts'

/** Why a call was refused for its credentials (the `data.reason` of the JSON-RPC error). */
export type AuthFailure = 'auth_required' | 'scope' | 'token_malformed' | 'token_signature' | 'token_expired' | 'key_unknown' | 'key_revoked'

/** What one HTTP request or WebSocket connection may call, and which rate-limit bucket it spends from. */
export interface RpcGrant {
  /** The rate-limit bucket: `operator` (the node's JWT), `key:<id>` (an API key) or `ip:<address>`. */
  client: string
  principal: 'anonymous' | 'operator' | 'api-key'
  /** The API key's label, for messages. */
  label?: string
  classes: ReadonlySet<MethodClass>
  /** Set when credentials were presented and refused: calls that need them get this reason and message. */
  denial?: { reason: AuthFailure, message: string }
}

export interface RpcAuthInit {
  /** The node's HS256 secret (`<datadir>/rpc/jwt.hex`); a bearer JWT signed with it may call every class. */
  jwtSecret: Uint8Array
  /** API keys with their scopes; none when absent. */
  apiKeys?: ApiKeyStore
  /** Milliseconds clock for `iat` checks (tests). @default Date.now */
  now?: () => number
}

// tokens whose signature verified, with their iat: a client mints one per request with a one-second iat, so the
// same token comes back many times a second and the HMAC and the JSON of the token are done once per token
const MAX_VERIFIED_TOKENS = 256

const ALL: ReadonlySet<MethodClass> = new Set(['public', 'admin', 'spending'])
const PUBLIC: ReadonlySet<MethodClass> = new Set(['public'])

/**
 * Bearer JWT (HS256, `iat` within ±60 s: geth's authenticated RPC) or API key (`Authorization: Bearer hk_…` or
 * `X-API-Key: hk_…`). Read once per HTTP request and once per WebSocket upgrade. No credentials: public methods
 * only. Refused credentials also leave public methods open; the calls that needed them get the reason.
 */
export class RpcAuth {
  private readonly jwtSecret: KeyObject
  private readonly apiKeys?: ApiKeyStore
  private readonly now: () => number
  private readonly verified = new Map<string, number>()

  constructor (init: RpcAuthInit) {
    this.jwtSecret = jwtKey(init.jwtSecret)
    this.apiKeys = init.apiKeys
    this.now = init.now ?? Date.now
  }

  async authenticate (headers: IncomingHttpHeaders, remoteAddress: string): Promise<RpcGrant> {
    const anonymous: RpcGrant = { client: anonymousClient(remoteAddress), principal: 'anonymous', classes: PUBLIC }
    const credential = credentialOf(headers)
    if (credential === undefined) return anonymous
    if (looksLikeApiKey(credential)) {
      if (this.apiKeys === undefined) return { ...anonymous, denial: { reason: 'key_unknown', message: 'unknown API key: this node has no API keys; create one with harmonyd rpc keys add' } }
      const found = await this.apiKeys.check(credential)
      if (found === 'unknown') return { ...anonymous, denial: { reason: 'key_unknown', message: 'unknown API key: check it, or create one with harmonyd rpc keys add' } }
      if (found === 'revoked') return { ...anonymous, denial: { reason: 'key_revoked', message: 'API key revoked: ask the operator for a new one (harmonyd rpc keys add)' } }
      return { client: `key:${found.id}`, principal: 'api-key', label: found.label, classes: found.scope }
    }
    const known = this.verified.get(credential)
    const check = known !== undefined ? checkIat(known, this.now()) : verifyJwt(credential, this.jwtSecret, this.now())
    if (!check.ok) {
      this.verified.delete(credential)
      return { ...anonymous, denial: { reason: check.reason, message: check.message } }
    }
    if (known === undefined) {
      // oldest first out (a Map iterates in insertion order)
      if (this.verified.size >= MAX_VERIFIED_TOKENS) this.verified.delete(this.verified.keys().next().value as string)
      this.verified.set(credential, check.iatSeconds)
    }
    return { client: 'operator', principal: 'operator', classes: ALL }
  }
}

// 'an admin method', 'a spending method'
function withArticle (methodClass: MethodClass): string {
  return `${/^[aeiou]/.test(methodClass) ? 'an' : 'a'} ${methodClass}`
}

function credentialOf (headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    // an Authorization header we cannot read is a credential refused, not an anonymous call
    return match === null ? 'malformed' : match[1]
  }
  const apiKey = headers['x-api-key']
  return typeof apiKey === 'string' ? apiKey.trim() : undefined
}

/** The error a call to `method` of class `methodClass` gets under `grant`; undefined when allowed. */
export function authorize (grant: RpcGrant | undefined, method: string, methodClass: MethodClass): RpcMethodError | undefined {
  if (grant === undefined || grant.classes.has(methodClass)) return undefined
  if (grant.denial !== undefined) {
    return new RpcMethodError(RpcErrorCode.UNAUTHORIZED, grant.denial.message, { reason: grant.denial.reason, class: methodClass })
  }
  if (grant.principal === 'api-key') {
    return new RpcMethodError(RpcErrorCode.UNAUTHORIZED,
      `${method} is ${withArticle(methodClass)} method and API key '${grant.label ?? ''}' has scope ${[...grant.classes].join(',')}; use a key whose scope includes ${methodClass}`,
      { reason: 'scope' satisfies AuthFailure, class: methodClass })
  }
  return new RpcMethodError(RpcErrorCode.UNAUTHORIZED,
    `${method} is ${withArticle(methodClass)} method: send Authorization: Bearer <JWT signed with the node's secret, <datadir>/rpc/jwt.hex> or an API key with scope ${methodClass} (harmonyd rpc keys add)`,
    { reason: 'auth_required' satisfies AuthFailure, class: methodClass })
}
