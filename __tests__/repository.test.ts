// The repository as a user adopts it: workflows and dependabot as GitHub reads them, the npm package's contents,
// the release script on a real git repository, and the published name agreeing everywhere with the README.

import { afterAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parseDocument } from 'yaml'
import { VERSION } from '../src/version.js'
import { cleanupTempDirs, gitSync, makeRepo, tempDir } from '../__fixtures__/repos.js'

const execFileAsync = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8')

afterAll(cleanupTempDirs)

type Yaml = Record<string, unknown>
interface Step {
  uses?: string
  run?: string
  with?: Yaml
  if?: string
}
interface Job {
  'runs-on': string
  permissions?: Record<string, string>
  strategy?: { matrix: Record<string, unknown[]> }
  steps: Step[]
}
interface Workflow {
  name: string
  on: Record<string, unknown>
  permissions: Record<string, string>
  jobs: Record<string, Job>
}

/** Parses as GitHub does: YAML 1.2 (so `on` stays a key), unique keys, any error fails. */
function yamlFile(file: string): Yaml {
  const doc = parseDocument(read(file), { uniqueKeys: true, prettyErrors: true })
  expect({ file, errors: doc.errors.map((e) => e.message) }).toEqual({ file, errors: [] })
  return doc.toJS() as Yaml
}

const workflow = (name: string): Workflow => yamlFile(`.github/workflows/${name}`) as unknown as Workflow
const scripts = (job: Job): string => job.steps.map((s) => s.run ?? '').join('\n')

