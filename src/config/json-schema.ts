// JSON Schema of tako.yml for editors (yaml-language-server, VS Code), generated from the zod schema; the `with` of
// each built-in step comes from that step's own schema (src/engine/builtins/), chosen by its `uses`.

import { z } from 'zod'
import { takoFileSchema } from './schema.js'
import { BUILTINS, builtinSteps } from '../engine/builtins/index.js'

type Json = Record<string, unknown>

/** A `{{ }}` template, accepted wherever a value of another type is expected (it is only known at run time). */
const TEMPLATE: Json = { type: 'string', pattern: '\\{\\{', description: 'A template, rendered when the step runs' }

export function takoJsonSchema(): object {
  const { $schema, ...schema } = z.toJSONSchema(takoFileSchema) as Json
  const stepMap = ((schema.$defs as Record<string, Json>).Step.anyOf as Json[]).find((s) => s.type === 'object')
  if (stepMap) {
    const properties = stepMap.properties as Record<string, Json>
    properties.uses = { ...properties.uses, enum: builtinSteps() }
    stepMap.allOf = BUILTINS.map((builtin) => ({
      if: { properties: { uses: { enum: builtin.versions.map((v) => `${builtin.name}@${v}`) } }, required: ['uses'] },
      then: { properties: { with: withJsonSchema(builtin.withSchema, builtin.description) } }
    }))
  }
  return { $schema, $id: 'urn:tako-action:schema:tako.yml', title: 'tako.yml', ...schema }
}

function withJsonSchema(schema: z.ZodType, description: string): Json {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Json
  const properties = json.properties as Record<string, Json>
  const anyText = (p: Json): boolean => (p.type === 'string' && !p.pattern) || ((p.anyOf as Json[] | undefined) ?? []).some(anyText)
  for (const [key, property] of Object.entries(properties)) {
    if (anyText(property)) continue
    const { description: about, ...rest } = property
    properties[key] = { description: about, anyOf: [rest, TEMPLATE] }
  }
  return { ...json, description }
}
