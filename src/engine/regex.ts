// Every regular expression a tako.yml declares (CEL `matches`, an input's `pattern`, a `produces.outputs` regex)
// is compiled and run here with RE2 semantics, through re2js (a JavaScript port of RE2/J): matching time is linear
// in the input whatever the pattern, where JavaScript's backtracking RegExp never ends on `^(a+)+$`. RE2 has no
// lookaround and no backreferences: a pattern using them is refused when the tako.yml is loaded.

import { RE2JS } from 're2js'

/** Compiled patterns, by flags and source: the same few patterns are matched for every candidate and every run. */
const compiled = new Map<string, RE2JS>()
const MAX_CACHED = 1000

export interface RegexOptions {
  /** `^` and `$` match at line breaks too (a `produces.outputs` regex applied to stdout). */
  multiline?: boolean
}

/** The compiled pattern; throws an Error whose message says what RE2 found wrong. */
export function compileRegex(pattern: string, opts: RegexOptions = {}): RE2JS {
  const key = `${opts.multiline ? 'm' : '-'}${pattern}`
  let re = compiled.get(key)
  if (!re) {
    try {
      re = RE2JS.compile(pattern, opts.multiline ? RE2JS.MULTILINE : 0)
    } catch (error) {
      throw new Error(describe(error))
    }
    if (compiled.size >= MAX_CACHED) compiled.clear()
    compiled.set(key, re)
  }
  return re
}

/** Why `pattern` is not a valid RE2 regular expression, or undefined. */
export function regexProblem(pattern: string): string | undefined {
  try {
    compileRegex(pattern)
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

/** Capture groups of a valid pattern. */
export function regexGroups(pattern: string): number {
  return compileRegex(pattern).groupCount()
}

/** Whether the pattern matches somewhere in `text` (CEL `matches`, RE2 PartialMatch). */
export function regexTest(pattern: string, text: string, opts: RegexOptions = {}): boolean {
  return compileRegex(pattern, opts).matcher(text).find()
}

/** Group 1 of the first match in `text`, or undefined without a match ('' for a group that took no part). */
export function regexCapture(pattern: string, text: string, opts: RegexOptions = {}): string | undefined {
  const m = compileRegex(pattern, opts).matcher(text)
  if (!m.find()) return undefined
  return m.group(1) ?? ''
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  // re2js says "error parsing regexp: invalid or unsupported Perl syntax: `(?=`": keep what it found.
  return message.replace(/^error parsing regexp: /, '')
}
