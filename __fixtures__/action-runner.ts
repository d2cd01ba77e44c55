// Runs the committed action bundle (dist/index.js) as a GitHub runner does: INPUT_* from action.yml defaults and
// the given inputs, the runner's file commands and variables, then parses what the runner would read back: the
// workflow commands in its output as the runner's ActionCommandManager/ActionCommand parse them (runnerCommands).

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
  /** The step's outputs as the runner sets them: `set-output` commands, then the GITHUB_OUTPUT file. */
  outputs: Record<string, string>
  /** GITHUB_OUTPUT as written, for leak checks. */
  outputsFile: string
  /** Parsed from the GITHUB_STATE file: what the runner hands to the post step (last value of a name wins). */
  state: Record<string, string>
  /** GITHUB_STEP_SUMMARY content. */
  summary: string
  annotations: ParsedAnnotation[]
  /** Values of `add-mask` commands the runner acted on. */
  masks: string[]
  /** Titles of the log groups the runner opened. */
  groups: string[]
  /** Every command the runner acted on (runnerCommands). */
  commands: RunnerCommand[]
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
        outputs: { ...commandOutputs(stdout), ...parseOutputFile(outputsFile) },
        outputsFile,
        state: parseOutputFile(readFileSync(fileCommands.GITHUB_STATE, 'utf8')),
        summary: readFileSync(fileCommands.GITHUB_STEP_SUMMARY, 'utf8'),
        annotations: parseAnnotations(stdout),
        masks: parseMasks(stdout),
        groups: parseGroups(stdout),
        commands: runnerCommands(stdout),
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

/** The commands the runner registers (ActionCommandManager's extensions, plus stop-commands). */
const REGISTERED = [
  'add-mask',
  'add-path',
  'set-env',
  'set-output',
  'save-state',
  'add-matcher',
  'remove-matcher',
  'debug',
  'warning',
  'error',
  'notice',
  'group',
  'endgroup',
  'echo',
  'internal-set-repo-path',
  'stop-commands'
]

/** A workflow command as the runner parsed and acted on it. */
export interface RunnerCommand {
  /** Lower-cased (the runner matches names case-insensitively). */
  command: string
  /** Keys lower-cased, as the runner's case-insensitive dictionary finds them. */
  properties: Record<string, string>
  data: string
  /** `::` (TryParseV2) or `##[` (TryParse). */
  syntax: '::' | '##['
}

/** .NET Char.IsWhiteSpace, what String.TrimStart() removes: note U+0085, and no U+FEFF. */
const DOTNET_LEADING_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/

const unescape = (s: string, map: Array<[string, string]>): string => map.reduce((t, [code, ch]) => t.split(code).join(ch), s)
// The runner's mappings, in its order (% last).
const DATA: Array<[string, string]> = [
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%25', '%']
]
const PROPERTY: Array<[string, string]> = [
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%3A', ':'],
  ['%2C', ','],
  ['%25', '%']
]
const V1: Array<[string, string]> = [
  ['%3B', ';'],
  ['%0D', '\r'],
  ['%0A', '\n'],
  ['%5D', ']'],
  ['%25', '%']
]

function properties(text: string, separator: string, map: Array<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of text.split(separator).filter(Boolean)) {
    // Split('=', 2, RemoveEmptyEntries): a side left empty makes no pair.
    const eq = part.indexOf('=')
    if (eq > 0 && eq < part.length - 1) out[part.slice(0, eq).toLowerCase()] = unescape(part.slice(eq + 1), map)
  }
  return out
}

/** ActionCommand.TryParseV2: `::name props::data` after the leading white space .NET trims. */
function tryParseV2(line: string, registered: Set<string>): RunnerCommand | undefined {
  const message = line.replace(DOTNET_LEADING_SPACE, '')
  if (!message.startsWith('::')) return undefined
  const end = message.indexOf('::', 2)
  if (end < 0) return undefined
  const info = message.slice(2, end)
  const space = info.indexOf(' ')
  const name = space < 0 ? info : info.slice(0, space)
  if (!registered.has(name.toLowerCase())) return undefined
  return {
    command: name.toLowerCase(),
    properties: space > 0 ? properties(info.slice(space + 1).trim(), ',', PROPERTY) : {},
    data: unescape(message.slice(end + 2), DATA),
    syntax: '::'
  }
}

