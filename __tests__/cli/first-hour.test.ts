// A new user's first hour through the committed CLI bundle: every silent no-op now says why (and fails under
// --strict), the CLI guides, --event runs a subscriber's side alone, validate --repos checks a whole folder.

import { afterAll, describe, expect, it } from '@jest/globals'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { CLI, runTako, type CliResult } from '../../__fixtures__/cli.js'
import { cleanupTempDirs, gitSync, makeRepo, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const PUBLISHER = `version: 1
workflows:
  release:
    steps:
      - id: fan
        uses: tako/fan-out@v1
        with: { event_type: api_published, payload: { title: hello } }
`

const SUBSCRIBER = `version: 1
subscriptions:
  - artifact: acme/api
    events: [api_published]
    workflow: update
    inputs: { title: "{{ .event.payload.title }}" }
workflows:
  update:
    inputs: { title: { type: string, required: true } }
    steps:
      - run: printf '%s|%s' "$TAKO_INPUT_TITLE" "$TAKO_EVENT_SOURCE" > got.txt
`

const count = (text: string, part: string): number => text.split(part).length - 1

/** Runs `args` plain and with --strict: the plain run succeeds and says `message` exactly once, counted in the
    closing line; the strict run exits 1. */
async function saysOnceAndFailsStrict(args: string[], message: string, cwd?: string): Promise<CliResult> {
  const plain = await runTako(args, { cwd })
  const all = plain.stdout + plain.stderr
  expect({ code: plain.code, times: count(all, message) }).toEqual({ code: 0, times: 1 })
  expect(plain.stdout).toMatch(/✓ run \S+ success in \S+, \d+ warnings?\n/)
  const strict = await runTako([...args, '--strict'], { cwd })
  expect(strict.code).toBe(1)
  expect(strict.stdout).toMatch(/error: strict: \d+ warnings? fail the run/)
  expect(strict.stdout).toMatch(/✗ run \S+ failure in /)
  return plain
}

describe('silent no-ops say why, and fail under --strict', () => {
  it('a fan-out with no --repos at all', async () => {
    const root = makeRepo(path.join(tempDir(), 'api'), { 'tako.yml': PUBLISHER })
    const res = await saysOnceAndFailsStrict(
      ['exec', 'release', '--root', root, '--source', 'acme/api'],
      'warning: fan-out api_published found no candidate repositories (looked in nowhere: no --repos DIR or --repo given)'
    )
    expect(res.stdout).toMatch(/, 1 warning\n/)
  })

  it('--repos one level too deep', async () => {
    const dir = tempDir()
    const root = makeRepo(path.join(dir, 'api'), { 'tako.yml': PUBLISHER })
    makeRepo(path.join(dir, 'repos', 'acme', 'sub'), { 'tako.yml': SUBSCRIBER })
    const res = await saysOnceAndFailsStrict(
      ['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', 'repos/acme'],
      'repos/acme/sub is a git repository where an owner folder was expected: --repos wants DIR/<owner>/<repo> (did you mean --repos repos?)',
      dir
    )
    expect(res.stdout).toContain(
      'warning: fan-out api_published found no candidate repositories (looked in --repos repos/acme; expected DIR/<owner>/<repo> git checkouts)'
    )
  })

  it('a folder under --repos that is not a git repository, met by two fan-outs, is said once', async () => {
    const dir = tempDir()
    const twice = PUBLISHER.replace(
      '      - id: fan\n',
      '      - id: first\n        uses: tako/fan-out@v1\n        with: { event_type: api_published, payload: { title: first } }\n      - id: fan\n'
    )
    const root = makeRepo(path.join(dir, 'api'), { 'tako.yml': twice })
    mkdirSync(path.join(dir, 'repos', 'acme', 'plain'), { recursive: true })
    writeFileSync(path.join(dir, 'repos', 'acme', 'plain', 'tako.yml'), SUBSCRIBER)
    makeRepo(path.join(dir, 'repos', 'acme', 'sub'), { 'tako.yml': SUBSCRIBER })
    const res = await saysOnceAndFailsStrict(
      ['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', 'repos'],
      'repos/acme/plain is not a git repository (no .git): ignored',
      dir
    )
    expect(res.stdout).toMatch(/success in \S+, 1 warning\n/)
    expect(res.stdout).toMatch(/✓ acme\/sub › update .* success/)
  })

  it('a subscriber whose tako.yml is not committed, and one with uncommitted changes', async () => {
    const dir = tempDir()
    const root = makeRepo(path.join(dir, 'api'), { 'tako.yml': PUBLISHER })
    const fresh = makeRepo(path.join(dir, 'repos', 'acme', 'fresh'), { 'README.md': 'hi\n' })
    writeFileSync(path.join(fresh, 'tako.yml'), SUBSCRIBER)
    await saysOnceAndFailsStrict(
      ['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', 'repos'],
      'acme/fresh skipped: tako.yml is not committed (children run the committed state): commit it in repos/acme/fresh',
      dir
    )
    gitSync(fresh, 'add', 'tako.yml')
    gitSync(fresh, 'commit', '-qm', 'tako')
    writeFileSync(path.join(fresh, 'tako.yml'), `${SUBSCRIBER}# an edit\n`)
    await saysOnceAndFailsStrict(
      ['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', 'repos'],
      'acme/fresh: tako.yml has uncommitted changes (children run the committed state)',
      dir
    )
  })

  it('repos: naming a ref that does not exist', async () => {
    const dir = tempDir()
    const root = makeRepo(path.join(dir, 'api'), { 'tako.yml': `${PUBLISHER}repos: [acme/sub@no-such-branch]\n` })
    makeRepo(path.join(dir, 'repos', 'acme', 'sub'), { 'tako.yml': SUBSCRIBER })
    await saysOnceAndFailsStrict(
      ['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', 'repos'],
      'acme/sub skipped: cannot read acme/sub: has no branch, tag or commit "no-such-branch"',
      dir
    )
  })

  it('no --source and no origin remote: suggests the --source a subscriber listens to', async () => {
    const dir = tempDir()
    const root = makeRepo(path.join(dir, 'api'), { 'tako.yml': PUBLISHER })
    makeRepo(path.join(dir, 'repos', 'acme', 'sub'), { 'tako.yml': SUBSCRIBER })
    await saysOnceAndFailsStrict(
      ['exec', 'release', '--root', root, '--repos', 'repos'],
      'acme/sub subscribes to acme/api, not local/api: did you mean `--source acme/api`?',
      dir
    )
  })
})

describe('a CLI that guides', () => {
  it('gives each command its own help, lists schema, suggests commands and options', async () => {
    const top = await runTako(['--help'])
    const exec = await runTako(['exec', '--help'])
    const validate = await runTako(['help', 'validate'])
    expect([top.code, exec.code, validate.code]).toEqual([0, 0, 0])
    expect(exec.stdout).not.toBe(top.stdout)
    expect(top.stdout).toMatch(/^\s+schema\s+print the JSON Schema/m)
    expect(exec.stdout).toContain('Usage: tako exec <workflow> [options]')
    expect(exec.stdout).toMatch(/^\s+--event JSON\|FILE\s+run the workflow as a child run/m)
    expect(validate.stdout).toMatch(/^\s+--repos DIR\s+validate every repository/m)
    const typo = await runTako(['exce', 'release'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toBe(
      'tako: unknown command "exce" (did you mean "exec"?) (commands: exec, validate, graph, run, completion, schema; see tako --help)\n'
    )
    const option = await runTako(['exec', 'release', '--dryrun'])
    expect(option.code).toBe(2)
    expect(option.stderr).toContain('unknown option --dryrun for "tako exec" (did you mean "--dry-run"?)')
  })

  it('names a file from the current folder, whatever --root was', async () => {
    const dir = tempDir()
    makeRepo(path.join(dir, 'examples', 'x'), { 'tako.yml': 'version: 1\nworkflows:\n  w:\n    steps:\n      - run: echo\n        shel: bash\n' })
    const res = await runTako(['validate', '--root', 'examples/x'], { cwd: dir })
    expect(res.code).toBe(2)
    expect(res.stderr).toBe('examples/x/tako.yml:6:9: unknown key "shel" (did you mean "shell"?)\n')
  })
})

describe('tako exec --event', () => {
  it('runs a subscriber workflow as a child run of the given event, inputs mapped by its subscription', async () => {
    const root = makeRepo(path.join(tempDir(), 'sub'), { 'tako.yml': SUBSCRIBER })
    const event = JSON.stringify({ type: 'api_published', source: 'acme/api', payload: { title: 'from the event' } })
    const res = await runTako(['exec', 'update', '--root', root, '--event', event])
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('event api_published from acme/api: inputs mapped by subscription 1')
    expect(readFileSync(path.join(root, 'got.txt'), 'utf8')).toBe('from the event|acme/api')
  })

  it('reads the event from a file, lets -i win, and says a bad event clearly', async () => {
    const dir = tempDir()
    const root = makeRepo(path.join(dir, 'sub'), { 'tako.yml': SUBSCRIBER })
    writeFileSync(path.join(dir, 'event.json'), JSON.stringify({ type: 'api_published', source: 'acme/api', payload: { title: 'file' } }))
    const res = await runTako(['exec', 'update', '--root', 'sub', '--event', 'event.json', '-i', 'title=given'], { cwd: dir })
    expect(res.code).toBe(0)
    expect(readFileSync(path.join(root, 'got.txt'), 'utf8')).toBe('given|acme/api')
    const bad = await runTako(['exec', 'update', '--root', 'sub', '--event', '{"source":"acme/api"}'], { cwd: dir })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('tako: --event expected {"type", "source", "artifact", "payload"} of a tako event: "type"')
    const wrong = await runTako(['exec', 'update', '--root', 'sub', '--event', '{"type":"api_published","source":"acme/api"}', '--subscription', '2'], {
      cwd: dir
    })
    expect(wrong.stderr).toBe('tako: --subscription 2: the file has 1 subscription\n')
  })
})

describe('tako validate --repos', () => {
  it('checks every repository and reports a wrongly typed subscription input with its file and line', async () => {
    const dir = tempDir()
    makeRepo(path.join(dir, 'repos', 'acme', 'good'), { 'tako.yml': SUBSCRIBER })
    const typed = SUBSCRIBER.replace(
      'inputs: { title: "{{ .event.payload.title }}" }',
      'inputs: { title: "{{ .event.payload.title }}", shards: "many" }'
    ).replace(
      'inputs: { title: { type: string, required: true } }',
      'inputs: { title: { type: string, required: true }, shards: { type: number, default: 2 } }'
    )
    makeRepo(path.join(dir, 'repos', 'acme', 'typed'), { 'tako.yml': typed })
    const res = await runTako(['validate', '--repos', 'repos'], { cwd: dir })
    expect(res.code).toBe(2)
    expect(res.stderr).toBe('repos/acme/typed/tako.yml:6:60: input "shards" of workflow "update" is a number: "many" is not a number\n')
    expect(res.stdout).toBe('✓ acme/good: 1 workflow, 1 subscription\n✗ acme/typed: 1 error\n✗ 1 of 2 repositories invalid\n')
  })
})

describe('tako validate --repos across repositories', () => {
  it('warns on a subscription to an artifact or event type its publisher does not declare', async () => {
    const dir = tempDir()
    makeRepo(path.join(dir, 'repos', 'acme', 'api'), { 'tako.yml': `${PUBLISHER}events:\n  produces:\n    - { type: api_published }\n` })
    const typo = SUBSCRIBER.replace('artifact: acme/api', 'artifact: acme/api:schemas').replace('events: [api_published]', 'events: [api_publihsed]')
    makeRepo(path.join(dir, 'repos', 'acme', 'sub'), { 'tako.yml': typo })
    const res = await runTako(['validate', '--repos', 'repos'], { cwd: dir })
    expect(res.code).toBe(0)
    expect(res.stderr).toBe(
      'repos/acme/sub/tako.yml:3: warning: acme/api has no artifact "schemas" (artifacts: default)\n' +
        'repos/acme/sub/tako.yml:3: warning: acme/api does not produce api_publihsed (it declares api_published)\n'
    )
    expect(res.stdout).toBe('✓ acme/api: 1 workflow, 0 subscriptions\n✓ acme/sub: 1 workflow, 1 subscription\n✓ 2 repositories valid, 2 warnings\n')
  })
})

describe('script injection validate warns about', () => {
  const wrong = SUBSCRIBER.replace(
    `run: printf '%s|%s' "$TAKO_INPUT_TITLE" "$TAKO_EVENT_SOURCE" > got.txt`,
    'run: echo "x {{ .event.payload.title | shell_quote }}"'
  )
  const hostile = JSON.stringify({ type: 'api_published', source: 'acme/api', payload: { title: 'hi"; touch PWNED; echo "' } })

  it('shell_quote inside double quotes: a warning with line and column, and the payload really runs', async () => {
    const root = makeRepo(path.join(tempDir(), 'sub'), { 'tako.yml': wrong })
    const res = await runTako(['validate', '--root', root])
    expect(res.code).toBe(0)
    expect(res.stderr).toBe(
      `${path.join(root, 'tako.yml')}:11:22: warning: .event.payload.title | shell_quote stands inside "…": bash does not read the quotes it adds there, so the value is unquoted again; remove the surrounding double quotes\n`
    )
    await runTako(['exec', 'update', '--root', root, '--event', hostile])
    expect(existsSync(path.join(root, 'PWNED'))).toBe(true)
  })

  it('the right form keeps the payload inert', async () => {
    const right = wrong.replace('echo "x {{ .event.payload.title | shell_quote }}"', 'echo x {{ .event.payload.title | shell_quote }}')
    const root = makeRepo(path.join(tempDir(), 'sub'), { 'tako.yml': right })
    const res = await runTako(['validate', '--root', root])
    expect(res.stderr).toBe('')
    expect((await runTako(['exec', 'update', '--root', root, '--event', hostile])).code).toBe(0)
    expect(existsSync(path.join(root, 'PWNED'))).toBe(false)
  })
})

describe('dry run', () => {
  it('fails, as the run would, when a fan-out event_type renders to something not snake_case', async () => {
    const root = makeRepo(path.join(tempDir(), 'api'), {
      'tako.yml': PUBLISHER.replace('    steps:', '    inputs: { kind: { type: string } }\n    steps:').replace(
        'event_type: api_published',
        'event_type: "{{ .inputs.kind }}"'
      )
    })
    const args = ['exec', 'release', '--root', root, '--source', 'acme/api', '-i', 'kind=Bad-Type']
    const dry = await runTako([...args, '--dry-run'])
    expect(dry.code).toBe(1)
    expect(dry.stdout).toContain('fan-out step "fan" cannot be planned: fan-out: event_type must be snake_case (like api_published), got "Bad-Type"')
    const run = await runTako(args)
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('event_type must be snake_case (like api_published), got "Bad-Type"')
  })
})

describe('the dry-run plan of the whole tree', () => {
  it('shows the demo\'s web-app nested under user-service, with inputs, and "dry_run": true in the JSON', async () => {
    const repos = path.join(tempDir(), 'repos')
    for (const name of readdirSync('examples/acme')) {
      const dir = path.join(repos, 'acme', name)
      cpSync(path.join('examples/acme', name), dir, { recursive: true })
      gitSync(dir, 'init', '-q', '-b', 'main')
      gitSync(dir, 'add', '-A')
      gitSync(dir, 'commit', '-qm', 'initial')
    }
    const args = ['exec', 'release', '--root', path.join(repos, 'acme/api-definitions'), '--source', 'acme/api-definitions', '--repos', repos]
    const inputs = ['-i', 'version=v1.4.0', '-i', 'services_affected=User-Service']
    const res = await runTako([...args, ...inputs, '--dry-run'])
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(
      /^ {2}✓ acme\/user-service › update-client: would run \(subscription 1\)\n {6}api_version = "v1.4.0"\n\n {4}Fan-out at step notify: event client_updated from acme\/user-service:default\n(?: {6}.*\n)*? {6}✓ acme\/web-app › redeploy: would run \(subscription 1\)\n {10}api_version = "v1.4.0"\n/m
    )
    expect(res.stdout).toContain('✓ plan: the run would start as shown')
    const json = await runTako([...args, ...inputs, '--dry-run', '--json'])
    const report = JSON.parse(json.stdout)
    expect(report.dry_run).toBe(true)
    expect(report.children).toEqual([])
    const userService = report.plan[0].children.find((c: { repository: string }) => c.repository === 'acme/user-service')
    expect(userService).toMatchObject({ workflow: 'update-client', would_run: true, inputs: { api_version: 'v1.4.0' } })
    expect(userService.fan_outs[0].children).toEqual([
      expect.objectContaining({ repository: 'acme/web-app', workflow: 'redeploy', would_run: true, inputs: { api_version: 'v1.4.0' } })
    ])
  })

  it("checks each child's inputs against its types and marks what only the run can decide", async () => {
    const dir = tempDir()
    const publisher = `version: 1
workflows:
  release:
    steps:
      - id: build
        run: echo "n=5" >> "$TAKO_OUTPUT"
      - id: known
        uses: tako/fan-out@v1
        with: { event_type: api_published, payload: { title: t, n: lots } }
      - id: later
        uses: tako/fan-out@v1
        with: { event_type: api_published, payload: { title: t, n: "{{ .steps.build.outputs.n }}" } }
`
    const root = makeRepo(path.join(dir, 'api'), { 'tako.yml': publisher })
    const typed = SUBSCRIBER.replace(
      'inputs: { title: "{{ .event.payload.title }}" }',
      'inputs: { title: "{{ .event.payload.title }}", n: "{{ .event.payload.n }}" }'
    ).replace('inputs: { title: { type: string, required: true } }', 'inputs: { title: { type: string, required: true }, n: { type: number } }')
    makeRepo(path.join(dir, 'repos', 'acme', 'sub'), { 'tako.yml': typed })
    const res = await runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', 'repos', '--dry-run'], { cwd: dir })
    expect(res.code).toBe(1)
    expect(res.stdout).toContain('  ✗ acme/sub › update: would fail (subscription 1): input "n" of workflow "update": "lots" is not a number')
    expect(res.stdout).toContain('  ? payload keys known only at run time (filters on them cannot be decided now): n')
    expect(res.stdout).toContain('  ✓ acme/sub › update: would run (subscription 1)\n      ? inputs use payload n, known only at run time')
    expect(res.stdout).toContain('✗ plan: the run would fail')
  })
})

describe('small mends', () => {
  it('says "cycle:" once in a child line, and a timeout with its limit', async () => {
    const dir = tempDir()
    const a = `version: 1
workflows:
  release:
    steps:
      - id: ping
        uses: tako/fan-out@v1
        with: { event_type: ping }
        continue_on_error: true
      - id: slow
        timeout: 1s
        run: sleep 30
subscriptions:
  - { artifact: acme/b, events: [pong], workflow: release }
`
    const b = `version: 1
workflows:
  pong:
    steps:
      - uses: tako/fan-out@v1
        with: { event_type: pong }
subscriptions:
  - { artifact: acme/a, events: [ping], workflow: pong }
`
    makeRepo(path.join(dir, 'repos', 'acme', 'a'), { 'tako.yml': a })
    makeRepo(path.join(dir, 'repos', 'acme', 'b'), { 'tako.yml': b })
    const res = await runTako(['exec', 'release', '--root', 'repos/acme/a', '--source', 'acme/a', '--repos', 'repos'], { cwd: dir })
    expect(res.code).toBe(1)
    expect(count(res.stdout, 'cycle: acme/a:release → acme/b:pong → acme/a:release')).toBe(2)
    expect(res.stdout).not.toContain('cycle: cycle:')
    expect(res.stdout).toMatch(/step "slow" timed out after 1s/)
  })
})

describe('on a terminal', () => {
  it('redraws one status line while children run and colours the marks (a pseudo-terminal made by script)', async () => {
    const dir = tempDir()
    const root = makeRepo(path.join(dir, 'api'), { 'tako.yml': PUBLISHER })
    makeRepo(path.join(dir, 'repos', 'acme', 'sub'), { 'tako.yml': SUBSCRIBER.replace('      - run: printf', '      - run: sleep 2\n      - run: printf') })
    const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`
    const command = [process.execPath, CLI, 'exec', 'release', '--root', root, '--source', 'acme/api', '--repos', path.join(dir, 'repos')].map(quote).join(' ')
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tempDir('tako-cli-tmp-'), TERM: 'xterm' }
    delete env.NO_COLOR
    delete env.FORCE_COLOR
    const { stdout } = await promisify(execFile)('script', ['-qfc', command, '/dev/null'], { env })
    expect(stdout).toContain('0/1 done · 1 running · acme/sub › update running')
    // Erased before the next line is printed, so the status line never stays in the scrollback.
    expect(stdout).toMatch(/running \S+\x1b\[2K\x1b\[1G/)
    expect(stdout).toContain('\x1b[32m✓\x1b[39m run ')
  })
})
