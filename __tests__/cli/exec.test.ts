// The CLI bundle run as a user runs it: workflows in a real repository, real bash, exit codes, reports.

import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { runTako } from '../../__fixtures__/cli.js'
import { alive, cleanupTempDirs, makeRepo, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

function repoWith(yml: string): string {
  return makeRepo(path.join(tempDir(), 'repo'), { 'tako.yml': yml })
}

const HOSTILE = `it's a "test" & $HOME; rm -rf nothing`

describe('tako exec', () => {
  it('passes a hostile input intact through | shell_quote and $TAKO_INPUT_*', async () => {
    const root = repoWith(`version: 1
workflows:
  echo:
    inputs:
      message: { type: string, required: true }
    steps:
      - id: quoted
        run: printf '%s' {{ .inputs.message | shell_quote }} > quoted.txt
      - id: env
        run: printf '%s' "$TAKO_INPUT_MESSAGE" > env.txt
`)
    const res = await runTako(['exec', 'echo', '--root', root, '-i', `message=${HOSTILE}`])
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(readFileSync(path.join(root, 'quoted.txt'), 'utf8')).toBe(HOSTILE)
    expect(readFileSync(path.join(root, 'env.txt'), 'utf8')).toBe(HOSTILE)
    expect(res.stdout).toMatch(/✓ quoted \d/)
    expect(res.stdout).toMatch(/✓ env \d/)
  })

  it('keeps every = and space of an input value', async () => {
    const root = repoWith(`version: 1
workflows:
  w:
    inputs: { q: { type: string } }
    steps:
      - run: printf '%s' "$TAKO_INPUT_Q" > q.txt
`)
    const res = await runTako(['exec', 'w', '--root', root, '--input', 'q=a=b  c=='])
    expect(res.code).toBe(0)
    expect(readFileSync(path.join(root, 'q.txt'), 'utf8')).toBe('a=b  c==')
  })

  it('fails a step at the failing line of a multi-line script, runs on_failure, skips the rest, exits 1', async () => {
    const root = repoWith(`version: 1
workflows:
  build:
    steps:
      - id: compile
        run: |
          echo first line ran
          false
          echo never-printed > later.txt
        on_failure:
          - id: compensate
            run: echo compensating > compensated.txt
      - id: after
        run: touch after.txt
`)
    const report = path.join(tempDir(), 'r.json')
    const res = await runTako(['exec', 'build', '--root', root, '--report', report])
    expect(res.code).toBe(1)
    expect(res.stdout).toContain('first line ran')
    expect(res.stdout).toMatch(/✗ compile .*failure \(exit 1\)/)
    expect(res.stdout).toContain('step "compile"')
    expect(existsSync(path.join(root, 'later.txt'))).toBe(false)
    expect(readFileSync(path.join(root, 'compensated.txt'), 'utf8')).toBe('compensating\n')
    expect(existsSync(path.join(root, 'after.txt'))).toBe(false)
    const r = JSON.parse(readFileSync(report, 'utf8'))
    expect(r.status).toBe('failure')
    expect(r.steps.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ['compile', 'failure'],
      ['after', 'skipped']
    ])
    expect(r.steps[0].on_failure[0]).toMatchObject({ id: 'compensate', status: 'success' })
  })

  const INPUTS_YML = `version: 1
workflows:
  release:
    inputs:
      version: { type: string, required: true }
      level: { type: string, default: patch, validation: { enum: [major, minor, patch] } }
    steps:
      - run: echo "$TAKO_INPUT_VERSION $TAKO_INPUT_LEVEL"
  other:
    steps: [ "true" ]
`
  it.each([
    [['-i', 'version=v1', '-i', 'level=huge'], /"huge" is not one of major, minor, patch/],
    [['-i', 'level=major'], /missing required input "version"/],
    [['-i', 'version=v1', '-i', 'colour=red'], /no input "colour" \(declared: version, level\)/]
  ])('rejects bad inputs %j with exit 2', async (args, message) => {
    const root = repoWith(INPUTS_YML)
    const res = await runTako(['exec', 'release', '--root', root, ...args])
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(message)
    expect(res.stderr).not.toMatch(/\n\s+at /)
  })

  it('names the available workflows for an unknown one, exit 2', async () => {
    const root = repoWith(INPUTS_YML)
    const res = await runTako(['exec', 'relase', '--root', root])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('no workflow "relase" (did you mean "release"?) (available: release, other)')
  })

  it('runs an `if: inputs.verbose` step only when the input is true', async () => {
    const root = repoWith(`version: 1
workflows:
  w:
    inputs:
      verbose: { type: boolean, default: false }
    steps:
      - id: talk
        if: inputs.verbose
        run: echo talking > talk.txt
`)
    const report = path.join(tempDir(), 'r.json')
    const off = await runTako(['exec', 'w', '--root', root, '--report', report])
    expect(off.code).toBe(0)
    expect(JSON.parse(readFileSync(report, 'utf8')).steps[0].status).toBe('skipped')
    expect(existsSync(path.join(root, 'talk.txt'))).toBe(false)
    const on = await runTako(['exec', 'w', '--root', root, '-i', 'verbose=true', '--report', report])
    expect(on.code).toBe(0)
    expect(JSON.parse(readFileSync(report, 'utf8')).steps[0].status).toBe('success')
    expect(existsSync(path.join(root, 'talk.txt'))).toBe(true)
  })

  it('writes a report with steps, outputs, statuses and durations', async () => {
    const root = repoWith(`version: 1
workflows:
  w:
    steps:
      - id: out
        run: |
          echo "version: 1.2.3"
          echo "note=from env file" >> "$TAKO_OUTPUT"
          echo warn >&2
          echo -n filed > out.txt
        produces:
          outputs:
            all: from_stdout
            err: from_stderr
            file: from_file:out.txt
            note: from_env:note
            version: 'version: (\\S+)'
      - id: use
        run: test "{{ .steps.out.outputs.version }}" = 1.2.3
`)
    const report = path.join(tempDir(), 'r.json')
    const res = await runTako(['exec', 'w', '--root', root, '--report', report])
    expect(res.code).toBe(0)
    const r = JSON.parse(readFileSync(report, 'utf8'))
    expect(r.version).toBe(1)
    expect(r.run_id).toMatch(/^exec-\d{8}-\d{6}-[0-9a-f]{8}$/)
    expect(r.status).toBe('success')
    expect(r.steps[0]).toMatchObject({
      id: 'out',
      status: 'success',
      exit_code: 0,
      outputs: { all: 'version: 1.2.3', err: 'warn', file: 'filed', note: 'from env file', version: '1.2.3' }
    })
    expect(typeof r.steps[0].duration_ms).toBe('number')
    expect(r.steps[1]).toMatchObject({ id: 'use', status: 'success' })
  })

  it('kills a timed-out step with its whole process group', async () => {
    const dir = tempDir()
    const pids = path.join(dir, 'pids')
    const root = repoWith(`version: 1
workflows:
  w:
    steps:
      - id: slow
        timeout: 2s
        run: |
          sleep 600 &
          echo $! >> ${pids}
          echo $$ >> ${pids}
          sleep 600
`)
    const res = await runTako(['exec', 'w', '--root', root])
    expect(res.code).toBe(1)
    expect(res.stdout).toMatch(/✗ slow .*timed_out/)
    const listed = readFileSync(pids, 'utf8').trim().split('\n').map(Number)
    expect(listed).toHaveLength(2)
    for (const pid of listed) expect(alive(pid)).toBe(false)
  })

  it('--dry-run prints the plan with resolved inputs and runs nothing', async () => {
    const root = repoWith(INPUTS_YML.replace('echo "$TAKO_INPUT_VERSION $TAKO_INPUT_LEVEL"', 'touch ran.txt'))
    const res = await runTako(['exec', 'release', '--root', root, '--dry-run', '-i', 'version=v2'])
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('version = "v2"')
    expect(res.stdout).toContain('level = "patch"')
    expect(existsSync(path.join(root, 'ran.txt'))).toBe(false)
  })

  it('fails with a located error and no stack trace on a broken file', async () => {
    const root = tempDir()
    writeFileSync(path.join(root, 'tako.yml'), 'version: 1\nworkflow:\n  w:\n    steps: [ "true" ]\n')
    const res = await runTako(['exec', 'w', '--root', root])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('tako.yml:2:1: unknown key "workflow" (did you mean "workflows"?)')
    expect(res.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('tako CLI basics', () => {
  it('prints help and version', async () => {
    const help = await runTako(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('tako exec <workflow>')
    const version = await runTako(['--version'])
    expect(version.stdout).toMatch(/^tako \d+\.\d+\.\d+\n$/)
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'))
    expect(version.stdout).toBe(`tako ${pkg.version}\n`)
  })

  it('rejects unknown options and commands with exit 2', async () => {
    expect((await runTako(['exec', 'w', '--nope'])).code).toBe(2)
    const res = await runTako(['frobnicate'])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('unknown command "frobnicate"')
  })
})
