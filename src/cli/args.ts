// Parses `tako` command lines (SPEC 5) from one table of commands and options: help, "did you mean" and shell
// completion all read the same table, so adding a command is one entry in COMMANDS.

import { didYouMean } from '../config/suggest.js'
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
  /** `--event`: JSON text, or a file holding it; the run becomes a child run of that event. */
  event?: string
  /** `--subscription N`: which (1-based) subscription maps the event to inputs. */
  subscription?: number
  strict: boolean
  /** REST root of a GitHub Enterprise Server, for tako/pull-request@v1 on origins of that host. */
  apiUrl?: string
}

export interface ValidateArgs {
  command: 'validate'
  root: string
  config?: string
  reposDir?: string
}

export type CliArgs =
  | ExecArgs
  | ValidateArgs
  | { command: 'help'; topic?: string }
  | { command: 'version' }
  | { command: 'schema' }
  /** graph, run and completion parse their own lines (`run` keeps everything after `--` verbatim). */
  | { command: 'own'; name: string; argv: string[] }

export interface OptionSpec {
  name: string
  alias?: string
  /** What the value is called in help (`DIR`); absent for a flag. */
  value?: string
  repeatable?: boolean
  help: string
}

/** What the generic parser hands a command's builder. */
export interface ParsedLine {
  positional: string[]
  values: Map<string, string[]>
  flags: Set<string>
}

export interface CommandSpec {
  name: string
  summary: string
  usage: string
  options: OptionSpec[]
  /** Lines printed after the options in the command's own help. */
  notes?: string
  /** Absent for a command that parses its own line (its options here serve help, suggestions and completion). */
  build?: (line: ParsedLine) => CliArgs
}

const ROOT: OptionSpec = { name: '--root', value: 'DIR', help: 'repository checkout to work in (default: .)' }
const CONFIG: OptionSpec = { name: '--config', value: 'FILE', help: 'tako file, relative to --root (default: tako.yml, else tako.yaml)' }
const REPOS: OptionSpec = { name: '--repos', value: 'DIR', help: 'folder of subscriber checkouts laid out as DIR/<owner>/<repo>' }
const REPO: OptionSpec = { name: '--repo', value: 'OWNER/NAME=PATH', repeatable: true, help: 'one more repository checkout; repeatable' }

const EXIT_CODES = 'Exit codes: 0 success, 1 a step or child failed (or a warning under --strict), 2 usage or configuration error, 130 interrupted.'

