// Messages a new user meets early, said so they can act on them: a dedented steps:, a template's column inside a
// single-quoted scalar that doubles its quotes.

import { describe, expect, it } from '@jest/globals'
import { parseConfig } from '../../src/config/load.js'
import { formatIssue } from '../../src/config/errors.js'

const messages = (text: string): string[] => parseConfig(text, 'tako.yml').issues.map(formatIssue)

describe('a dedented steps:', () => {
  it('says the workflow has no steps and where the misplaced key is', () => {
    expect(messages('version: 1\nworkflows:\n  w:\n    inputs: {}\n  steps:\n    - run: echo\n')).toEqual([
      'tako.yml:3:3: workflow "w" has no "steps"; the "steps" at line 5 looks misplaced: indent it under "w"',
      'tako.yml:5:3: "steps" at line 5 is at the level of workflow names, so it reads as a workflow called "steps": indent it under its workflow'
    ])
    expect(messages('version: 1\nworkflows:\n  w:\n  steps:\n    - run: echo\n')).toEqual([
      'tako.yml:3:3: workflow "w" has no "steps"; the "steps" at line 4 looks misplaced: indent it under "w"',
      'tako.yml:4:3: "steps" at line 4 is at the level of workflow names, so it reads as a workflow called "steps": indent it under its workflow'
    ])
  })
})

describe('positions inside a single-quoted scalar', () => {
  it('point at the template, counting each doubled quote as written', () => {
    expect(messages("version: 1\nworkflows:\n  w:\n    steps:\n      - run: 'echo ''{{ .inputs.title | nope }}'' done'\n")).toEqual([
      'tako.yml:5:41: "{{ .inputs.title | nope }}" uses the unknown filter nope (filters: shell_quote, json, default "x", upper, lower, trim)'
    ])
  })
})