/** ActionCommand.TryParse: the first `##[name props]data` anywhere in the line. */
function tryParseV1(line: string, registered: Set<string>): RunnerCommand | undefined {
  const at = line.indexOf('##[')
  if (at < 0) return undefined
  const rb = line.indexOf(']', at)
  if (rb < 0) return undefined
  const info = line.slice(at + 3, rb)
  const space = info.indexOf(' ')
  const name = space < 0 ? info : info.slice(0, space)
  if (!registered.has(name.toLowerCase())) return undefined
  return {
    command: name.toLowerCase(),
    properties: space > 0 ? properties(info.slice(space + 1), ';', V1) : {},
    data: unescape(line.slice(rb + 1), V1),
    syntax: '##['
  }
}

/**
 * The commands a runner acts on in a step's output, in order, as ActionCommandManager.TryProcessCommand does: lines as
 * .NET's ReadLine splits them (\n, \r, \r\n), TryParseV2 then TryParse, and between `stop-commands` and its token
 * nothing but the token. Throws where the runner fails the step (an invalid stop token).
 */
export function runnerCommands(stdout: string): RunnerCommand[] {
  const registered = new Set(REGISTERED)
  const out: RunnerCommand[] = []
  let stopToken: string | undefined
  for (const line of stdout.split(/\r\n|\r|\n/)) {
    const cmd = tryParseV2(line, registered) ?? tryParseV1(line, registered)
    if (!cmd) continue
    if (stopToken !== undefined) {
      if (cmd.command === stopToken.toLowerCase()) {
        registered.delete(cmd.command)
        stopToken = undefined
      }
      continue
    }
    if (cmd.command === 'stop-commands') {
      if (!cmd.data || registered.has(cmd.data.toLowerCase()) || cmd.data.toLowerCase() === 'pause-logging')
        throw new Error(`the runner refuses stop token "${cmd.data}"`)
      stopToken = cmd.data
      registered.add(cmd.data.toLowerCase())
      continue
    }
    out.push(cmd)
  }
  return out
}

/** The annotations the runner makes of `error`, `warning` and `notice` commands. */
export function parseAnnotations(stdout: string): ParsedAnnotation[] {
  return runnerCommands(stdout)
    .filter((c) => c.command === 'error' || c.command === 'warning' || c.command === 'notice')
    .map((c) => {
      const a: ParsedAnnotation = { level: c.command as ParsedAnnotation['level'], message: c.data }
      if (c.properties.title !== undefined) a.title = c.properties.title
      if (c.properties.file !== undefined) a.file = c.properties.file
      if (c.properties.line !== undefined) a.line = Number(c.properties.line)
      if (c.properties.col !== undefined) a.col = Number(c.properties.col)
      return a
    })
}

/** Values the runner's masker takes from `add-mask` commands. */
export function parseMasks(stdout: string): string[] {
  return runnerCommands(stdout)
    .filter((c) => c.command === 'add-mask' && c.data.trim() !== '')
    .map((c) => c.data)
}

/** Outputs the runner sets from `set-output` commands (the GITHUB_OUTPUT file, read after the step, wins). */
export function commandOutputs(stdout: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const c of runnerCommands(stdout)) if (c.command === 'set-output' && c.properties.name) out[c.properties.name] = c.data
  return out
}

/** Titles of the `group` commands, in order. */
export function parseGroups(stdout: string): string[] {
  return runnerCommands(stdout)
    .filter((c) => c.command === 'group')
    .map((c) => c.data)
}

/** stdout as a log viewer would search it: without the `::add-mask::` commands themselves. */
export function withoutMaskCommands(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n')
}