export const COMMANDS: CommandSpec[] = [
  {
    name: 'exec',
    summary: 'run a workflow of the repository (and every subscriber it fans out to)',
    usage: 'tako exec <workflow> [options]',
    options: [
      ROOT,
      CONFIG,
      { name: '--source', value: 'OWNER/REPO', help: 'name of this repository in events (default: from the origin remote)' },
      { name: '--input', alias: '-i', value: 'NAME=VALUE', repeatable: true, help: "workflow input; repeatable; the value keeps every '=' and space" },
      REPOS,
      REPO,
      { name: '--workspace', value: 'DIR', help: 'run root; children go to DIR/children/<id> (default: a new temp folder)' },
      { name: '--cache-dir', value: 'DIR', help: 'shared cache, TAKO_CACHE_DIR of every run (default: <workspace>/cache)' },
      { name: '--max-concurrency', value: 'N', help: 'runs executing steps at once across the tree (default: 4)' },
      { name: '--event', value: 'JSON|FILE', help: 'run the workflow as a child run of this event ({"type","source","artifact","payload"})' },
      { name: '--subscription', value: 'N', help: 'with --event: the subscription (1-based) whose inputs map the event (default: the only match)' },
      { name: '--dry-run', help: "print the plan of the whole tree, the inputs and every candidate's verdict; run nothing" },
      { name: '--strict', help: 'fail the run (exit 1) on any warning: invalid subscriber, filter error, no candidates' },
      { name: '--report', value: 'FILE', help: 'write the JSON run report to FILE' },
      { name: '--keep-workspaces', help: 'keep every child workspace (default: keep only failed ones)' },
      { name: '--resume', value: 'REPORT', help: 're-run only the children that did not succeed in an earlier report' },
      { name: '--json', help: 'print the run report as JSON on stdout (logs go to stderr)' },
      {
        name: '--api-url',
        value: 'URL',
        help: 'GitHub Enterprise Server API (https://HOST/api/v3) for tako/pull-request@v1; pull requests are opened when GITHUB_TOKEN or GH_TOKEN is set and the origin is on github.com or that host, else the branch is only pushed'
      }
    ],
    notes: EXIT_CODES,
    build: buildExec
  },
  {
    name: 'validate',
    summary: 'check a tako.yml strictly and report every problem with file:line:col',
    usage: 'tako validate [--root DIR] [--config FILE] [--repos DIR]',
    options: [
      ROOT,
      CONFIG,
      {
        ...REPOS,
        help: 'validate every repository under DIR/<owner>/<repo> instead, with subscription inputs checked against the target workflow'
      }
    ],
    notes: 'Exit codes: 0 valid (warnings are printed), 2 a file is invalid.',
    build: ({ positional, values }) => {
      if (positional.length > 0) throw new UsageError(`tako validate takes no arguments (got "${positional[0]}")`)
      return { command: 'validate', root: one(values, '--root') ?? '.', config: one(values, '--config'), reposDir: one(values, '--repos') }
    }
  },
  {
    name: 'graph',
    summary: 'who triggers whom, read from the tako files, without running anything',
    usage: 'tako graph [--root DIR] [--repos DIR] [--repo OWNER/NAME=PATH ...] [--from OWNER/REPO[:WORKFLOW]] [--format tree|mermaid|dot|json]',
    options: [
      ROOT,
      REPOS,
      REPO,
      { name: '--from', value: 'OWNER/REPO[:WORKFLOW]', help: 'only what a release of this repository (or workflow) reaches' },
      { name: '--format', value: 'tree|mermaid|dot|json', help: 'output format (default: tree)' },
      { name: '--report', value: 'FILE', help: 'draw the tree of a run report instead' }
    ]
  },
  {
    name: 'run',
    summary: 'one command in each repository of the graph, publishers before their subscribers',
    usage: 'tako run [options] -- <command ...>',
    options: [
      ROOT,
      REPOS,
      REPO,
      { name: '--from', value: 'OWNER/REPO', help: 'only this repository and what it reaches' },
      { name: '--only', value: 'A,B', repeatable: true, help: 'only these repositories' },
      { name: '--ignore', value: 'C', repeatable: true, help: 'leave these repositories out' },
      { name: '--max-concurrency', value: 'N', help: 'commands running at once (default: 4)' },
      { name: '--dry-run', help: 'print the order; run nothing' },
      { name: '--keep-going', help: "run a failed repository's subscribers anyway" },
      { name: '--json', help: 'print the results as JSON' }
    ]
  },
  {
    name: 'completion',
    summary: 'shell completion script',
    usage: 'tako completion bash|zsh|fish',
    options: []
  },
  {
    name: 'schema',
    summary: 'print the JSON Schema of tako.yml (for editors: yaml-language-server, VS Code)',
    usage: 'tako schema',
    options: [],
    build: ({ positional }) => {
      if (positional.length > 0) throw new UsageError(`tako schema takes no arguments (got "${positional[0]}")`)
      return { command: 'schema' }
    }
  }
]

export function commandNamed(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name)
}

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    'tako — dependency-aware workflows across repositories',
    '',
    'Usage:',
    ...COMMANDS.map((c) => `  ${c.usage}`),
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    '  tako <command> --help   options of one command',
    '  tako --version | --help',
    '',
    EXIT_CODES
  ].join('\n')
}

export function commandHelp(spec: CommandSpec): string {
  const label = (o: OptionSpec): string => `${o.alias ? `${o.alias}, ` : ''}${o.name}${o.value ? ` ${o.value}` : ''}`
  const width = Math.max(0, ...spec.options.map((o) => label(o).length)) + 2
  const lines = [`tako ${spec.name} — ${spec.summary}`, '', `Usage: ${spec.usage}`]
  if (spec.options.length) lines.push('', 'Options:', ...spec.options.map((o) => `  ${label(o).padEnd(width)}${o.help}`))
  lines.push('  -h, --help'.padEnd(width + 2) + 'this help')
  if (spec.notes) lines.push('', spec.notes)
  return lines.join('\n')
}

