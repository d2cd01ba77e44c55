// Parses `tako` command lines (SPEC 5) into a typed command, or a UsageError that says what to do.

import { UsageError } from '../engine/errors.js'

export interface ExecArgs {
  command: 'exec'
  workflow: string
  root: string
  config?: string
  source?: string
  inputs: Record<string, string>
  reposDir?: string
  repos: Record<string, string>
  workspace?: string
  cacheDir?: string
  maxConcurrency: number
  dryRun: boolean
  report?: string
  keepWorkspaces: boolean
  json: boolean
  resume?: string
  /** REST root of a GitHub Enterprise Server, for tako/pull-request@v1 on origins of that host. */
  apiUrl?: string
}

export interface ValidateArgs {
  command: 'validate'
  root: string
  config?: string
}

export type CliArgs = ExecArgs | ValidateArgs | { command: 'help' } | { command: 'version' } | { command: 'schema' }

export const HELP = `tako — dependency-aware workflows across repositories

Usage:
  tako exec <workflow> [options]     run a workflow of the repository (and every subscriber it fans out to)
  tako validate [--root DIR] [--config FILE]
                                     check a tako.yml strictly and report every problem with file:line:col
  tako graph [options]               who triggers whom, read from the tako files (see tako graph --help)
  tako run [options] -- <command>    one command in each repository, publishers first (see tako run --help)
  tako completion bash|zsh|fish      shell completion script
  tako --version | --help

Options of exec:
  --root DIR              repository checkout to run in (default: .)
  --config FILE           tako file, relative to --root (default: tako.yml, else tako.yaml)
  --source OWNER/REPO     name of this repository in events (default: from the origin remote)
  -i, --input NAME=VALUE  workflow input; repeatable; the value keeps every '=' and space
  --repos DIR             folder of subscriber checkouts laid out as DIR/<owner>/<repo>
  --repo OWNER/NAME=PATH  one more subscriber checkout; repeatable
  --workspace DIR         run root; children go to DIR/children/<id> (default: a new temp folder)
  --cache-dir DIR         shared cache, TAKO_CACHE_DIR of every run (default: <workspace>/cache)
  --max-concurrency N     runs executing steps at once across the tree (default: 4)
  --dry-run               print the plan, the inputs and every candidate's verdict; run nothing
  --report FILE           write the JSON run report to FILE
  --keep-workspaces       keep every child workspace (default: keep only failed ones)
  --resume REPORT         re-run only the children that did not succeed in an earlier report
  --json                  print the run report as JSON on stdout (logs go to stderr)
  --api-url URL           GitHub Enterprise Server API (https://HOST/api/v3) for tako/pull-request@v1;
                          pull requests are opened when GITHUB_TOKEN or GH_TOKEN is set and the origin
                          is on github.com or that host, else the branch is only pushed

Exit codes: 0 success, 1 a step or child failed, 2 usage or configuration error, 130 interrupted.`

const EXEC_VALUE_OPTIONS = ['--root', '--config', '--source', '--input', '-i', '--repos', '--repo', '--workspace', '--cache-dir', '--max-concurrency', '--report', '--resume', '--api-url']
const EXEC_FLAGS = ['--dry-run', '--keep-workspaces', '--json']

export function parseArgs(argv: string[]): CliArgs {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { command: 'help' }
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') return { command: 'version' }
  const [command, ...rest] = argv
  if (command === 'schema') return { command: 'schema' }
  if (command !== 'exec' && command !== 'validate') {
    throw new UsageError(`unknown command "${command}" (commands: exec, validate, graph, run, completion; see tako --help)`)
  }
  const allowedValues = command === 'exec' ? EXEC_VALUE_OPTIONS : ['--root', '--config']
  const allowedFlags = command === 'exec' ? EXEC_FLAGS : []
  const values: Array<[string, string]> = []
  const flags = new Set<string>()
  const positional: string[] = []
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg)
      continue
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const name = eq > 0 ? arg.slice(0, eq) : arg
    if (allowedFlags.includes(name)) {
      if (eq > 0) throw new UsageError(`${name} takes no value`)
      flags.add(name)
      continue
    }
    if (!allowedValues.includes(name)) throw new UsageError(`unknown option ${name} for "tako ${command}" (see tako --help)`)
    let value: string
    if (eq > 0) value = arg.slice(eq + 1)
    else {
      if (i + 1 >= rest.length) throw new UsageError(`${name} needs a value`)
      value = rest[++i]
    }
    values.push([name === '-i' ? '--input' : name, value])
  }
  const one = (name: string): string | undefined => {
    const found = values.filter(([n]) => n === name)
    if (found.length > 1) throw new UsageError(`${name} given more than once`)
    return found[0]?.[1]
  }
  if (command === 'validate') {
    if (positional.length > 0) throw new UsageError(`tako validate takes no arguments (got "${positional[0]}")`)
    return { command: 'validate', root: one('--root') ?? '.', config: one('--config') }
  }
  if (positional.length !== 1) {
    throw new UsageError(positional.length === 0 ? 'tako exec needs the name of a workflow: tako exec <workflow>' : `tako exec takes one workflow, got: ${positional.join(' ')}`)
  }
  const inputs: Record<string, string> = {}
  for (const [, value] of values.filter(([n]) => n === '--input')) {
    const eq = value.indexOf('=')
    if (eq <= 0) throw new UsageError(`--input needs NAME=VALUE, got "${value}"`)
    inputs[value.slice(0, eq)] = value.slice(eq + 1)
  }
  const repos: Record<string, string> = {}
  for (const [, value] of values.filter(([n]) => n === '--repo')) {
    const eq = value.indexOf('=')
    if (eq <= 0) throw new UsageError(`--repo needs OWNER/NAME=PATH, got "${value}"`)
    repos[value.slice(0, eq)] = value.slice(eq + 1)
  }
  const maxText = one('--max-concurrency') ?? '4'
  const maxConcurrency = Number(maxText)
  if (!/^\d+$/.test(maxText) || maxConcurrency < 1) throw new UsageError(`--max-concurrency must be a whole number >= 1, got "${maxText}"`)
  return {
    command: 'exec',
    workflow: positional[0],
    root: one('--root') ?? '.',
    config: one('--config'),
    source: one('--source'),
    inputs,
    reposDir: one('--repos'),
    repos,
    workspace: one('--workspace'),
    cacheDir: one('--cache-dir'),
    maxConcurrency,
    dryRun: flags.has('--dry-run'),
    report: one('--report'),
    keepWorkspaces: flags.has('--keep-workspaces'),
    json: flags.has('--json'),
    resume: one('--resume'),
    apiUrl: one('--api-url')
  }
}
