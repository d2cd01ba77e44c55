// JSON Schema of tako.yml for editors (yaml-language-server, VS Code), generated from the zod schema as draft-07:
// the draft yaml-language-server and SchemaStore support fully. It adds what only a JSON schema needs to say
// (load.ts checks the same with its own messages): a step has `run` or `uses`, not both, `uses` is a built-in, and
// each built-in step's `with` is modelled from that step's own zod `withSchema` (src/engine/builtins), so a misspelt
// key is flagged in the editor too.

import { z } from 'zod'
import { stepMapSchema, takoFileSchema, usesSchema } from './schema.js'
import { BUILTINS, builtinSteps } from '../engine/builtins/index.js'

type JsonSchema = Record<string, unknown>

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
        jsonSchema.allOf = builtinWithRules()
      }
    }
  }) as JsonSchema
  const { $schema, ...schema } = generated
  return { $schema, $id: 'urn:tako-action:schema:tako.yml', title: 'tako.yml', ...schema }
}

/** One `if uses is this built-in, then with is its schema` per built-in (draft-07 if/then). */
export function builtinWithRules(): JsonSchema[] {
  return BUILTINS.map((builtin) => {
    const uses = builtin.versions.map((version) => `${builtin.name}@${version}`)
    const { $schema: _, ...withJson } = z.toJSONSchema(builtin.withSchema, { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as JsonSchema
    const properties = Object.fromEntries(
      Object.entries((withJson.properties ?? {}) as Record<string, JsonSchema>).map(([key, value]) => [key, templatable(value)])
    )
    // A step without `with` is left to load.ts ("needs event_type"): the schema names missing keys once `with` is there.
    return {
      if: { properties: { uses: { enum: uses, description: `A step using ${builtin.name}` } }, required: ['uses'] },
      then: { properties: { with: { ...withJson, description: `Arguments of ${uses.join(', ')}: ${builtin.description}`, properties } } }
    }
  })
}

/** A value holding `{{ }}` is known only at run time (load.ts skips it; the run coerces "true", "4"), so wherever a
    number, a boolean, a map or a patterned string is expected, a template is accepted too. */
function templatable(property: JsonSchema): JsonSchema {
  if (acceptsAnyString(property)) return property
  const { description, ...rest } = property
  return {
    ...(description === undefined ? {} : { description }),
    anyOf: [rest, { type: 'string', pattern: '\\{\\{', description: 'A {{ }} template, rendered at run time' }]
  }
}

function acceptsAnyString(s: JsonSchema): boolean {
  if (s.type === 'string') return s.pattern === undefined && s.enum === undefined && s.format === undefined && s.const === undefined
  return Array.isArray(s.anyOf) && (s.anyOf as JsonSchema[]).some(acceptsAnyString)
}
