import { describe, expect, it } from '@jest/globals'
import { formatIssue } from '../../src/config/errors.js'
import { parseConfig } from '../../src/config/load.js'
import type { TakoConfig } from '../../src/config/types.js'

/** Every issue as the user sees it. */
const messages = (text: string): string[] => parseConfig(text, 'tako.yml').issues.map(formatIssue)

/** The config of a file that must load without any issue. */
function load(text: string): TakoConfig {
  const result = parseConfig(text, 'tako.yml')
  expect(result.issues.map(formatIssue)).toEqual([])
  expect(result.config).toBeDefined()
  return result.config!
}

/** A file with one workflow `w` whose steps are `steps` (YAML lines indented for a list under `steps:`). */
const workflow = (steps: string, extra = ''): string => `version: 1
${extra}workflows:
  w:
    steps:
${steps}`

describe('YAML-level problems', () => {
  it('suggests the closest key for a misspelt top-level key', () => {
    expect(messages('version: 1\nworkflow:\n  build:\n    steps: [make]\n')).toEqual(['tako.yml:2:1: unknown key "workflow" (did you mean "workflows"?)'])
  })

  it('reports a YAML syntax error where it is', () => {
    expect(messages('version: 1\nworkflows:\n  a: [1, 2\n  b: c\n')).toEqual([
      'tako.yml:4:3: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'
    ])
  })

  it('reports an empty file, a comment-only file and a plain string at 1:1', () => {
    expect(messages('')).toEqual(['tako.yml:1:1: the file is empty; it needs at least the key "version"'])
    expect(messages('# nothing yet\n')).toEqual(['tako.yml:1:1: the file is empty; it needs at least the key "version"'])
    expect(messages('just some text\n')).toEqual(['tako.yml:1:1: the file must be a map with keys such as "version" and "workflows", got "just some text"'])
    expect(messages('- a\n- b\n')).toEqual(['tako.yml:1:1: the file must be a map with keys such as "version" and "workflows", got a list'])
  })

  it('reports a duplicate key at the duplicate, and goes on checking the rest', () => {
    expect(messages('version: 1\nname: a\nname: b\nworkflows:\n  w:\n    steps: []\n')).toEqual([
      'tako.yml:3:1: duplicate key "name"',
      'tako.yml:6:12: "steps" must not be empty'
    ])
    expect(messages(workflow('      - echo\n', '').replace('  w:\n', '  w:\n    timeout: 1m\n    timeout: 2m\n'))).toEqual([
      'tako.yml:5:5: duplicate key "timeout"'
    ])
  })

  it('refuses an alias bomb quickly', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (const [name, prev] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
      ['e', 'd'],
      ['f', 'e'],
      ['g', 'f'],
      ['h', 'g'],
      ['i', 'h']
    ]) {
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`)
    }
    // Expanded, the bomb is 9^9 nodes: a parser that tried would hang, which the test's ceiling catches.
    expect(messages(lines.join('\n'))).toEqual(["tako.yml:2:8: the file's aliases expand too much (a YAML alias bomb?); refusing it"])
  })

  it('refuses huge nesting quickly, in flow and block style', () => {
    expect(messages(`version: 1\nx: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`)).toEqual(['tako.yml:2:1004: the file nests deeper than 64 levels'])
    const block = Array.from({ length: 100 }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n')
    expect(messages(block)).toEqual(['tako.yml:65:129: the file nests deeper than 64 levels'])
  })

  it('refuses __proto__ keys, which would otherwise vanish from the model', () => {
    expect(messages('version: 1\nworkflows:\n  __proto__:\n    steps: [echo]\n')).toEqual(['tako.yml:3:3: the key "__proto__" is not allowed'])
  })

  it('keeps anchors and aliases working', () => {
    const config = load('version: 1\nworkflows:\n  a:\n    env: &env { A: "1" }\n    steps: [echo]\n  b:\n    env: *env\n    steps: [echo]\n')
    expect(config.workflows.b.env).toEqual({ A: '1' })
  })
})

describe('top level', () => {
  it('requires version, at the top map', () => {
    expect(messages('workflows:\n  w:\n    steps: [echo]\n')).toEqual(['tako.yml:1:1: missing required key "version"'])
  })

  it('keeps any scalar version as text, as written', () => {
    for (const [written, stored] of [
      ['1', '1'],
      ['"1"', '1'],
      ['v1', 'v1'],
      ['0.1.0', '0.1.0'],
      ['1.10', '1.10']
    ]) {
      expect(load(`version: ${written}\n`).version).toBe(stored)
    }
    expect(messages('version: [1]\n')).toEqual(['tako.yml:1:10: "version" must be a string or a number, got a list'])
    expect(messages('version:\n')).toEqual(['tako.yml:1:9: "version" must be a string or a number, got an empty value'])
  })

  it('checks names, event types, repos and artifact references', () => {
    expect(
      messages(`version: 1
artifacts:
  9lives: {}
  api: { path: openapi.yaml, colour: blue }
events:
  produces:
    - type: ApiPublished
    - { type: api_published, schema_version: soon }
repos: [acme/api, "not a repo", acme/web@main]
workflows:
  -bad:
    steps: [echo]
`)
    ).toEqual([
      'tako.yml:3:3: artifact name "9lives" must start with a letter and contain only letters, digits, "_" and "-"',
      'tako.yml:4:30: unknown key "colour"',
      'tako.yml:7:13: event type "ApiPublished" must be snake_case (lower-case letters, digits and "_", starting with a letter)',
      'tako.yml:8:46: "schema_version" must be a version like 1.2.0, got "soon"',
      'tako.yml:9:19: item 2 of "repos" must be owner/repo or owner/repo@ref, got "not a repo"',
      'tako.yml:11:3: workflow name "-bad" must start with a letter and contain only letters, digits, "_" and "-"'
    ])
  })

  it('checks step ids and environment variable names', () => {
    expect(messages(workflow('      - id: 1st\n        run: make\n        env: { 2X: a, OK_1: b }\n        if: false\n'))).toEqual([
      'tako.yml:5:13: step id "1st" must start with a letter and contain only letters, digits, "_" and "-"',
      'tako.yml:7:16: environment variable name "2X" must contain only letters, digits and "_", and not start with a digit'
    ])
  })

  it('points a wrong type at the value', () => {
    expect(messages('version: 1\nworkflows:\n  w:\n    steps: 3\n')).toEqual(['tako.yml:4:12: "steps" must be a list, got 3'])
    expect(messages('version: 1\nworkflows:\n  w:\n    steps: [3]\n')).toEqual(['tako.yml:4:13: item 1 of "steps" must be a string or a map, got 3'])
    expect(messages('version: 1\nworkflows: [a]\n')).toEqual(['tako.yml:2:12: "workflows" must be a map, got a list'])
  })
})

describe('workflows and steps', () => {
  it('suggests the closest key of that map', () => {
    expect(messages(workflow('      - run: make\n        timout: 5m\n        contine_on_error: true\n'))).toEqual([
      'tako.yml:6:9: unknown key "timout" (did you mean "timeout"?)',
      'tako.yml:7:9: unknown key "contine_on_error" (did you mean "continue_on_error"?)'
    ])
    expect(messages('version: 1\nworkflows:\n  w:\n    step: [echo]\n')).toEqual([
      'tako.yml:3:3: missing required key "steps"',
      'tako.yml:4:5: unknown key "step" (did you mean "steps"?)'
    ])
  })

  it('explains a bad duration', () => {
    expect(messages(workflow('      - run: make\n        timeout: soon\n'))).toEqual([
      'tako.yml:6:18: "timeout" must be a duration like 90s, 10m or 2h, got "soon"'
    ])
    expect(messages(workflow('      - run: make\n        timeout: 30\n'))).toEqual(['tako.yml:6:18: "timeout" must be a duration like 90s, 10m or 2h, got 30'])
    expect(messages(workflow('      - run: make\n        timeout: 0s\n'))).toEqual(['tako.yml:6:18: "timeout" must be longer than 0, got "0s"'])
  })

  it('rejects a duplicate step id, also among on_failure handlers', () => {
    expect(messages(workflow('      - id: build\n        run: make\n      - id: build\n        run: make again\n'))).toEqual([
      'tako.yml:7:13: duplicate step id "build" in workflow "w" (already used by the step at line 5)'
    ])
    expect(messages(workflow('      - run: make\n        on_failure:\n          - id: step-1\n            run: cleanup\n'))).toEqual([
      'tako.yml:7:17: duplicate step id "step-1" in workflow "w" (already used by the step at line 5)'
    ])
  })

  it('wants exactly one of run and uses, and with only with uses', () => {
    expect(
      messages(
        workflow(
          '      - name: nothing\n      - run: make\n        uses: tako/fan-out@v1\n        with: { event_type: x }\n      - run: make\n        with: { a: 1 }\n'
        )
      )
    ).toEqual([
      'tako.yml:5:9: step "step-1" needs "run" or "uses"',
      'tako.yml:7:9: step "step-2" has both "run" and "uses"; use one of them',
      'tako.yml:10:9: "with" applies only to a step with "uses"'
    ])
  })

  it('names the built-in steps for an unknown one and the versions for an unknown version', () => {
    expect(
      messages(workflow('      - uses: actions/checkout@v4\n      - uses: tako/fanout@v1\n      - uses: tako/fan-out@v2\n      - uses: tako/fan-out\n'))
    ).toEqual([
      'tako.yml:5:15: unknown step "actions/checkout@v4"; built-in steps: tako/fan-out@v1, tako/pull-request@v1',
      'tako.yml:6:15: unknown step "tako/fanout@v1" (did you mean "tako/fan-out"?); built-in steps: tako/fan-out@v1, tako/pull-request@v1',
      'tako.yml:7:15: tako/fan-out has no version "v2"; available: v1 (as in tako/fan-out@v1)',
      'tako.yml:8:15: tako/fan-out needs a version; available: v1 (as in tako/fan-out@v1)'
    ])
  })

  it('checks the with of tako/fan-out@v1', () => {
    const steps = `      - uses: tako/fan-out@v1
        with:
          event_type: ApiPublished
          artifact: schemas
          schema_version: latest
          payload: [1]
          wait_for_children: "true"
          fail_fast: 1
          timeout: soon
          concurrency_limit: 0
          wait_for_child: true
      - uses: tako/fan-out@v1
      - uses: tako/fan-out@v1
        with: { artifact: api }
`
    expect(messages(workflow(steps, 'artifacts: { api: {} }\n'))).toEqual([
      'tako.yml:8:23: "event_type" must be a snake_case event type (lower-case letters, digits and "_", starting with a letter), got "ApiPublished"',
      'tako.yml:9:21: artifact "schemas" is not declared in "artifacts" (available: default, api)',
      'tako.yml:10:27: "schema_version" must be a version like 1.2.0, got "latest"',
      'tako.yml:11:20: "payload" must be a map, got a list',
      'tako.yml:12:30: "wait_for_children" must be true or false, got "true"',
      'tako.yml:13:22: "fail_fast" must be true or false, got 1',
      'tako.yml:14:20: "timeout" must be a duration like 90s, 10m or 2h, got "soon"',
      'tako.yml:15:30: "concurrency_limit" must be an integer of at least 1, got 0',
      'tako.yml:16:11: unknown key "wait_for_child" in the "with" of tako/fan-out@v1 (did you mean "wait_for_children"?)',
      'tako.yml:17:9: tako/fan-out@v1 needs "event_type" in "with"',
      'tako.yml:19:9: tako/fan-out@v1 needs "event_type" in "with"'
    ])
  })

  it('checks the with of tako/pull-request@v1, typos with "did you mean"', () => {
    const steps = `      - uses: tako/pull-request@v1
        with:
          title: ""
          lables: [dependencies]
          draft: "yes"
          reviewers: 3
          author: someone
          branch: "tako/a b"
      - uses: tako/pull-requests@v1
      - uses: tako/pull-request@v1
`
    expect(messages(workflow(steps))).toEqual([
      'tako.yml:7:18: "title" must be a non-empty string, got ""',
      'tako.yml:8:11: unknown key "lables" in the "with" of tako/pull-request@v1 (did you mean "labels"?)',
      'tako.yml:9:18: "draft" must be true or false, got "yes"',
      'tako.yml:10:22: "reviewers" must be a list of strings, got 3',
      'tako.yml:11:19: "author" must be a name and an e-mail address, as in "Jane Doe <jane@example.com>", got "someone"',
      'tako.yml:12:19: "branch" must be a valid git branch name, got "tako/a b"',
      'tako.yml:13:15: unknown step "tako/pull-requests@v1" (did you mean "tako/pull-request"?); built-in steps: tako/fan-out@v1, tako/pull-request@v1',
      'tako.yml:14:9: tako/pull-request@v1 needs "title" in "with"'
    ])
    load(
      workflow(`      - uses: tako/pull-request@v1
        with:
          title: "Update to {{ .inputs.v }}"
          draft: "{{ .inputs.d }}"
          labels: [dependencies]
          add_paths: VERSION
          author: "Jane Doe <jane@example.com>"
`).replace('    steps:', '    inputs: { v: {}, d: { type: boolean, default: false } }\n    steps:')
    )
  })

  it('accepts a template for any with value of the fan-out', () => {
    load(
      workflow(`      - uses: tako/fan-out@v1
        with:
          event_type: "{{ .inputs.kind }}"
          concurrency_limit: "{{ .inputs.n }}"
          fail_fast: "{{ .inputs.ff }}"
`).replace('    steps:', '    inputs: { kind: {}, n: { type: number, default: 2 }, ff: { type: boolean, default: false } }\n    steps:')
    )
  })

  it('warns about a fan-out of an event type not in events.produces', () => {
    const result = parseConfig(
      workflow('      - uses: tako/fan-out@v1\n        with: { event_type: api_pushed }\n', 'events:\n  produces: [{ type: api_published }]\n'),
      'tako.yml'
    )
    expect(result.issues.map(formatIssue)).toEqual([
      'tako.yml:8:29: warning: event type "api_pushed" is not declared in events.produces (declared: api_published)'
    ])
    expect(result.config).toBeDefined()
  })

  it('keeps working_directory inside the repository', () => {
    const steps = ['../x', 'a/../../b', '/etc', '..', 'a/../b', 'sub/dir'].map((dir) => `      - run: ls\n        working_directory: ${dir}\n`).join('')
    expect(messages(workflow(steps))).toEqual([
      'tako.yml:6:28: "working_directory" must stay inside the repository, got "../x"',
      'tako.yml:8:28: "working_directory" must stay inside the repository, got "a/../../b"',
      'tako.yml:10:28: "working_directory" must be relative to the repository root, got "/etc"',
      'tako.yml:12:28: "working_directory" must stay inside the repository, got ".."'
    ])
  })

  it('checks output sources', () => {
    const steps = `      - run: make
        produces:
          outputs:
            a: from_stdot
            b: 'v(\\d+'
            c: '(\\d+)\\.(\\d+)'
            d: 'from_file:'
            e: from_env:VERSION
            f: 'version=(\\S+)'
`
    expect(messages(workflow(steps))).toEqual([
      'tako.yml:8:16: output "a" must be from_stdout, from_stderr, from_file:<path>, from_env:<NAME> or a regular expression with one capture group, got "from_stdot" (did you mean "from_stdout"?)',
      'tako.yml:9:16: output "b": "v(\\\\d+" is not a valid RE2 regular expression (missing closing ): `v(\\d+`)',
      'tako.yml:10:16: output "c": the regular expression "(\\\\d+)\\\\.(\\\\d+)" must have exactly one capture group, it has 2',
      'tako.yml:11:16: output "d": from_file: needs a path, as in from_file:out/version.txt'
    ])
  })

  it('checks input specs with the engine rules, located at the input', () => {
    expect(
      messages(`version: 1
workflows:
  w:
    inputs:
      shards: { type: number, default: 9, validation: { min: 1, max: 8 } }
      level: { type: string, default: huge, validation: { enum: [major, minor, patch] } }
      tag: { type: strng }
    steps: [echo]
`)
    ).toEqual([
      'tako.yml:5:7: input "shards": default 9 is greater than the maximum 8',
      'tako.yml:6:7: input "level": default "huge" is not one of major, minor, patch',
      'tako.yml:7:20: "type" must be one of string, boolean, number, got "strng"'
    ])
  })

  it('accepts the env list form and checks the templates in it where they stand', () => {
    const text = `version: 1
workflows:
  w:
    env: ["A=1", "B={{ .inputs.nope }}"]
    steps:
      - run: echo $A
        env: { C: "{{ .steps.x.outputs.y }}" }
`
    expect(messages(text)).toEqual([
      'tako.yml:4:21: "{{ .inputs.nope }}" refers to input "nope", which workflow "w" does not declare (it declares no inputs)',
      'tako.yml:7:20: "{{ .steps.x.outputs.y }}" refers to step "x", which does not exist in workflow "w"'
    ])
    expect(
      load(text.replace('{{ .inputs.nope }}', "{{ .inputs.nope | default 'b' }}").replace('C: "{{ .steps.x.outputs.y }}"', 'C: 3')).workflows.w.env
    ).toEqual({
      A: '1',
      B: "{{ .inputs.nope | default 'b' }}"
    })
  })
})

describe('expressions and templates', () => {
  it('compiles every if and every filter, located at the expression', () => {
    expect(
      messages(
        workflow('      - run: make\n        if: "inputs.x ==="\n') +
          'subscriptions:\n  - artifact: acme/api\n    events: [api_published]\n    filters: ["event.payload.x ==", "true"]\n    workflow: w\n'
      )
    ).toEqual([
      'tako.yml:6:13: invalid if expression "inputs.x ===": Unexpected character: = (column 12)',
      'tako.yml:10:15: invalid filter expression "event.payload.x ==": Unexpected token: EOF (column 19)'
    ])
  })

  it('allows references to earlier steps only; handlers also see the failing step and earlier handlers', () => {
    const steps = `      - run: echo {{ .steps.later.outputs.v }}
      - id: later
        run: make
        on_failure:
          - id: first
            run: echo {{ .steps.later.outputs.v }} {{ .steps.second.outputs.v }}
          - id: second
            run: echo {{ .steps.first.outputs.v }}
      - run: echo {{ .steps.later.outputs.v }} {{ .steps.first.outputs.v }} {{ .steps.nope.outputs.v }}
`
    expect(messages(workflow(steps))).toEqual([
      'tako.yml:5:19: "{{ .steps.later.outputs.v }}" refers to step "later", which does not run before this point',
      'tako.yml:10:52: "{{ .steps.second.outputs.v }}" refers to step "second", which does not run before this point',
      'tako.yml:13:48: "{{ .steps.first.outputs.v }}" refers to step "first", which does not run before this point',
      'tako.yml:13:77: "{{ .steps.nope.outputs.v }}" refers to step "nope", which does not exist in workflow "w"'
    ])
  })

  it('reports template syntax problems where they stand, also inside a block scalar', () => {
    const steps = `      - run: echo {{ .foo }}
      - run: |
          echo start
            echo {{ .inputs.x
      - run: echo {{ .Inputs.x }} }}
`
    expect(messages(workflow(steps))).toEqual([
      'tako.yml:5:22: "{{ .foo }}" refers to .foo, which is not one of .inputs, .steps, .event, .env, .run_id, .repository',
      'tako.yml:8:18: "{{ .inputs.x" is not closed with "}}"',
      'tako.yml:9:19: "{{ .Inputs.x }}" refers to input "x", which workflow "w" does not declare (it declares no inputs)'
    ])
  })

  it('warns when an event value is interpolated into run without shell_quote', () => {
    const result = parseConfig(
      workflow('      - run: echo {{ .event.payload.title }} {{ .event.payload.title | shell_quote }}\n        env: { T: "{{ .event.payload.title }}" }\n'),
      'tako.yml'
    )
    expect(result.issues.map(formatIssue)).toEqual([
      'tako.yml:5:19: warning: .event.payload.title is interpolated into run without | shell_quote; read it from $TAKO_EVENT_PAYLOAD or quote it'
    ])
    expect(result.config?.workflows.w.steps[0].env).toEqual({ T: '{{ .event.payload.title }}' })
  })
})

describe('subscriptions', () => {
  const base = `version: 1
workflows:
  deploy:
    inputs:
      version: { type: string, required: true }
    steps: [echo]
subscriptions:
`

  it('requires the workflow to exist, listing those that do', () => {
    expect(messages(`${base}  - artifact: acme/api\n    events: [api_published]\n    workflow: deploi\n`)).toEqual([
      'tako.yml:10:15: workflow "deploi" is not defined in this file (did you mean "deploy"?); workflows: deploy'
    ])
  })

  it('checks mapped inputs against the workflow, and warns about an unmapped required one', () => {
    expect(
      messages(`${base}  - artifact: acme/api
    events: [api_published]
    workflow: deploy
    inputs:
      verison: "{{ .event.payload.tag }}"
      extra: "{{ .inputs.version }}"
`)
    ).toEqual([
      'tako.yml:10:15: warning: workflow "deploy" requires input "version", which this subscription does not map in "inputs"',
      'tako.yml:12:7: input "verison" is not declared by workflow "deploy" (did you mean "version"?) (declared: version)',
      'tako.yml:13:7: input "extra" is not declared by workflow "deploy" (declared: version)',
      'tako.yml:13:15: "{{ .inputs.version }}" cannot be used in subscription inputs, which can refer to .event, .env, .run_id and .repository'
    ])
  })

  it('takes filter or filters, not both', () => {
    expect(
      messages(`${base}  - artifact: acme/api
    events: [api_published]
    filter: "true"
    filters: ["true"]
    workflow: deploy
    inputs: { version: v1 }
`)
    ).toEqual(['tako.yml:11:5: use either "filter" (one expression) or "filters" (a list), not both'])
  })

  it('checks artifact references, event types and ranges', () => {
    expect(
      messages(`${base}  - artifact: acme
    events: [Api, { type: x, name: y }]
    schema_version: "[2.0.0...1.0.0)"
    workflow: deploy
    inputs: { version: v1 }
    runs_on: cloud
`)
    ).toEqual([
      'tako.yml:8:15: "artifact" must be owner/repo or owner/repo:artifact, got "acme"',
      'tako.yml:9:14: event type "Api" must be snake_case (lower-case letters, digits and "_", starting with a letter)',
      'tako.yml:9:30: unknown key "name"',
      'tako.yml:10:21: invalid schema_version range "[2.0.0...1.0.0)": the interval is empty',
      'tako.yml:13:14: "runs_on" must be one of local, dispatch, got "cloud"'
    ])
  })

  it('accepts the Go dialect: events.subscriptions, filter, {type} events, .Inputs', () => {
    const config = load(`version: "1"
metadata:
  name: user-service
workflows:
  update:
    inputs:
      api_version: { type: string, required: true }
    steps:
      - name: Update
        run: echo {{ .Inputs.api_version | shell_quote }}
events:
  subscriptions:
    - artifact: acme/api-definitions:schemas
      events:
        - type: api_published
      schema_version: "[1.0.0...2.0.0)"
      filter: "event.payload.breaking == false"
      workflow: update
      inputs:
        api_version: "{{ .Event.Payload.git_tag }}"
`)
    expect(config.name).toBe('user-service')
    expect(config.subscriptions).toEqual([
      {
        repository: 'acme/api-definitions',
        artifact: 'schemas',
        events: ['api_published'],
        schema_version: '>=1.0.0 <2.0.0',
        filters: ['event.payload.breaking == false'],
        workflow: 'update',
        inputs: { api_version: '{{ .Event.Payload.git_tag }}' },
        line: 13
      }
    ])
  })

  it('merges top-level and events.subscriptions in file order', () => {
    const config = load(`version: 1
events:
  subscriptions:
    - { artifact: acme/a, events: [one], workflow: w }
workflows:
  w: { steps: [echo] }
subscriptions:
  - { artifact: acme/b, events: [two], workflow: w, runs_on: dispatch }
`)
    expect(config.subscriptions.map((s) => [s.repository, s.line, s.runs_on])).toEqual([
      ['acme/a', 4, undefined],
      ['acme/b', 8, 'dispatch']
    ])
  })
})

describe('a whole file', () => {
  it('reports every problem at once, in file order', () => {
    expect(
      messages(`version: 1
workflows:
  build:
    timeout: soon
    steps:
      - run: echo {{ .steps.later.outputs.x }}
      - id: later
        if: "==="
        uses: tako/fan-out@v1
        with: { event_type: ok, concurrency_limit: 0 }
subscriptions:
  - artifact: acme/api
    events: [api_published]
    workflow: missing
    colour: red
`)
    ).toEqual([
      'tako.yml:4:14: "timeout" must be a duration like 90s, 10m or 2h, got "soon"',
      'tako.yml:6:19: "{{ .steps.later.outputs.x }}" refers to step "later", which does not run before this point',
      'tako.yml:8:13: invalid if expression "===": Unexpected token: EQ (column 1)',
      'tako.yml:10:52: "concurrency_limit" must be an integer of at least 1, got 0',
      'tako.yml:14:15: workflow "missing" is not defined in this file; workflows: build',
      'tako.yml:15:5: unknown key "colour"'
    ])
  })

  it('normalizes a full file like the SPEC examples', () => {
    const config = load(`version: 1
name: API definitions
artifacts:
  openapi: { path: api/openapi.yaml, ecosystem: openapi, description: The public API }
events:
  produces:
    - { type: api_published, schema_version: 1.2.0, description: A new API version }
repos: [acme/user-service, acme/web-app@main]
workflows:
  release-api:
    description: Publish the API and update its consumers
    inputs:
      version:          { type: string, required: true, validation: { pattern: '^v\\d+\\.\\d+\\.\\d+$' } }
      changed_services: { type: string, default: "" }
      dry:              { type: boolean, default: false }
      shards:           { type: number, default: 2, validation: { min: 1, max: 8 } }
      level:            { type: string, default: patch, validation: { enum: [major, minor, patch] } }
    env: { GOFLAGS: -mod=mod, DEBUG: 1 }
    timeout: 30m
    steps:
      - make build
      - id: tag
        name: Tag the release
        if: "!inputs.dry"
        shell: sh
        working_directory: api
        env: { TAG: "{{ .inputs.version }}" }
        timeout: 90s
        continue_on_error: true
        run: git tag "$TAG" && echo "tag=$TAG" >> "$TAKO_OUTPUT"
        produces:
          outputs:
            tag: from_env:tag
            sha: 'commit ([0-9a-f]+)'
            log: from_stderr
            notes: from_file:NOTES.md
            all: from_stdout
        on_failure:
          - git tag -d {{ .inputs.version | shell_quote }}
          - id: notify
            run: echo "{{ .steps.tag.outputs.tag | default 'none' }}"
      - id: fan-out
        uses: tako/fan-out@v1
        with:
          event_type: api_published
          artifact: openapi
          schema_version: 1.2.0
          payload: { git_tag: "{{ .inputs.version }}", services: "{{ .inputs.changed_services }}" }
          wait_for_children: true
          timeout: 2h
          concurrency_limit: 4
          fail_fast: false
subscriptions:
  - artifact: acme/api-definitions:default
    events: [api_published]
    schema_version: "^1.0.0"
    filters:
      - "'user-service' in event.payload.services_affected.split(',').map(s, s.trim().lower())"
    workflow: release-api
    inputs:
      version: "{{ .event.payload.git_tag }}"
      shards: 3
`)
    expect(config).toEqual({
      file: 'tako.yml',
      version: '1',
      name: 'API definitions',
      artifacts: { openapi: { path: 'api/openapi.yaml', ecosystem: 'openapi', description: 'The public API' } },
      produces: [{ type: 'api_published', schema_version: '1.2.0', description: 'A new API version' }],
      repos: ['acme/user-service', 'acme/web-app@main'],
      workflows: {
        'release-api': {
          name: 'release-api',
          description: 'Publish the API and update its consumers',
          inputs: {
            version: { type: 'string', required: true, pattern: '^v\\d+\\.\\d+\\.\\d+$' },
            changed_services: { type: 'string', required: false, default: '' },
            dry: { type: 'boolean', required: false, default: false },
            shards: { type: 'number', required: false, default: 2, min: 1, max: 8 },
            level: { type: 'string', required: false, default: 'patch', enum: ['major', 'minor', 'patch'] }
          },
          env: { GOFLAGS: '-mod=mod', DEBUG: '1' },
          timeoutMs: 30 * 60_000,
          line: 10,
          steps: [
            { id: 'step-1', run: 'make build', shell: 'bash', env: {}, continue_on_error: false, outputs: {}, on_failure: [], line: 21 },
            {
              id: 'tag',
              name: 'Tag the release',
              if: '!inputs.dry',
              run: 'git tag "$TAG" && echo "tag=$TAG" >> "$TAKO_OUTPUT"',
              shell: 'sh',
              working_directory: 'api',
              env: { TAG: '{{ .inputs.version }}' },
              timeoutMs: 90_000,
              continue_on_error: true,
              outputs: {
                tag: { kind: 'env', name: 'tag' },
                sha: { kind: 'regex', pattern: 'commit ([0-9a-f]+)' },
                log: { kind: 'stderr' },
                notes: { kind: 'file', path: 'NOTES.md' },
                all: { kind: 'stdout' }
              },
              on_failure: [
                {
                  id: 'tag-on-failure-1',
                  run: 'git tag -d {{ .inputs.version | shell_quote }}',
                  shell: 'bash',
                  env: {},
                  continue_on_error: false,
                  outputs: {},
                  on_failure: [],
                  line: 39
                },
                {
                  id: 'notify',
                  run: 'echo "{{ .steps.tag.outputs.tag | default \'none\' }}"',
                  shell: 'bash',
                  env: {},
                  continue_on_error: false,
                  outputs: {},
                  on_failure: [],
                  line: 40
                }
              ],
              line: 22
            },
            {
              id: 'fan-out',
              uses: 'tako/fan-out@v1',
              with: {
                event_type: 'api_published',
                artifact: 'openapi',
                schema_version: '1.2.0',
                payload: { git_tag: '{{ .inputs.version }}', services: '{{ .inputs.changed_services }}' },
                wait_for_children: true,
                timeout: '2h',
                concurrency_limit: 4,
                fail_fast: false
              },
              shell: 'bash',
              env: {},
              continue_on_error: false,
              outputs: {},
              on_failure: [],
              line: 42
            }
          ]
        }
      },
      subscriptions: [
        {
          repository: 'acme/api-definitions',
          artifact: 'default',
          events: ['api_published'],
          schema_version: '^1.0.0',
          filters: ["'user-service' in event.payload.services_affected.split(',').map(s, s.trim().lower())"],
          workflow: 'release-api',
          inputs: { version: '{{ .event.payload.git_tag }}', shards: '3' },
          line: 54
        }
      ]
    })
  })
})

describe('hostile sizes', () => {
  it('lists the first 50 of 60,000 unknown keys and counts the rest', () => {
    const text = `version: 1\n${Array.from({ length: 60_000 }, (_, i) => `key${i}: ${i}`).join('\n')}\n`
    const { config, issues } = parseConfig(text, 'tako.yml')
    expect(config).toBeUndefined()
    expect(issues).toHaveLength(51)
    expect(issues[0]).toMatchObject({ line: 2, col: 1, message: 'unknown key "key0"' })
    expect(issues[50]).toMatchObject({ line: 51, message: 'and 59950 more errors (only the first 50 problems are listed)', severity: 'error' })
  })

  it('checks 10,000 steps, and finds duplicate keys among 60,000', () => {
    const steps = Array.from(
      { length: 10_000 },
      (_, i) => `      - { id: s${i}, run: "echo {{ .steps.s${Math.max(0, i - 1)}.outputs.x | default \\"\\" }}" }`
    ).join('\n')
    const valid = parseConfig(`version: 1\nworkflows:\n  w:\n    steps:\n${steps}\n`, 'tako.yml')
    expect(valid.issues.filter((i) => i.severity === 'error')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('"{{ .steps.s0.outputs.x') })
    ])
    const dup = parseConfig(`version: 1\n${Array.from({ length: 60_000 }, (_, i) => `k${i % 30_000}: 1`).join('\n')}\n`, 'tako.yml')
    expect(dup.issues.some((i) => i.message === 'duplicate key "k0"' && i.line === 30_002)).toBe(true)
  })

  it('cuts a message quoting a huge key', () => {
    const { issues } = parseConfig(`version: 1\n${'x'.repeat(1000)}: 1\n`, 'tako.yml')
    expect(issues[0].message.length).toBeLessThan(400)
    expect(issues[0].message).toMatch(/^unknown key "x+… \(cut\)$/)
  })
})

describe('the same text read twice', () => {
  const text = workflow('      - uses: tako/fan-out@v1\n        with: { event_type: api_pushed }\n', 'events:\n  produces: [{ type: api_published }]\n')
  const warning = 'tako.yml:8:29: warning: event type "api_pushed" is not declared in events.produces (declared: api_published)'

  it('is parsed once, and each reader gets its own file name on the model and on every issue', () => {
    const a = parseConfig(text, 'acme/a/tako.yml')
    const b = parseConfig(text, 'acme/b/tako.yml')
    expect(a.config?.file).toBe('acme/a/tako.yml')
    expect(b.config?.file).toBe('acme/b/tako.yml')
    expect(a.issues.map(formatIssue)).toEqual([`acme/a/${warning}`])
    expect(b.issues.map(formatIssue)).toEqual([`acme/b/${warning}`])
    // One model under both names: the second reader did not parse again.
    expect(b.config?.workflows).toBe(a.config?.workflows)
  })

  it('shares a model nothing can change', () => {
    const config = parseConfig(text, 'tako.yml').config!
    expect(() => {
      ;(config.workflows.w.steps as unknown[]).push({})
    }).toThrow(TypeError)
    expect(() => {
      config.file = 'elsewhere'
    }).toThrow(TypeError)
    expect(parseConfig(text, 'tako.yml').config?.workflows.w.steps).toHaveLength(1)
  })
})
