// Subscribers trying to freeze the engine (issue #10), through the CLI bundle: every attempt ends, on its own, at
// the fan-out's deadline or at SIGTERM, and the rest of the tree runs as if it were not there. The ceilings only
// catch a hang; none measures speed.

import { afterAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CLI, runTako } from '../../__fixtures__/cli.js'
import { cleanupTempDirs, makeRepo, makeRepos, tempDir } from '../../__fixtures__/repos.js'

afterAll(cleanupTempDirs)

const EVIL_TEXT = `${'a'.repeat(60)}!`

const publisher = (timeout: string): string => `version: 1
workflows:
  release:
    steps:
      - id: fan
        uses: tako/fan-out@v1
        with:
          event_type: published
          timeout: ${timeout}
          payload: { text: "${EVIL_TEXT}" }
`

function subscriber(steps: string, filter?: string): string {
  return `version: 1
subscriptions:
  - artifact: acme/api
    events: [published]
    workflow: work
${filter ? `    filters: [${JSON.stringify(filter)}]\n` : ''}workflows:
  work:
    steps:
${steps.replace(/^/gm, '      ')}
`
}

interface Report {
  status: string
  children: Array<{ repository: string; status: string; error?: { kind: string; message: string } }>
  discovery: Array<{ repository: string; result: string; reason: string }>
}

/** A ceiling that only catches a hang: the CLI must have ended by then. */
const HANG = 240_000

describe('a subscriber cannot freeze the engine', () => {
  it(
    'with a backtracking regex, a FIFO or /dev/zero as output files, output without newlines, or a huge tako.yml',
    async () => {
      const base = tempDir()
      const repos = path.join(base, 'repos')
      const unknownKeys = Array.from({ length: 60_000 }, (_, i) => `key${i}: ${i}`).join('\n')
      const manySteps = Array.from({ length: 10_000 }, (_, i) => `      - { id: s${i}, run: "true", colour: red }`).join('\n')
      makeRepos(repos, {
        // RE2: a filter and a step `if` that backtrack for ever in JavaScript.
        'acme/regex-filter': { 'tako.yml': subscriber('- run: echo never', "payload.text.matches('^(a+)+$')") },
        'acme/regex-if': { 'tako.yml': subscriber(`- id: maybe\n  if: "payload.text.matches('^(a|a)*$')"\n  run: echo never\n- run: echo regex-if done`) },
        // Four FIFOs (more than libuv's threads) and /dev/zero, as a link and by absolute path.
        'acme/fifo': {
          'tako.yml': subscriber(
            [1, 2, 3, 4]
              .map((i) => `- id: f${i}\n  continue_on_error: true\n  run: mkfifo pipe${i}\n  produces: { outputs: { x: "from_file:pipe${i}" } }`)
              .join('\n') +
              '\n- id: zero\n  continue_on_error: true\n  run: ln -s /dev/zero zero\n  produces: { outputs: { x: "from_file:zero" } }' +
              '\n- id: abs\n  run: "true"\n  produces: { outputs: { x: "from_file:/dev/zero" } }'
          )
        },
        // 8 MB without a newline, then its output taken by a regex.
        'acme/noline': {
          'tako.yml': subscriber(
            `- id: flood\n  run: head -c 8000000 /dev/zero | tr '\\0' a; echo; echo version=9.9\n  produces: { outputs: { v: "version=(\\\\S+)" } }`
          )
        },
        'acme/keys': { 'tako.yml': `version: 1\n${unknownKeys}\n` },
        'acme/steps': { 'tako.yml': subscriber('- run: "true"').replace(/steps:\n.*\n$/s, `steps:\n${manySteps}\n`) },
        'acme/honest': { 'tako.yml': subscriber('- run: echo honest work') }
      })
      const root = makeRepo(path.join(base, 'api'), { 'tako.yml': publisher('10m') })
      const reportFile = path.join(base, 'report.json')
      const res = await runTako(['exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--report', reportFile])
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report
      expect(res.stderr).not.toMatch(/internal error|\n\s+at /)
      expect(res.code).toBe(1)
      const status = Object.fromEntries(report.children.map((c) => [c.repository, c.status]))
      expect(status).toEqual({ 'acme/regex-if': 'success', 'acme/fifo': 'failure', 'acme/noline': 'success', 'acme/honest': 'success' })
      const fifo = report.children.find((c) => c.repository === 'acme/fifo')!
      expect(fifo.error?.message).toMatch(/output "x": file "\/dev\/zero" is outside the working directory/)
      expect(res.stdout).toMatch(/file "pipe1" is not a regular file \(a FIFO\)/)
      expect(res.stdout).toMatch(/file "zero" is outside the working directory/)

      const discovery = Object.fromEntries(report.discovery.map((d) => [d.repository, d]))
      expect(discovery['acme/regex-filter'].result).toBe('no_match')
      for (const name of ['acme/keys', 'acme/steps']) {
        expect(discovery[name].result).toBe('error')
        // The first problems and a count, not 60,000 lines.
        expect(discovery[name].reason.length).toBeLessThan(20_000)
      }
      expect(discovery['acme/keys'].reason).toMatch(/unknown key "key0"/)
      expect(discovery['acme/keys'].reason).toMatch(/\(\+48 more\)$/)
      expect(discovery['acme/steps'].reason).toMatch(/unknown key "colour"/)
    },
    HANG
  )

  it(
    'flooding output without newlines, the run still honours SIGTERM and reports cancelled',
    async () => {
      const base = tempDir()
      const repos = path.join(base, 'repos')
      const started = path.join(base, 'started')
      makeRepos(repos, {
        'acme/flood': { 'tako.yml': subscriber(`- run: |\n    touch ${started}\n    yes | tr -d '\\n'`) },
        'acme/honest': { 'tako.yml': subscriber('- run: echo honest work') }
      })
      const root = makeRepo(path.join(base, 'api'), { 'tako.yml': publisher('10m') })
      const reportFile = path.join(base, 'report.json')
      const child = spawn(process.execPath, [CLI, 'exec', 'release', '--root', root, '--source', 'acme/api', '--repos', repos, '--report', reportFile], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, TMPDIR: tempDir('tako-cli-tmp-') }
      })
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      for (let i = 0; i < 600 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 100))
      expect(existsSync(started)).toBe(true)
      // Let it flood for a moment, then cancel as a runner does.
      await new Promise((r) => setTimeout(r, 2000))
      child.kill('SIGTERM')
      const hung = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 60_000).unref())
      const code = await Promise.race([exited, hung])
      if (code === 'hung') child.kill('SIGKILL')
      expect(code).toBe(130)
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report
      expect(report.status).toBe('cancelled')
      expect(report.children.find((c) => c.repository === 'acme/flood')?.status).toBe('cancelled')
    },
    HANG
  )
})

describe('tako validate', () => {
  it(
    'answers for 60,000 unknown keys with the first problems and a count',
    async () => {
      const root = tempDir()
      writeFileSync(path.join(root, 'tako.yml'), `version: 1\n${Array.from({ length: 60_000 }, (_, i) => `key${i}: ${i}`).join('\n')}\n`)
      const res = await runTako(['validate', '--root', root])
      // SPEC: 2 for an invalid tako file.
      expect(res.code).toBe(2)
      const text = res.stdout + res.stderr
      expect(text).toMatch(/tako\.yml:2:1: unknown key "key0"/)
      expect(text).toMatch(/and 59950 more errors \(only the first 50 problems are listed\)/)
      expect(text.length).toBeLessThan(20_000)
    },
    HANG
  )
})