export function parseArgs(argv: string[]): CliArgs {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') return { command: 'help' }
  if (argv[0] === 'help') {
    if (argv[1] !== undefined) knownCommand(argv[1])
    return { command: 'help', topic: argv[1] }
  }
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') return { command: 'version' }
  const [name, ...rest] = argv
  if (name.startsWith('-')) throw new UsageError(`unknown option ${name}${didYouMean(name, ['--help', '--version'])}; a command comes first (see tako --help)`)
  const spec = knownCommand(name)
  if (!spec.build) return { command: 'own', name: spec.name, argv: rest }
  if (rest.includes('--help') || rest.includes('-h')) return { command: 'help', topic: spec.name }
  return spec.build(parseLine(spec, rest))
}

function knownCommand(name: string): CommandSpec {
  const spec = commandNamed(name)
  if (!spec) {
    const names = COMMANDS.map((c) => c.name)
    throw new UsageError(`unknown command "${name}"${didYouMean(name, names)} (commands: ${names.join(', ')}; see tako --help)`)
  }
  return spec
}

function parseLine(spec: CommandSpec, rest: string[]): ParsedLine {
  const byName = new Map<string, OptionSpec>()
  for (const o of spec.options) {
    byName.set(o.name, o)
    if (o.alias) byName.set(o.alias, o)
  }
  const line: ParsedLine = { positional: [], values: new Map(), flags: new Set() }
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    if (!arg.startsWith('-') || arg === '-') {
      line.positional.push(arg)
      continue
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1
    const given = eq > 0 ? arg.slice(0, eq) : arg
    const option = byName.get(given)
    if (!option) {
      const names = spec.options.flatMap((o) => (o.alias ? [o.name, o.alias] : [o.name]))
      throw new UsageError(`unknown option ${given} for "tako ${spec.name}"${didYouMean(given, names)} (see tako ${spec.name} --help)`)
    }
    if (!option.value) {
      if (eq > 0) throw new UsageError(`${option.name} takes no value`)
      line.flags.add(option.name)
      continue
    }
    let value: string
    if (eq > 0) value = arg.slice(eq + 1)
    else {
      if (i + 1 >= rest.length) throw new UsageError(`${given} needs a value (${option.value})`)
      value = rest[++i]
    }
    const list = line.values.get(option.name) ?? []
    if (list.length > 0 && !option.repeatable) throw new UsageError(`${option.name} given more than once`)
    line.values.set(option.name, [...list, value])
  }
  return line
}

function one(values: Map<string, string[]>, name: string): string | undefined {
  return values.get(name)?.[0]
}

function pairs(values: Map<string, string[]>, name: string, shape: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const value of values.get(name) ?? []) {
    const eq = value.indexOf('=')
    if (eq <= 0) throw new UsageError(`${name} needs ${shape}, got "${value}"`)
    out[value.slice(0, eq)] = value.slice(eq + 1)
  }
  return out
}

function wholeNumber(text: string, name: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < 1) throw new UsageError(`${name} must be a whole number >= 1, got "${text}"`)
  return n
}

function buildExec({ positional, values, flags }: ParsedLine): ExecArgs {
  if (positional.length !== 1) {
    throw new UsageError(
      positional.length === 0 ? 'tako exec needs the name of a workflow: tako exec <workflow>' : `tako exec takes one workflow, got: ${positional.join(' ')}`
    )
  }
  const subscription = one(values, '--subscription')
  if (subscription !== undefined && one(values, '--event') === undefined) throw new UsageError('--subscription only applies with --event')
  return {
    command: 'exec',
    workflow: positional[0],
    root: one(values, '--root') ?? '.',
    config: one(values, '--config'),
    source: one(values, '--source'),
    inputs: pairs(values, '--input', 'NAME=VALUE'),
    reposDir: one(values, '--repos'),
    repos: pairs(values, '--repo', 'OWNER/NAME=PATH'),
    workspace: one(values, '--workspace'),
    cacheDir: one(values, '--cache-dir'),
    maxConcurrency: wholeNumber(one(values, '--max-concurrency') ?? '4', '--max-concurrency'),
    dryRun: flags.has('--dry-run'),
    report: one(values, '--report'),
    keepWorkspaces: flags.has('--keep-workspaces'),
    json: flags.has('--json'),
    resume: one(values, '--resume'),
    event: one(values, '--event'),
    subscription: subscription === undefined ? undefined : wholeNumber(subscription, '--subscription'),
    strict: flags.has('--strict'),
    apiUrl: one(values, '--api-url')
  }
}
