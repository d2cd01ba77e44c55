import { describe, expect, it } from '@jest/globals'
import { compileExpression, COST_LIMIT, ExpressionError, filterVariables, ifVariables } from '../../src/engine/expressions.js'
import type { RunContext, TakoEvent } from '../../src/engine/types.js'

const event: TakoEvent = {
  id: 'evt-1',
  type: 'api_published',
  source: 'acme/api',
  artifact: 'default',
  schema_version: '1.4.2',
  payload: {
    services_affected: 'Auth-Service, User-Service ,billing',
    count: 3,
    ratio: 0.5,
    git_tag: 'v2.3.4',
    tags: ['a', 'b'],
    nested: { items: [1, 2, 3] }
  }
}

const ctx: RunContext = {
  inputs: { verbose: true, shards: 4, name: 'api' },
  steps: { build: { status: 'success', outputs: { image: 'acme/api:1' } }, 'lint-all': { status: 'failure', outputs: {} } },
  event,
  env: { CI: 'true', GONE: undefined },
  run_id: 'exec-1',
  repository: 'acme/consumer'
}

const filter = (source: string, e: TakoEvent = event): boolean => compileExpression(source, 'filter').evaluate(filterVariables(e))
const when = (source: string, c: RunContext = ctx): boolean => compileExpression(source, 'if').evaluate(ifVariables(c))

function errorOf(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ExpressionError)
    return (error as Error).message
  }
  throw new Error('expected an ExpressionError')
}

describe('filters', () => {
  it('passes the SPEC example', () => {
    expect(filter("'user-service' in event.payload.services_affected.split(',').map(s, s.trim().lower())")).toBe(true)
    expect(filter("'shipping' in event.payload.services_affected.split(',').map(s, s.trim().lower())")).toBe(false)
  })

  it('sees every event field and the payload alias', () => {
    expect(
      filter(
        "event.type == 'api_published' && event.source == 'acme/api' && event.artifact == 'default' && " +
          "event.schema_version == '1.4.2' && event.id == 'evt-1' && payload.git_tag == event.payload.git_tag"
      )
    ).toBe(true)
  })

  it('compares JSON numbers with CEL ints and doubles', () => {
    expect(filter('payload.count > 2')).toBe(true)
    expect(filter('payload.count == 3 && payload.count + 1 == 4')).toBe(true)
    expect(filter('payload.ratio < 1.0 && payload.ratio > 0')).toBe(true)
    expect(filter('payload.nested.items.exists(i, i == 2) && size(payload.nested.items) == 3')).toBe(true)
  })

  it('has the string extensions, lower() and upper()', () => {
    expect(filter("'Auth'.lower() == 'auth' && 'auth'.upper() == 'AUTH'")).toBe(true)
    expect(filter("'Auth'.lowerAscii() == 'auth' && 'auth'.upperAscii() == 'AUTH'")).toBe(true)
    expect(filter("'a-b-c'.replace('-', '.') == 'a.b.c' && 'a-b-c'.replace('-', '.', 1) == 'a.b-c'")).toBe(true)
    expect(filter("'ab'.replace('', '-') == '-a-b-' && 'x'.replace('x', '$&') == '$&'")).toBe(true)
    expect(filter("payload.tags.join('+') == 'a+b' && 'abc'.charAt(1) == 'b' && 'abc'.reverse() == 'cba'")).toBe(true)
    expect(filter("'  x '.trim() == 'x' && 'v1.2'.startsWith('v') && 'hello'.substring(1, 3) == 'el'")).toBe(true)
  })

  it('has the semver functions', () => {
    expect(filter('semver.major(payload.git_tag) == 2 && semver.minor(payload.git_tag) == 3 && semver.patch(payload.git_tag) == 4')).toBe(true)
    expect(filter("semver.satisfies(event.schema_version, '^1.2.0')")).toBe(true)
    expect(filter("semver.satisfies(event.schema_version, '[1.0.0...1.4.0)')")).toBe(false)
    expect(filter("semver.major('1.2') == 1")).toBe(true)
  })

  it('does not see the variables of an if', () => {
    expect(errorOf(() => compileExpression('inputs.verbose', 'filter'))).toBe('invalid filter expression "inputs.verbose": Unknown variable: inputs (column 1)')
  })
})

describe('if expressions', () => {
  it('sees inputs, steps, env and the event', () => {
    expect(when('inputs.verbose')).toBe(true)
    expect(when('inputs.shards > 2 && inputs.name == "api"')).toBe(true)
    expect(when("steps.build.status == 'success' && steps.build.outputs.image.endsWith(':1')")).toBe(true)
    expect(when("steps['lint-all'].status == 'failure'")).toBe(true)
    expect(when("env.CI == 'true' && !has(env.GONE)")).toBe(true)
    expect(when("event.type == 'api_published' && payload.count == 3")).toBe(true)
  })

  it('gives a root run an empty event', () => {
    const root = { ...ctx, event: undefined }
    expect(when('!has(event.type) && size(payload) == 0', root)).toBe(true)
  })
})

