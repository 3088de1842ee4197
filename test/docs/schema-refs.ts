// JSON values of an OpenAPI document, and its schemas with their `$ref`s inlined: what the contract
// test and the fuzzer both validate against.
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

/** A schema with every `$ref` into the document inlined (and `$id`s dropped, so copies do not clash). */
export function resolveRefs (schema: Json, doc: object, depth = 0): Json {
  if (depth > 50) throw new Error('schema $refs nest too deep (a cycle?)')
  if (Array.isArray(schema)) return schema.map((s) => resolveRefs(s, doc, depth))
  if (schema === null || typeof schema !== 'object') return schema
  const ref = schema.$ref
  if (typeof ref === 'string') {
    if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`)
    let target = doc as unknown as Json
    for (const seg of ref.slice(2).split('/')) {
      target = (target as JsonObject)[seg.replace(/~1/g, '/').replace(/~0/g, '~')] as Json
    }
    if (target === undefined) throw new Error(`dangling $ref ${ref}`)
    const { $ref: _ref, ...rest } = schema
    const inlined = resolveRefs(target, doc, depth + 1)
    return Object.keys(rest).length === 0 ? inlined : { allOf: [inlined, resolveRefs(rest, doc, depth)] }
  }
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(schema)) if (k !== '$id') out[k] = resolveRefs(v, doc, depth)
  return out
}
