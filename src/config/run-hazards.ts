// Static reading of what a tako file hands to bash and to CEL, for validate's warnings: where a template stands in
// a script's shell quoting, and which `inputs.x` / `steps.y` names an `if:` expression uses. Hand-written because
// no kept library answers either question: shell parsers (e.g. for bash ASTs) do not accept `{{ }}` templates in
// the middle of a word, and the CEL library does not expose its parsed identifiers.

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
 * `inputs.<name>` and `steps.<id>` (also `inputs["name"]`) used by a CEL expression, outside its string literals.
 * A dotted name stops at `-`: in CEL `inputs.dry-run` is `inputs.dry - run`, so `inputs.dry` is what it reads.
 */
export function namesInExpression(source: string): ExpressionName[] {
  // String literals blanked (same length), so a name inside one is not read and offsets stay those of the source.
  const code = source.replace(/(["'])(?:\\.|(?!\1)[^\\])*\1/g, (s) => s[0] + ' '.repeat(s.length - 2) + s[0])
  const found: ExpressionName[] = []
  const dotted = /(?<![A-Za-z0-9_.])(inputs|steps)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)/g
  for (let m = dotted.exec(code); m; m = dotted.exec(code)) {
    found.push({ root: m[1] as 'inputs' | 'steps', name: m[2], offset: m.index + m[0].length - m[2].length })
  }
  const indexed = /(?<![A-Za-z0-9_.])(inputs|steps)\s*\[\s*(["'])([^"'\\]*)\2\s*\]/g
  for (let m = indexed.exec(source); m; m = indexed.exec(source)) {
    if (code.slice(m.index, m.index + m[1].length) !== m[1]) continue
    found.push({ root: m[1] as 'inputs' | 'steps', name: m[3], offset: m.index + m[0].indexOf(m[2]) + 1 })
  }
  return found.sort((a, b) => a.offset - b.offset)
}
