// JSON Schema of tako.yml for editors (yaml-language-server, VS Code), generated from the zod schema.

import { z } from 'zod'
import { takoFileSchema } from './schema.js'

export function takoJsonSchema(): object {
  const { $schema, ...schema } = z.toJSONSchema(takoFileSchema) as Record<string, unknown>
  return { $schema, $id: 'urn:tako-action:schema:tako.yml', title: 'tako.yml', ...schema }
}
