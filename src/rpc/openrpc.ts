import { z } from 'zod'
import type { RpcMethod } from './registry.ts'
import type { TopicDefinition } from './subscriptions.ts'
import type { MethodClass } from './method-class.ts'

/** OpenRPC spec version of the generated document. */
export const OPENRPC_VERSION = '1.3.2'

export type JsonSchema = Record<string, unknown>

export interface OpenRpcContentDescriptor {
  name: string
  description?: string
  required?: boolean
  schema: JsonSchema
}

export interface OpenRpcMethod {
  name: string
  summary: string
  paramStructure: 'by-position' | 'by-name' | 'either'
  params: OpenRpcContentDescriptor[]
  result: OpenRpcContentDescriptor
  /** Extension: who may call it (`public`, `admin` or `spending`; src/rpc/method-class.ts). */
  'x-harmony-class': MethodClass
}

export interface OpenRpcSubscriptionTopic {
  name: string
  summary: string
  filter?: JsonSchema
  payload?: JsonSchema
}

export interface OpenRpcDocument {
  openrpc: string
  info: { title: string, version: string, description?: string }
  methods: OpenRpcMethod[]
  /** Extension: the topics `harmony_subscribe` accepts. */
  'x-harmony-subscription-topics'?: OpenRpcSubscriptionTopic[]
}

export interface OpenRpcInfo {
  /** @default 'Harmony JSON-RPC' */
  title?: string
  version: string
  description?: string
}

/** Builds an OpenRPC 1.3 document (JSON Schema draft-07, as OpenRPC uses) from method definitions. */
export function buildOpenRpcDocument (methods: readonly RpcMethod[], info: OpenRpcInfo, topics: readonly TopicDefinition[] = []): OpenRpcDocument {
  const doc: OpenRpcDocument = {
    openrpc: OPENRPC_VERSION,
    info: {
      title: info.title ?? 'Harmony JSON-RPC',
      version: info.version,
      ...(info.description === undefined ? {} : { description: info.description })
    },
    methods: [...methods].sort((a, b) => a.name.localeCompare(b.name)).map(describeMethod)
  }
  if (topics.length > 0) {
    doc['x-harmony-subscription-topics'] = topics.map((topic) => ({
      name: topic.name,
      summary: topic.summary,
      ...(topic.filter === undefined ? {} : { filter: toSchema(topic.filter, 'input') }),
      ...(topic.payload === undefined ? {} : { payload: toSchema(topic.payload, 'output') })
    }))
  }
  return doc
}

function describeMethod (method: RpcMethod): OpenRpcMethod {
  const { structure, params } = describeParams(method.params)
  const resultSchema = toSchema(method.result, 'output')
  return {
    name: method.name,
    summary: method.summary,
    paramStructure: structure,
    params,
    result: { name: 'result', ...descriptionOf(resultSchema), schema: resultSchema },
    'x-harmony-class': method.class ?? 'admin'
  }
}

function describeParams (schema: z.ZodType): { structure: OpenRpcMethod['paramStructure'], params: OpenRpcContentDescriptor[] } {
  // `optional()` around the params: absent params are fine, the shape inside is what callers need to see
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) {
    return describeParams(schema.def.innerType as z.ZodType)
  }
  // a union of tuples and an object (`[text]` or `{text}`): describe the object (it has names), accept either;
  // the dispatcher maps a positional array onto its keys in this order (parseParams in dispatcher.ts)
  if (schema instanceof z.ZodUnion) {
    const options = schema.def.options as readonly z.ZodType[]
    const shaped = options.find((o) => o instanceof z.ZodObject) ?? options.find((o) => o instanceof z.ZodTuple)
    if (shaped !== undefined) return { structure: 'either', params: describeParams(shaped).params }
  }
  if (schema instanceof z.ZodTuple) {
    const items = schema.def.items as readonly z.ZodType[]
    return {
      structure: 'by-position',
      params: items.map((item, index) => {
        const itemSchema = toSchema(item, 'input')
        const title = typeof itemSchema.title === 'string' ? itemSchema.title : `param${index}`
        return { name: title, ...descriptionOf(itemSchema), required: !item.isOptional(), schema: itemSchema }
      })
    }
  }
  if (schema instanceof z.ZodObject) {
    const shape = schema.shape as Record<string, z.ZodType>
    return {
      // the server also maps a positional array onto the keys in declaration order
      structure: 'either',
      params: Object.entries(shape).map(([name, field]) => {
        const fieldSchema = toSchema(field, 'input')
        return { name, ...descriptionOf(fieldSchema), required: !field.isOptional(), schema: fieldSchema }
      })
    }
  }
  const whole = toSchema(schema, 'input')
  return { structure: 'either', params: [{ name: 'params', ...descriptionOf(whole), required: !schema.isOptional(), schema: whole }] }
}

function descriptionOf (schema: JsonSchema): { description?: string } {
  return typeof schema.description === 'string' ? { description: schema.description } : {}
}

/** zod -> JSON Schema; types JSON cannot carry (bigint, transforms' outputs) become `{}` instead of throwing. */
export function toSchema (schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  let json: JsonSchema
  try {
    json = z.toJSONSchema(schema, { target: 'draft-07', io, unrepresentable: 'any' }) as JsonSchema
  } catch {
    // one odd schema (e.g. a cycle zod cannot express) must not take rpc.discover down
    return { description: 'schema not expressible in JSON Schema' }
  }
  delete json.$schema
  return json
}
