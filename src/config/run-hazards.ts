// Static reading of what a tako file hands to bash and to CEL, for validate's warnings: where a template stands in
// a script's shell quoting (hand-written: the question is about `{{ }}` templates inside a script that is not yet
// bash, which a bash parser cannot take), and which `inputs.x` / `steps.y` names an `if:` expression uses (read from
// the CEL library's parse tree).

import { parse, type ASTNode } from '@marcbachmann/cel-js'

/**
 * Whether `offset` of a bash script stands inside a double-quoted string. Follows bash's quoting: `'…'` (no escapes),
 * `$'…'` (backslash escapes), `"…"` (backslash escapes), a backslash outside quotes; `#` comments end at the line.
 */
export function insideDoubleQuotes(script: string, offset: number): boolean {
  let state: 'plain' | 'single' | 'ansi' | 'double' | 'comment' = 'plain'
  for (let i = 0; i < offset && i < script.length; i++) {
    const c = script[i]
    switch (state) {
      case 'plain':
        if (c === '\\') i++
        else if (c === "'") state = script[i - 1] === '$' ? 'ansi' : 'single'
        else if (c === '"') state = 'double'
        else if (c === '#' && (i === 0 || /\s/.test(script[i - 1]))) state = 'comment'
        break
      case 'single':
        if (c === "'") state = 'plain'
        break
      case 'ansi':
        if (c === '\\') i++
        else if (c === "'") state = 'plain'
        break
      case 'double':
        if (c === '\\') i++
        else if (c === '"') state = 'plain'
        break
      case 'comment':
        if (c === '\n') state = 'plain'
        break
    }
  }
  return state === 'double'
}

export interface ExpressionName {
  root: 'inputs' | 'steps'
  name: string
  /** Offset of the name (after `inputs.`) in the expression. */
  offset: number
}

/**
 * `inputs.<name>` and `steps.<id>` (also `inputs["name"]`) an expression reads, from the CEL library's own parse tree
 * (string literals and `event.payload.inputs` are not names). In CEL `inputs.dry-run` is `inputs.dry - run`, so
 * `inputs.dry` is what it reads. An expression that does not parse gives none: its compile error is reported anyway.
 */
export function namesInExpression(source: string): ExpressionName[] {
  let ast: ASTNode
  try {
    ast = parse(source).ast
  } catch {
    return []
  }
  const found: ExpressionName[] = []
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit)
    if (!node || typeof node !== 'object' || !('op' in node)) return
    const n = node as ASTNode
    const [target, key] = Array.isArray(n.args) ? n.args : []
    const root = isRoot(target)
    if (root && (n.op === '.' || n.op === '.?') && typeof key === 'string') {
      found.push({ root, name: key, offset: n.range.end - key.length })
    } else if (root && (n.op === '[]' || n.op === '[?]') && isStringValue(key)) {
      found.push({ root, name: key.args, offset: key.range.start + 1 })
    }
    if (n.op !== 'value' && n.op !== 'id') visit(n.args)
  }
  visit(ast)
  return found.sort((a, b) => a.offset - b.offset)
}

function isRoot(node: unknown): 'inputs' | 'steps' | undefined {
  const n = node as ASTNode | undefined
  return n?.op === 'id' && (n.args === 'inputs' || n.args === 'steps') ? n.args : undefined
}

function isStringValue(node: unknown): node is ASTNode & { op: 'value'; args: string } {
  const n = node as ASTNode | undefined
  return n?.op === 'value' && typeof n.args === 'string'
}