describe('compile errors', () => {
  it.each<[string, 'if' | 'filter', string]>([
    ['inputs.verbose &&', 'if', 'invalid if expression "inputs.verbose &&": Unexpected token: EOF (column 18)'],
    ["1 + 'a' == 2", 'filter', 'invalid filter expression "1 + \'a\' == 2": no such overload: int + string (column 1)'],
    ["'x'.shout()", 'filter', "invalid filter expression \"'x'.shout()\": found no matching overload for 'string.shout()' (column 1)"],
    ['payload.count + 1', 'filter', 'invalid filter expression "payload.count + 1": it returns int, expected a bool'],
    ["'a' + 'b'", 'if', "invalid if expression \"'a' + 'b'\": it returns string, expected a bool"],
    ['  ', 'if', 'invalid if expression "  ": it is empty'],
    [
      "semver.satisfies(payload.v, 'one or two')",
      'filter',
      'invalid filter expression "semver.satisfies(payload.v, \'one or two\')": semver.satisfies: invalid schema_version range "one or two"'
    ],
    ['true &&\n  nope', 'if', 'invalid if expression "true &&\n  nope": Unknown variable: nope (line 2, column 3)']
  ])('%j', (source, kind, message) => {
    expect(errorOf(() => compileExpression(source, kind))).toBe(message)
  })

  it('refuses an expression larger than the structural limits', () => {
    const huge = Array.from({ length: 1500 }, (_, i) => `payload.count == ${i}`).join(' || ')
    expect(errorOf(() => compileExpression(huge, 'filter'))).toMatch(/^invalid filter expression ".*": Exceeded maxAstNodes \(2000\)/s)
  })
})

describe('evaluation errors', () => {
  it('names a missing key and where it is', () => {
    expect(errorOf(() => filter("event.payload.nope == 'x'"))).toBe(
      'filter expression "event.payload.nope == \'x\'" failed: no such key "nope" in event.payload.nope (column 15)'
    )
    expect(errorOf(() => when('steps.deploy.status == "success"'))).toBe(
      'if expression "steps.deploy.status == "success"" failed: no such key "deploy" in steps.deploy (column 7)'
    )
  })

  it('refuses a result that is not a bool', () => {
    expect(errorOf(() => filter('payload.git_tag'))).toBe('filter expression "payload.git_tag" returned string, expected a bool')
    expect(errorOf(() => filter('payload.count'))).toBe('filter expression "payload.count" returned int, expected a bool')
    expect(errorOf(() => filter('payload.nested'))).toBe('filter expression "payload.nested" returned map, expected a bool')
  })

  it('reports a bad version given to a semver function', () => {
    expect(errorOf(() => filter("semver.major('latest') == 1"))).toBe(
      'filter expression "semver.major(\'latest\') == 1" failed: semver.major: "latest" is not a version (column 1)'
    )
    expect(errorOf(() => filter("semver.satisfies('1.0.0', payload.git_tag + '!')"))).toBe(
      'filter expression "semver.satisfies(\'1.0.0\', payload.git_tag + \'!\')" failed: semver.satisfies: invalid schema_version range "v2.3.4!" (column 1)'
    )
  })

  it('stops an evaluation that explodes, quickly', () => {
    const ten = '[1,2,3,4,5,6,7,8,9,10]'
    const nest = (depth: number): string => (depth === 0 ? 'x0' : `${ten}.map(x${depth}, ${nest(depth - 1)})`)
    const source = `size(${nest(8).replace('x0', '1')}) > 0`
    const compiled = compileExpression(source, 'filter')
    // 10^8 steps unbounded: an evaluation that ran them would hang, which the test's ceiling catches.
    expect(errorOf(() => compiled.evaluate(filterVariables(event)))).toBe(
      `filter expression "${source}" failed: it exceeded the evaluation cost limit (${COST_LIMIT} steps)`
    )
    // The same expression stays refused on every evaluation, and a small one still runs.
    expect(() => compiled.evaluate(filterVariables(event))).toThrow(ExpressionError)
    expect(filter(`size(${nest(3).replace('x0', '1')}) == 10`)).toBe(true)
  })

  it('stops a value that doubles, even where an error would be absorbed', () => {
    let source = 'cel.bind(s0, payload.tags, '
    for (let i = 1; i <= 24; i++) source += `cel.bind(s${i}, s${i - 1} + s${i - 1}, `
    source += 'size(s24) > 0' + ')'.repeat(25) + ' || true'
    expect(errorOf(() => filter(source))).toMatch(/exceeded the evaluation cost limit/)
  })

  it('caps replace before it builds a huge string', () => {
    const source = "'" + 'a'.repeat(100) + "'.replace('a', '" + 'b'.repeat(200) + "').replace('b', '" + 'c'.repeat(200) + "') != ''"
    expect(errorOf(() => filter(source))).toMatch(/failed: replace: the result would exceed 1000000 characters \(column 1\)$/)
  })
})

describe('matches (RE2)', () => {
  const evil = { ...event, payload: { ...event.payload, text: `${'a'.repeat(60)}!` } }

  it('ends on patterns that backtrack for ever in JavaScript, with the right answer', () => {
    // With RegExp each of these runs for longer than any test ceiling.
    expect(filter("payload.text.matches('^(a+)+$')", evil)).toBe(false)
    expect(filter("payload.text.matches('^(a|a)*$')", evil)).toBe(false)
    expect(filter("payload.text.matches('^(a|aa)+!$')", evil)).toBe(true)
  }, 30_000)

  it('matches anywhere unless anchored, as RE2 PartialMatch', () => {
    expect(filter("event.payload.git_tag.matches('3\\\\.4')")).toBe(true)
    expect(filter("event.payload.git_tag.matches('^3')")).toBe(false)
    expect(filter("event.payload.git_tag.matches('^v(?P<major>\\\\d+)\\\\.')")).toBe(true)
  })

  it('fails to evaluate on a pattern RE2 does not accept, saying so', () => {
    expect(() => filter("event.type.matches('(?=api)')")).toThrow(
      /matches: "\(\?=api\)" is not a valid RE2 regular expression \(invalid or unsupported Perl syntax/
    )
  })

  it('says "matches" in a type error, not an internal name', () => {
    expect(() => compileExpression('(1).matches("x")', 'filter')).toThrow(/found no matching overload for 'int\.matches\(string\)'/)
  })
})
