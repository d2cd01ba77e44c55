// What validate says about a file before anything runs: shell_quote inside double quotes, event text reaching run
// through an input, names in if: that do not exist, and typed subscription inputs written as plain values.

import { describe, expect, it } from '@jest/globals'
import { parseConfig } from '../../src/config/load.js'
import { formatIssue } from '../../src/config/errors.js'
import { insideDoubleQuotes, namesInExpression } from '../../src/config/run-hazards.js'

const messages = (text: string): string[] => parseConfig(text, 'tako.yml').issues.map(formatIssue)

describe('insideDoubleQuotes', () => {
  const at = (script: string): boolean => insideDoubleQuotes(script.replace('^', ''), script.indexOf('^'))
  it('follows bash quoting', () => {
    expect(at('echo "x ^"')).toBe(true)
    expect(at('echo x ^')).toBe(false)
    expect(at(`echo '"' ^`)).toBe(false)
    expect(at('echo \\" ^')).toBe(false)
    expect(at('echo "a\\" ^"')).toBe(true)
    expect(at(`echo $'\\'' ^`)).toBe(false)
    expect(at('# a "comment\necho ^')).toBe(false)
    expect(at('echo "a" "^"')).toBe(true)
  })
})

describe('namesInExpression', () => {
  it('finds inputs and steps outside string literals', () => {
    expect(namesInExpression(`!inputs.dry && steps.build.status == 'inputs.no' && inputs["my-x"] == "steps.z"`)).toEqual([
      { root: 'inputs', name: 'dry', offset: 8 },
      { root: 'steps', name: 'build', offset: 21 },
      { root: 'inputs', name: 'my-x', offset: 60 }
    ])
    expect(namesInExpression('event.payload.inputs.x == payload.steps')).toEqual([])
    expect(namesInExpression("has(inputs.t) && semver.satisfies(inputs.v, '^1')")).toEqual([
      { root: 'inputs', name: 't', offset: 11 },
      { root: 'inputs', name: 'v', offset: 41 }
    ])
    expect(namesInExpression('inputs.x ===')).toEqual([])
  })
})

const FILE = `version: 1
workflows:
  update:
    inputs:
      shards: { type: number, default: 2 }
      title: { type: string, default: "" }
    steps:
      - id: build
        if: "!inputs.dyr"
        run: echo "x {{ .event.payload.title | shell_quote }}"
      - run: echo {{ .inputs.title }}
      - run: echo {{ .inputs.title | shell_quote }} {{ .inputs.shards }}
      - id: last
        if: steps.later.status == 'success' || steps.last.status == 'success'
        run: echo ok
subscriptions:
  - artifact: acme/api
    events: [api_published]
    workflow: update
    inputs:
      shards: "many"
      title: "{{ .event.payload.title }}"
`

describe('validate warns before the run', () => {
  it('says each hazard with its line and column', () => {
    expect(messages(FILE)).toEqual([
      // Columns point at the name in if:, at the template in run.
      'tako.yml:9:22: "inputs.dyr" in if: workflow "update" has no input "dyr" (declared: shards, title)',
      'tako.yml:10:22: warning: .event.payload.title | shell_quote stands inside "…": bash does not read the quotes it adds there, so the value is unquoted again; remove the surrounding double quotes',
      'tako.yml:11:19: warning: .inputs.title is interpolated into run without | shell_quote, and subscription at line 17 maps it from the event; read it from $TAKO_INPUT_TITLE or quote it',
      'tako.yml:14:19: "steps.later" in if: workflow "update" has no step "later"',
      'tako.yml:14:54: "steps.last" in if: step "last" does not run before this point',
      'tako.yml:21:15: input "shards" of workflow "update" is a number: "many" is not a number'
    ])
  })

  it('accepts literal inputs of the right type and names that exist', () => {
    const fixed = FILE.replace('"!inputs.dyr"', '"!has(inputs.title)"')
      .replace('shards: "many"', 'shards: "3"')
      .replace(`steps.later.status == 'success' || steps.last.status == 'success'`, `steps.build.status == 'success'`)
      .replace('echo "x {{ .event.payload.title | shell_quote }}"', 'echo x {{ .event.payload.title | shell_quote }}')
      .replace('echo {{ .inputs.title }}', 'echo "$TAKO_INPUT_TITLE"')
    expect(messages(fixed)).toEqual([])
  })
})
