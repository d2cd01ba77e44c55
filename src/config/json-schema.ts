// JSON Schema of tako.yml for editors (yaml-language-server, VS Code), generated from the zod schema as draft-07:
// the draft yaml-language-server and SchemaStore support fully. It adds what only a JSON schema needs to say
// (load.ts checks the same with its own messages): a step has `run` or `uses`, not both, `uses` is a built-in, and
// the `with` of each built-in step comes from that step's own schema (src/engine/builtins/), chosen by its `uses`.

import { z } from 'zod'
import { stepMapSchema, takoFileSchema, usesSchema } from './schema.js'
import { BUILTINS, builtinSteps } from '../engine/builtins/index.js'

type Json = Record<string, unknown>

/** A `{{ }}` template, accepted wherever a value of another type is expected (it is only known at run time). */
const TEMPLATE: Json = { type: 'string', pattern: '\\{\\{', description: 'A template, rendered when the step runs' }

/** Every `uses:` value this version runs, such as tako/fan-out@v1. */
export function builtinUses(): string[] {
  return builtinSteps()
}

export function takoJsonSchema(): object {
  const generated = z.toJSONSchema(takoFileSchema, {
    target: 'draft-7',
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema === usesSchema) {
        jsonSchema.enum = builtinUses()
        jsonSchema.description = `A built-in step: ${builtinUses().join(', ')}; a step has either run or uses`
      }
      if ((zodSchema as unknown) === stepMapSchema) {
        // `properties: {key: {}}` adds no constraint; strict validators (Ajv strictRequired) want a required key declared.
        jsonSchema.oneOf = [
          { description: 'A script step', properties: { run: {} }, required: ['run'] },
          { description: 'A built-in step', properties: { uses: {} }, required: ['uses'] }
        ]
        jsonSchema.allOf = BUILTINS.map((builtin) => ({
          if: { properties: { uses: { enum: builtin.versions.map((v) => `${builtin.name}@${v}`) } }, required: ['uses'] },
          then: { properties: { with: withJsonSchema(builtin.withSchema, builtin.description) } }
        }))
      }
    }
  }) as Json
  const { $schema, ...schema } = generated
  return { $schema, $id: 'urn:tako-action:schema:tako.yml', title: 'tako.yml', ...schema }
}

function withJsonSchema(schema: z.ZodType, description: string): Json {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input', target: 'draft-7' }) as Json
  const properties = json.properties as Record<string, Json>
  const anyText = (p: Json): boolean => (p.type === 'string' && !p.pattern) || ((p.anyOf as Json[] | undefined) ?? []).some(anyText)
  for (const [key, property] of Object.entries(properties)) {
    if (anyText(property)) continue
    const { description: about, ...rest } = property
    properties[key] = { description: about, anyOf: [rest, TEMPLATE] }
  }
  return { ...json, description }
}
