import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ConfigError } from '../../src/config/errors.js'
import { loadConfig } from '../../src/config/load.js'
import { cleanupTempDirs, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const VALID = 'version: 1\nworkflows:\n  build:\n    steps: [make]\n'

function repo(files: Record<string, string>): string {
  const root = tempDir()
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
    writeFileSync(path.join(root, name), text)
  }
  return root
}

async function failure(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig', () => {
  it('finds tako.yml, else tako.yaml, in the root', async () => {
    const both = repo({ 'tako.yml': VALID, 'tako.yaml': VALID.replace('build', 'other') })
    const found = await loadConfig({ root: both })
    expect(found.path).toBe(path.join(both, 'tako.yml'))
    expect(Object.keys(found.config.workflows)).toEqual(['build'])
    // Outside the current folder the file is named in full; under it, relative to it (as a user types it).
    expect(found.config.file).toBe(path.join(both, 'tako.yml'))

    const yaml = repo({ 'tako.yaml': VALID })
    expect((await loadConfig({ root: yaml })).path).toBe(path.join(yaml, 'tako.yaml'))
  })

  it('takes an explicit path relative to the root and names it that way in messages', async () => {
    const root = repo({ 'ci/tako.yml': 'version: 1\nworkflow: {}\n' })
    const error = await failure(loadConfig({ root, configPath: 'ci/tako.yml' }))
    // Named from the current folder, as the user would type it: here the root is outside it, so in full.
    expect(error.message).toBe(`${path.join(root, 'ci', 'tako.yml')}:2:1: unknown key "workflow" (did you mean "workflows"?)`)
    expect(error.issues).toEqual([
      { file: path.join(root, 'ci', 'tako.yml'), line: 2, col: 1, message: 'unknown key "workflow" (did you mean "workflows"?)', severity: 'error' }
    ])
  })

  it('says clearly when there is no file', async () => {
    const root = repo({ 'README.md': 'hi' })
    expect((await failure(loadConfig({ root }))).message).toBe(`${root}: no tako.yml or tako.yaml found here`)
    expect((await failure(loadConfig({ root, configPath: 'deploy.yml' }))).message).toBe(
      `${path.join(root, 'deploy.yml')}: cannot read the tako file: no such file`
    )
    mkdirSync(path.join(root, 'tako.yml'))
    expect((await failure(loadConfig({ root }))).message).toBe(
      `${path.join(root, 'tako.yml')}: cannot read the tako file: it is not a regular file (a directory)`
    )
  })

  it('throws every error at once, one per line, warnings included', async () => {
    const root = repo({
      'tako.yml': 'version: 1\nworkflows:\n  w:\n    timeout: soon\n    steps:\n      - run: echo {{ .event.payload.x }}\n        shell: zsh\n'
    })
    const file = path.join(root, 'tako.yml')
    expect((await failure(loadConfig({ root }))).message.split('\n')).toEqual([
      `${file}:4:14: "timeout" must be a duration like 90s, 10m or 2h, got "soon"`,
      `${file}:6:19: warning: .event.payload.x is interpolated into run without | shell_quote; read it from $TAKO_EVENT_PAYLOAD or quote it`,
      `${file}:7:16: "shell" must be one of bash, sh, got "zsh"`
    ])
  })

  it('returns warnings next to a valid config', async () => {
    const root = repo({ 'tako.yml': 'version: 1\nworkflows:\n  w:\n    steps: ["echo {{ .event.type }}"]\n' })
    const { config, warnings } = await loadConfig({ root })
    expect(config.workflows.w.steps[0].run).toBe('echo {{ .event.type }}')
    expect(warnings.map((w) => `${w.line}:${w.col} ${w.severity}`)).toEqual(['4:19 warning'])
  })

  it('refuses a tako file that is not a regular file inside the repository, without reading or echoing it', async () => {
    const root = repo({ 'README.md': 'hi', 'config/tako.yml': VALID })
    process.env.TAKO_TEST_SECRET_VALUE = 'do-not-echo-me'
    try {
      symlinkSync('/proc/self/environ', path.join(root, 'tako.yml'))
      const environ = (await failure(loadConfig({ root }))).message
      expect(environ).toBe(`${path.join(root, 'tako.yml')}: cannot read the tako file: it is outside the repository`)
      expect(environ).not.toContain('do-not-echo-me')
    } finally {
      delete process.env.TAKO_TEST_SECRET_VALUE
    }
    symlinkSync('/dev/zero', path.join(root, 'zero.yml'))
    expect((await failure(loadConfig({ root, configPath: 'zero.yml' }))).message).toMatch(/zero\.yml: cannot read the tako file: it is outside the repository$/)
    // A FIFO nobody writes would hold the reading thread for good: refused at once.
    execFileSync('mkfifo', [path.join(root, 'fifo.yml')])
    expect((await failure(loadConfig({ root, configPath: 'fifo.yml' }))).message).toMatch(
      /fifo\.yml: cannot read the tako file: it is not a regular file \(a FIFO\)$/
    )
    // A link that stays inside the repository is followed.
    symlinkSync('config/tako.yml', path.join(root, 'linked.yml'))
    expect((await loadConfig({ root, configPath: 'linked.yml' })).config.workflows.build.steps[0].run).toBe('make')
  }, 30_000)
})
