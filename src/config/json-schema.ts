// JSON Schema of tako.yml for editors (yaml-language-server, VS Code), generated from the zod schema as draft-07:
// the draft yaml-language-server and SchemaStore support fully. It adds what only a JSON schema needs to say
// (load.ts checks the same with its own messages): a step has `run` or `uses`, not both, and `uses` is a built-in.

import { z } from 'zod'
import { stepMapSchema, takoFileSchema, usesSchema } from './schema.js'
import { BUILTIN_STEPS } from './types.js'

/** Every `uses:` value this version runs, such as tako/fan-out@v1. */
export function builtinUses(): string[] {
  return Object.entries(BUILTIN_STEPS).flatMap(([name, versions]) => versions.map((version) => `${name}@${version}`))
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
      }
    }
  }) as Record<string, unknown>
  const { $schema, ...schema } = generated
  return { $schema, $id: 'urn:tako-action:schema:tako.yml', title: 'tako.yml', ...schema }
}
