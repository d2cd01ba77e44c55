import { describe, expect, it } from '@jest/globals'
import type { InputSpec, InputValue } from '../../src/config/types.js'
import { checkInputSpec, coerceInput, InputError, inputEnvName, resolveInputs } from '../../src/engine/inputs.js'

const spec = (s: Partial<InputSpec>): InputSpec => ({ type: 'string', required: false, ...s })

const release: Record<string, InputSpec> = {
  version: spec({ required: true, pattern: '^v\\d+\\.\\d+\\.\\d+$' }),
  level: spec({ default: 'patch', enum: ['major', 'minor', 'patch'] }),
  dry: spec({ type: 'boolean', default: false }),
  shards: spec({ type: 'number', default: 2, min: 1, max: 8 })
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return (error as InputError).problems
  }
  throw new Error('expected an InputError')
}

describe('resolveInputs', () => {
  it('coerces text to the declared types and fills defaults', () => {
    expect(resolveInputs('release', release, { version: 'v1.2.3', dry: 'TRUE', shards: ' 4 ' })).toEqual({
      version: 'v1.2.3',
      level: 'patch',
      dry: true,
      shards: 4
    })
    expect(resolveInputs('release', release, { version: 'v1.0.0', dry: 'false', shards: '2.5e0', level: 'major' })).toEqual({
      version: 'v1.0.0',
      level: 'major',
      dry: false,
      shards: 2.5
    })
  })

  it('leaves out an optional input that has neither a value nor a default', () => {
    expect(resolveInputs('w', { note: spec({}) }, {})).toEqual({})
  })

  it('takes required as satisfied by a default', () => {
    expect(resolveInputs('w', { level: spec({ required: true, default: 'minor' }) }, {})).toEqual({ level: 'minor' })
  })

  it('collects every problem, each naming the input, the workflow and what is allowed', () => {
    const given: Record<string, InputValue> = { level: 'huge', dry: 'yes', shards: '9', colour: 'red' }
    const error = (() => {
      try {
        resolveInputs('release', release, given)
      } catch (e) {
        return e as InputError
      }
    })()
    expect(error?.problems).toEqual([
      'workflow "release" has no input "colour" (declared: version, level, dry, shards)',
      'missing required input "version" of workflow "release"',
      'input "level" of workflow "release": "huge" is not one of major, minor, patch',
      'input "dry" of workflow "release": "yes" is not a boolean (use true or false)',
      'input "shards" of workflow "release": 9 is greater than the maximum 8'
    ])
    expect(error?.message).toBe(error?.problems.join('\n'))
  })

  it('checks pattern, min and the number syntax', () => {
    expect(problemsOf(() => resolveInputs('release', release, { version: '1.2', shards: 0 }))).toEqual([
      'input "version" of workflow "release": "1.2" does not match the pattern ^v\\d+\\.\\d+\\.\\d+$',
      'input "shards" of workflow "release": 0 is less than the minimum 1'
    ])
    expect(problemsOf(() => resolveInputs('release', release, { version: 'v1.0.0', shards: 'many' }))).toEqual([
      'input "shards" of workflow "release": "many" is not a number'
    ])
    expect(problemsOf(() => resolveInputs('release', release, { version: 'v1.0.0', shards: '0x10' }))).toEqual([
      'input "shards" of workflow "release": "0x10" is not a number'
    ])
  })

  it('says when a workflow declares no inputs', () => {
    expect(problemsOf(() => resolveInputs('lint', {}, { fix: true }))).toEqual(['workflow "lint" has no input "fix" (it declares none)'])
  })

  it('validates defaults like supplied values', () => {
    const specs = { level: spec({ default: 'huge', enum: ['major', 'minor'] }) }
    expect(problemsOf(() => resolveInputs('w', specs, {}))).toEqual(['input "level" of workflow "w": "huge" is not one of major, minor'])
  })

  it('turns numbers and booleans given for a string input into text', () => {
    expect(resolveInputs('w', { tag: spec({}), flag: spec({}) }, { tag: 1.5, flag: true })).toEqual({ tag: '1.5', flag: 'true' })
  })
})

describe('coerceInput', () => {
  it('returns the coerced value', () => {
    expect(coerceInput('dry', spec({ type: 'boolean' }), 'False')).toBe(false)
    expect(coerceInput('n', spec({ type: 'number' }), '-3')).toBe(-3)
  })

  it('throws an InputError naming the input', () => {
    expect(() => coerceInput('dry', spec({ type: 'boolean' }), 1)).toThrow(new InputError(['input "dry": 1 is not a boolean (use true or false)']))
    expect(problemsOf(() => coerceInput('n', spec({ type: 'number' }), true))).toEqual(['input "n": true is not a number'])
  })
})

describe('checkInputSpec', () => {
  it('accepts a consistent spec', () => {
    for (const [name, s] of Object.entries(release)) expect(checkInputSpec(name, s)).toEqual([])
  })

  it.each<[string, Partial<InputSpec>, string[]]>([
    ['pattern on a number', { type: 'number', pattern: '^\\d+$' }, ['input "x": pattern applies to string inputs only (this one is number)']],
    ['a pattern that does not compile', { pattern: '(' }, ['input "x": pattern ( is not a valid RE2 regular expression (missing closing ): `(`)']],
    [
      'a pattern with lookahead, which RE2 lacks',
      { pattern: '^(?=a)' },
      ['input "x": pattern ^(?=a) is not a valid RE2 regular expression (invalid or unsupported Perl syntax: `(?=`)']
    ],
    ['min on a string', { min: 1 }, ['input "x": min applies to number inputs only (this one is string)']],
    ['max on a boolean', { type: 'boolean', max: 1 }, ['input "x": max applies to number inputs only (this one is boolean)']],
    ['min above max', { type: 'number', min: 5, max: 1 }, ['input "x": min 5 is greater than max 1']],
    ['an enum value of another type', { enum: ['a', 2] }, ['input "x": enum value 2 is not a string']],
    ['an empty enum', { enum: [] }, ['input "x": enum lists no values']],
    ['a default of another type', { type: 'boolean', default: 'yes' }, ['input "x": default "yes" is not a boolean']],
    ['a default outside the enum', { default: 'c', enum: ['a', 'b'] }, ['input "x": default "c" is not one of a, b']],
    ['a default not matching the pattern', { default: 'abc', pattern: '^\\d+$' }, ['input "x": default "abc" does not match the pattern ^\\d+$']],
    ['a default below min', { type: 'number', default: 0, min: 1 }, ['input "x": default 0 is less than the minimum 1']]
  ])('reports %s', (_, s, problems) => {
    expect(checkInputSpec('x', spec(s))).toEqual(problems)
  })
})

describe('inputEnvName', () => {
  it('upper-cases and replaces what is outside [A-Z0-9_]', () => {
    expect(inputEnvName('api-version')).toBe('TAKO_INPUT_API_VERSION')
    expect(inputEnvName('changed_services')).toBe('TAKO_INPUT_CHANGED_SERVICES')
    expect(inputEnvName('v2.name')).toBe('TAKO_INPUT_V2_NAME')
  })
})