describe('GitHub workflows', () => {
  const files = readdirSync(path.join(ROOT, '.github/workflows'))

  it.each(files)('%s has the keys GitHub requires, least permissions, and pinned actions', (file) => {
    const wf = workflow(file)
    expect(typeof wf.name).toBe('string')
    expect(Object.keys(wf.on).length).toBeGreaterThan(0)
    expect(wf.permissions).toEqual({ contents: 'read' })
    expect(Object.keys(wf.jobs).length).toBeGreaterThan(0)
    for (const [id, job] of Object.entries(wf.jobs)) {
      expect({ id, runsOn: typeof job['runs-on'] }).toEqual({ id, runsOn: 'string' })
      expect(job.steps.length).toBeGreaterThan(0)
      for (const step of job.steps) {
        expect(Boolean(step.uses) !== Boolean(step.run)).toBe(true)
        if (step.uses && !step.uses.startsWith('./')) expect(step.uses).toMatch(/^[\w.-]+\/[\w./-]+@v\d+$/)
      }
    }
  })

  it('CI tests on Node 20 and 24, lints, checks dist/ and the npm package', () => {
    const ci = workflow('ci.yml')
    expect(ci.on).toHaveProperty('pull_request')
    expect(ci.jobs.test.strategy!.matrix.node).toEqual([20, 24])
    expect(ci.jobs.test.steps.find((s) => s.uses?.startsWith('actions/setup-node@'))!.with!['node-version']).toBe('${{ matrix.node }}')
    expect(scripts(ci.jobs.test)).toContain('npm test')
    expect(scripts(ci.jobs.lint)).toContain('npm run lint')
    expect(scripts(ci.jobs['check-dist'])).toMatch(/npm run build[\s\S]*git diff --exit-code --stat dist\/ tako\.schema\.json[\s\S]*npm pack --dry-run/)
  })

  it('Release runs on vX.Y.Z tags only: checks dist/, publishes the changelog section, moves the major tag', () => {
    const release = workflow('release.yml')
    const tags = (release.on.push as { tags: string[] }).tags
    expect(tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+'])
    expect(release.on).not.toHaveProperty('pull_request')
    const job = release.jobs.release
    expect(job.permissions).toMatchObject({ contents: 'write' })
    const run = scripts(job)
    const order = [
      'npm ci',
      'npm run build',
      'git diff --exit-code --stat dist/ tako.schema.json',
      'node script/changelog.mjs',
      'gh release create',
      'git push --force origin "refs/tags/$major"'
    ]
    const at = order.map((text) => run.indexOf(text))
    expect(at.every((i) => i >= 0)).toBe(true)
    expect([...at].sort((a, b) => a - b)).toEqual(at)
    expect(run).toContain('major="${GITHUB_REF_NAME%%.*}"')
    expect(job.steps.find((s) => s.run?.includes('npm publish'))!.if).toBe("vars.NPM_PUBLISH == 'true'")
  })

  it('CodeQL scans the TypeScript and the workflows and may write security events', () => {
    const codeql = workflow('codeql.yml')
    const job = codeql.jobs.analyze
    expect(job.permissions).toMatchObject({ 'security-events': 'write' })
    expect(job.strategy!.matrix.language).toEqual(['javascript-typescript', 'actions'])
    expect(job.steps.map((s) => s.uses?.replace(/@.*/, ''))).toEqual(expect.arrayContaining(['github/codeql-action/init', 'github/codeql-action/analyze']))
    expect(codeql.on).toHaveProperty('schedule')
  })

  it('dependabot.yml updates npm and github-actions weekly, grouped', () => {
    const config = yamlFile('.github/dependabot.yml') as { version: number; updates: Array<Record<string, unknown>> }
    expect(config.version).toBe(2)
    expect(config.updates.map((u) => u['package-ecosystem']).sort()).toEqual(['github-actions', 'npm'])
    for (const update of config.updates) {
      expect(update).toMatchObject({ directory: '/', schedule: { interval: 'weekly' } })
      const groups = Object.values(update.groups as Record<string, { patterns?: string[] }>)
      expect(groups.length).toBeGreaterThan(0)
      expect(groups.every((g) => Array.isArray(g.patterns) && g.patterns.length > 0)).toBe(true)
    }
  })
})

describe('the npm package', () => {
  const pkg = JSON.parse(read('package.json')) as Record<string, unknown> & { bin: Record<string, string>; files: string[] }

  it('is publishable, with the tako command, its repository and keywords', () => {
    expect(pkg).not.toHaveProperty('private')
    expect(pkg.bin).toEqual({ tako: 'dist/cli/index.js' })
    expect(pkg.version).toBe(VERSION)
    expect(pkg.license).toBe('MIT')
    expect(pkg).toHaveProperty('repository.url')
    expect((pkg.keywords as string[]).length).toBeGreaterThan(0)
    expect(read('dist/cli/index.js').startsWith('#!/usr/bin/env node\n')).toBe(true)
  })

  it('packs the CLI bundle and its licences, not the sources, the tests or the action bundle', async () => {
    const { stdout } = await execFileAsync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 })
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path).sort()
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/cli/index.js', 'dist/cli/licenses.txt', 'tako.schema.json']))
    expect(files.filter((f) => /^(src|__tests__|__fixtures__|scripts?|examples|\.github)\//.test(f) || f === 'dist/index.js')).toEqual([])
    // The licences are those of the packages bundled into the CLI.
    const licences = read('dist/cli/licenses.txt')
    for (const bundled of ['zod', 'yaml', '@marcbachmann/cel-js']) expect(licences).toMatch(new RegExp(`^${bundled}$`, 'm'))
  })
})

describe('the published name', () => {
  const readme = read('README.md')
  const name = /^> \*\*Name\.\*\* tako is published as \*\*`([\w.-]+\/[\w.-]+)`\*\*/m.exec(readme)?.[1]

  it('is set once in the README and used by every file that names the repository', () => {
    expect(name).toBeDefined()
    const uses = [...readme.matchAll(/uses: ([\w.-]+\/tako-action)@/g), ...read('docs/dispatch.md').matchAll(/uses: ([\w.-]+\/tako-action)@/g)]
    expect(uses.length).toBeGreaterThanOrEqual(3)
    expect(new Set(uses.map((m) => m[1]))).toEqual(new Set([name]))
    const pkg = JSON.parse(read('package.json')) as { repository: { url: string }; homepage: string; bugs: { url: string } }
    expect(pkg.repository.url).toBe(`git+https://github.com/${name}.git`)
    expect(pkg.homepage).toBe(`https://github.com/${name}#readme`)
    expect(pkg.bugs.url).toBe(`https://github.com/${name}/issues`)
    expect(read('SECURITY.md')).toContain(`https://github.com/${name}/security/advisories/new`)
    expect(read('CHANGELOG.md')).toContain(`https://github.com/${name}/releases/tag/v1.0.0`)
    for (const file of ['README.md', 'docs/dispatch.md', 'docs/schemastore.md', 'action.yml', 'CONTRIBUTING.md'])
      expect(read(file)).not.toContain('org/tako-action')
  })

  it('gives the schema URL where the release publishes it, the same in the README and the SchemaStore entry', () => {
    const url = `https://raw.githubusercontent.com/${name}/v1/tako.schema.json`
    expect(readme).toContain(`# yaml-language-server: $schema=${url}\n`)
    const entry = JSON.parse(/```json\n([\s\S]*?)```/.exec(read('docs/schemastore.md'))![1]) as Record<string, unknown>
    expect(entry).toMatchObject({ name: 'tako', fileMatch: ['tako.yml', 'tako.yaml'], url })
    expect(typeof entry.description).toBe('string')
    // What the release attaches, and what `v1` then points at, is the committed schema.
    expect(read('.github/workflows/release.yml')).toMatch(/gh release create[^\n]*\n[^\n]*tako\.schema\.json/)
  })
})

