// Runs the committed action bundle (dist/index.js) as a GitHub runner does: INPUT_* from action.yml defaults and
// the given inputs, the runner's file commands and variables, then parses what the runner would read back.

import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { tempDir } from './repos.js'
import type { Annotation } from '../src/github/annotations.js'

export const ACTION = path.resolve('dist/index.js')

/** An annotation as the runner reads it back from a `::error file=..,line=..,col=..,title=..::msg` line. */
export type ParsedAnnotation = Annotation

export interface ActionResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Parsed from the GITHUB_OUTPUT file. */
  outputs: Record<string, string>
  /** GITHUB_OUTPUT as written, for leak checks. */
  outputsFile: string
  /** Parsed from the GITHUB_STATE file: what the runner hands to the post step (last value of a name wins). */
  state: Record<string, string>
  /** GITHUB_STEP_SUMMARY content. */
  summary: string
  annotations: ParsedAnnotation[]
  /** Values of `::add-mask::` commands. */
  masks: string[]
  runnerTemp: string
  /** From the last byte the process wrote to the moment its stdio closed and it exited. */
  lingerMs: number
  /** Set when the process had to be killed after `timeoutMs`. */
  timedOut: boolean
}

export interface ActionRunOptions {
  /** GITHUB_WORKSPACE: a git checkout of the publisher; also the working directory, as on a runner. */
  workspace: string
  /** Action inputs by their action.yml names; unset ones get their action.yml default. */
  inputs: Record<string, string>
  /** The `token` input (the runner evaluates the `${{ github.token }}` default to it). */
  token: string
  /** GITHUB_SERVER_URL; must be github.com, *.ghe.com or *.localhost for @actions/cache to speak v2. */
  serverUrl: string
  /** ACTIONS_* variables of the cache service (see cacheServiceEnv). */
  cacheEnv?: Record<string, string>
  /** GITHUB_REPOSITORY of the publisher. */
  repository?: string
  /** A fresh one by default: every job starts with an empty RUNNER_TEMP. */
  runnerTemp?: string
  runId?: string
  runAttempt?: number
  /** GITHUB_JOB, the job's id in the workflow (default `release`). */
  job?: string
  timeoutMs?: number
  /**
   * Sends `signal` to the action once `when` matches its output or returns true (a job being cancelled); then, when
   * given, `then` after `gapMs` (a runner sends SIGINT, then SIGTERM).
   */
  interrupt?: { when: RegExp | (() => boolean); signal: NodeJS.Signals; then?: NodeJS.Signals; gapMs?: number }
  /** Runs the post step: the main step's saved state, given as STATE_<name> variables as a runner does. */
  state?: Record<string, string>
}

interface ActionYml {
  inputs: Record<string, { default?: string }>
}