describe('repository files', () => {
  it('LICENSE is MIT for tako-action contributors, as package.json says', () => {
    const licence = read('LICENSE')
    expect(licence).toMatch(/^MIT License\n\nCopyright \(c\) 2026 tako-action contributors\n/)
    expect(licence).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND')
  })

  it('.node-version is the runtime action.yml runs on', () => {
    const nodeVersion = read('.node-version').trim()
    expect(nodeVersion).toBe('24')
    expect(read('action.yml')).toMatch(new RegExp(`^  using: node${nodeVersion}$`, 'm'))
  })

  it('.gitattributes marks dist/ generated and keeps its bytes', async () => {
    const { stdout } = await execFileAsync('git', ['check-attr', 'linguist-generated', 'text', '--', 'dist/index.js', 'dist/cli/index.js', 'src/main.ts'], {
      cwd: ROOT
    })
    expect(stdout).toContain('dist/index.js: linguist-generated: true')
    expect(stdout).toContain('dist/cli/index.js: linguist-generated: true')
    expect(stdout).toContain('dist/index.js: text: unset')
    expect(stdout).toContain('src/main.ts: linguist-generated: unspecified')
  })
})

describe('script/changelog.mjs', () => {
  const changelog = (...args: string[]) =>
    execFileAsync('node', ['script/changelog.mjs', ...args], { cwd: ROOT }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr })
    )

  it('prints the notes of a version of CHANGELOG.md, without its heading or the next section', async () => {
    const res = await changelog('1.0.0')
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^The first release/)
    expect(res.stdout).toContain('### Added')
    expect(res.stdout).not.toMatch(/^## /m)
    expect(res.stdout).not.toMatch(/^\[1\.0\.0\]:/m)
  })

  it('refuses a version without a section, or an empty one, saying what to do', async () => {
    expect(await changelog('9.9.9')).toMatchObject({ code: 1, stderr: expect.stringContaining('no section "## [9.9.9]"; move the Unreleased entries') })
    const dir = tempDir()
    writeFileSync(path.join(dir, 'CHANGELOG.md'), '# Changelog\n\n## [2.0.0] - 2026-12-01\n\n## [1.0.0]\n\n- first\n')
    expect(await changelog('2.0.0', path.join(dir, 'CHANGELOG.md'))).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('CHANGELOG.md:3: the section of 2.0.0 is empty; say what changed')
    })
    expect(await changelog('1.0.0', path.join(dir, 'CHANGELOG.md'))).toMatchObject({ code: 0, stdout: '- first\n' })
    expect(await changelog('v1')).toMatchObject({ code: 2 })
  })
})

describe('script/release', () => {
  const env = {
    ...process.env,
    GIT_COMMITTER_NAME: 'test',
    GIT_COMMITTER_EMAIL: 'test@example.invalid',
    GIT_AUTHOR_NAME: 'test',
    GIT_AUTHOR_EMAIL: 'test@example.invalid'
  }

  /** A small project laid out like this one, with a real build whose output is committed. */
  function project(over: { version?: string; versionTs?: string; changelog?: string } = {}): { dir: string; remote: string } {
    const remote = tempDir('tako-remote-')
    gitSync(remote, 'init', '-q', '--bare')
    const version = over.version ?? '1.2.0'
    const dir = makeRepo(
      tempDir('tako-release-'),
      {
        'package.json': JSON.stringify({ name: 'p', version, private: true, scripts: { build: 'node build.mjs' } }),
        'build.mjs':
          "import { mkdirSync, writeFileSync } from 'node:fs'\nmkdirSync('dist', { recursive: true })\nwriteFileSync('dist/index.js', 'built\\n')\nwriteFileSync('tako.schema.json', '{}\\n')\n",
        'dist/index.js': 'built\n',
        'tako.schema.json': '{}\n',
        'src/version.ts': over.versionTs ?? `export const VERSION = '${version}'\n`,
        'CHANGELOG.md': over.changelog ?? `# Changelog\n\n## [Unreleased]\n\n## [${version}] - 2026-12-01\n\n- things\n`
      },
      remote
    )
    mkdirSync(path.join(dir, 'script'))
    for (const file of ['release', 'changelog.mjs']) copyFileSync(path.join(ROOT, 'script', file), path.join(dir, 'script', file))
    gitSync(dir, 'add', '-A')
    gitSync(dir, 'commit', '-qm', 'release scripts')
    return { dir, remote }
  }

  const release = (dir: string, ...args: string[]) =>
    execFileAsync('bash', ['script/release', ...args], { cwd: dir, env }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr })
    )
  const tags = (dir: string): string[] => gitSync(dir, 'tag', '--list').split('\n').filter(Boolean)

  it('tags the version of package.json as an annotated tag, and pushes it when told', async () => {
    const { dir, remote } = project()
    const res = await release(dir, '--yes')
    expect(res).toMatchObject({ code: 0, out: expect.stringContaining('no release yet: v1.2.0 will be the first') })
    expect(res.out).toContain('pushed v1.2.0: the Release workflow creates the release and moves v1')
    expect(gitSync(dir, 'cat-file', '-t', 'v1.2.0').trim()).toBe('tag')
    expect(gitSync(remote, 'rev-parse', 'v1.2.0^{commit}')).toBe(gitSync(dir, 'rev-parse', 'HEAD'))
    // The major tag is the workflow's to move, after its own checks.
    expect(tags(dir)).toEqual(['v1.2.0'])
  })

  it('creates the tag without pushing with --no-push, and when the question is not answered yes', async () => {
    const { dir, remote } = project()
    expect(await release(dir, '--no-push')).toMatchObject({ code: 0, out: expect.stringContaining('not pushed; when ready: git push origin refs/tags/v1.2.0') })
    expect(tags(dir)).toEqual(['v1.2.0'])
    expect(gitSync(remote, 'tag', '--list')).toBe('')
  })

  it.each([
    ['a changed working tree', (dir: string) => writeFileSync(path.join(dir, 'notes.txt'), 'wip'), 'the working tree has changes'],
    ['a version without changelog notes', null, 'CHANGELOG.md has no notes for 1.2.0'],
    ['src/version.ts behind package.json', null, "src/version.ts does not say '1.2.0'"],
    ['a version below the latest release', (dir: string) => gitSync(dir, 'tag', 'v1.10.0'), 'v1.2.0 is not above the latest release v1.10.0'],
    ['a version already tagged', (dir: string) => gitSync(dir, 'tag', 'v1.2.0'), 'tag v1.2.0 exists already'],
    [
      'a dist/ that a fresh build changes',
      (dir: string) => {
        writeFileSync(path.join(dir, 'dist/index.js'), 'stale\n')
        gitSync(dir, 'commit', '-qam', 'stale dist')
      },
      'dist/ or tako.schema.json differs from a fresh build'
    ]
  ])('refuses %s and creates no tag', async (what, prepare, message) => {
    const { dir } = project(
      what === 'a version without changelog notes'
        ? { changelog: '# Changelog\n\n## [Unreleased]\n\n- things\n' }
        : what === 'src/version.ts behind package.json'
          ? { versionTs: "export const VERSION = '1.1.0'\n" }
          : {}
    )
    const before = tags(dir)
    prepare?.(dir)
    const res = await release(dir, '--yes')
    expect(res.code).toBe(1)
    expect(res.out).toContain(`script/release: ${message}`)
    expect(tags(dir).filter((t) => !before.includes(t) && t !== 'v1.10.0' && t !== 'v1.2.0')).toEqual([])
    if (what !== 'a version already tagged') expect(existsSync(path.join(dir, '.git/refs/tags/v1.2.0'))).toBe(false)
  })
})