/** INPUT_<NAME> as the runner names it: upper-cased, spaces become `_`, hyphens stay. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`
}

export function runAction(opts: ActionRunOptions): Promise<ActionResult> {
  const runnerTemp = opts.runnerTemp ?? tempDir('tako-runner-temp-')
  const files = tempDir('tako-runner-files-')
  const home = path.join(files, 'home')
  mkdirSync(home, { recursive: true })
  const fileCommands = {
    GITHUB_OUTPUT: path.join(files, 'output'),
    GITHUB_STEP_SUMMARY: path.join(files, 'summary.md'),
    GITHUB_ENV: path.join(files, 'env'),
    GITHUB_STATE: path.join(files, 'state')
  }
  // The runner creates these files empty before the step; @actions/core appends to them.
  for (const file of Object.values(fileCommands)) writeFileSync(file, '')

  const actionYml = parseYaml(readFileSync(path.resolve('action.yml'), 'utf8')) as ActionYml
  const inputs: Record<string, string> = {}
  for (const [name, spec] of Object.entries(actionYml.inputs)) {
    const value = name === 'token' ? opts.token : (spec.default ?? '')
    inputs[inputVariable(name)] = String(value)
  }
  for (const [name, value] of Object.entries(opts.inputs)) {
    if (!(name in actionYml.inputs)) throw new Error(`action.yml has no input "${name}"`)
    inputs[inputVariable(name)] = value
  }

  const sha = gitHead(opts.workspace)
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: opts.workspace,
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    GITHUB_REPOSITORY: opts.repository ?? 'acme/api',
    GITHUB_SHA: sha,
    GITHUB_REF: 'refs/heads/main',
    GITHUB_RUN_ID: opts.runId ?? String(1000 + Math.floor(Math.random() * 1e9)),
    GITHUB_RUN_ATTEMPT: String(opts.runAttempt ?? 1),
    GITHUB_JOB: opts.job ?? 'release',
    ...opts.cacheEnv,
    GITHUB_SERVER_URL: opts.serverUrl,
    GITHUB_API_URL: `${opts.serverUrl}/api/v3`,
    ...fileCommands,
    ...inputs,
    ...Object.fromEntries(Object.entries(opts.state ?? {}).map(([name, value]) => [`STATE_${name}`, value]))
  }

  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ACTION], { cwd: opts.workspace, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let lastOutputAt = Date.now()
    let timedOut = false
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      lastOutputAt = Date.now()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      lastOutputAt = Date.now()
    })
    if (opts.interrupt) {
      const { when, signal, then, gapMs = 300 } = opts.interrupt
      let second: NodeJS.Timeout | undefined
      const poll = setInterval(() => {
        if (when instanceof RegExp ? when.test(stdout) : when()) {
          clearInterval(poll)
          child.kill(signal)
          if (then) second = setTimeout(() => child.kill(then), gapMs)
        }
      }, 50)
      child.on('close', () => {
        clearInterval(poll)
        clearTimeout(second)
      })
    }
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 240_000)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const lingerMs = Date.now() - lastOutputAt
      const outputsFile = readFileSync(fileCommands.GITHUB_OUTPUT, 'utf8')
      resolve({
        code,
        signal,
        stdout,
        stderr,
        outputs: parseOutputFile(outputsFile),
        outputsFile,
        state: parseOutputFile(readFileSync(fileCommands.GITHUB_STATE, 'utf8')),
        summary: readFileSync(fileCommands.GITHUB_STEP_SUMMARY, 'utf8'),
        annotations: parseAnnotations(stdout),
        masks: parseMasks(stdout),
        runnerTemp,
        lingerMs,
        timedOut
      })
    })
  })
}

function gitHead(dir: string): string {
  try {
    const head = readFileSync(path.join(dir, '.git', 'HEAD'), 'utf8').trim()
    const ref = /^ref: (.+)$/.exec(head)?.[1]
    return ref ? readFileSync(path.join(dir, '.git', ref), 'utf8').trim() : head
  } catch {
    return '0'.repeat(40)
  }
}

/** `name<<DELIMITER` / value lines / `DELIMITER` blocks, as @actions/core writes GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const head = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (!head) {
      if (lines[i] !== '') throw new Error(`unexpected line ${i + 1} in GITHUB_OUTPUT: ${lines[i]}`)
      continue
    }
    const end = lines.indexOf(head[2], i + 1)
    if (end < 0) throw new Error(`GITHUB_OUTPUT: no closing ${head[2]} for ${head[1]}`)
    out[head[1]] = lines.slice(i + 1, end).join('\n')
    i = end
  }
  return out
}

const unescapeData = (s: string): string => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
const unescapeProperty = (s: string): string => unescapeData(s.replace(/%3A/g, ':').replace(/%2C/g, ','))

/** `::error file=F,line=L,title=T::message` lines (and warning, notice) written to stdout. */
export function parseAnnotations(stdout: string): ParsedAnnotation[] {
  const out: ParsedAnnotation[] = []
  for (const line of stdout.split('\n')) {
    const m = /^::(error|warning|notice)(?: ([^:]*))?::(.*)$/.exec(line.replace(/\r$/, ''))
    if (!m) continue
    const a: ParsedAnnotation = { level: m[1] as ParsedAnnotation['level'], message: unescapeData(m[3]) }
    for (const prop of (m[2] ?? '').split(',').filter(Boolean)) {
      const eq = prop.indexOf('=')
      const [key, value] = [prop.slice(0, eq), unescapeProperty(prop.slice(eq + 1))]
      if (key === 'title' || key === 'file') a[key] = value
      else if (key === 'line' || key === 'col') a[key] = Number(value)
    }
    out.push(a)
  }
  return out
}

export function parseMasks(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('::add-mask::'))
    .map((l) => unescapeData(l.slice('::add-mask::'.length).replace(/\r$/, '')))
}

/** stdout as a log viewer would search it: without the `::add-mask::` commands themselves. */
export function withoutMaskCommands(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n')
}
