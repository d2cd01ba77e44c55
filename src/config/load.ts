// Loading tako.yml (SPEC 1): YAML with positions, the zod shape check, the semantic checks (names, references,
// CEL, templates, built-in steps) and the normalized model; every problem located at file:line:col, all at once.

import path from 'node:path'
import { LineCounter, isAlias, isCollection, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node, type Pair, type YAMLMap } from 'yaml'
import { z } from 'zod'
import { checkTemplate } from '../engine/template.js'
import { compileExpression } from '../engine/expressions.js'
import { checkInputSpec, coerceInput, inputEnvName } from '../engine/inputs.js'
import { insideDoubleQuotes, namesInExpression } from './run-hazards.js'
import { normalizeRange, toVersion } from '../engine/semver.js'
import { regexGroups, regexProblem } from '../engine/regex.js'
import { readRegularFile, RefusedFile } from '../engine/regular-file.js'
import { parseDuration } from './duration.js'
import { ConfigError } from './errors.js'
import {
  describeValue,
  envSchema,
  inputSpecSchema,
  step as stepSchema,
  subscriptionSchema,
  takoFileSchema,
  workflowSchema,
  type RawTakoFile
} from './schema.js'
import { didYouMean } from './suggest.js'
import { BUILTINS, builtinSteps, type Builtin } from '../engine/builtins/index.js'
import { isTemplated, withProblems } from '../engine/builtins/with.js'
import {
  type ArtifactSpec,
  type ConfigIssue,
  type InputSpec,
  type OutputSource,
  type ProducedEvent,
  type StepSpec,
  type SubscriptionSpec,
  type TakoConfig,
  type WorkflowSpec
} from './types.js'

export interface LoadResult {
  config?: TakoConfig
  issues: ConfigIssue[]
}

type Path = (string | number)[]

/** The largest tako file read. */
export const MAX_CONFIG_BYTES = 1024 * 1024
const MAX_DEPTH = 64
/** Unclosed `[`/`{` counted in the raw text before parsing: far beyond MAX_DEPTH, it spares the parser a pathological input. */
const MAX_BRACKETS = 1000
const MAX_ALIAS_COUNT = 100
const DEPTH_MESSAGE = `the file nests deeper than ${MAX_DEPTH} levels`
const OUTPUT_SOURCES = 'from_stdout, from_stderr, from_file:<path>, from_env:<NAME> or a regular expression with one capture group'

/** Pure: parse text as the file `file`. Collects ALL problems at once, sorted in file order (line, col). Never throws for user input.
    The same text is parsed once: repositories made from one template often carry the very same tako file, and
    discovery reads each candidate (and the CLI each `--repos` folder) under its own name. The result is the same for
    every name but `file`, which each caller gets its own copy of; the model under it is shared and frozen. */
export function parseConfig(text: string, file: string): LoadResult {
  const rememberable = text.length <= MAX_REMEMBERED_CHARS
  let parsed = rememberable ? remembered.get(text) : undefined
  if (parsed === undefined) {
    parsed = parseText(text, file)
    if (rememberable) {
      if (remembered.size >= MAX_REMEMBERED) remembered.delete(remembered.keys().next().value as string)
      remembered.set(text, parsed)
    }
  }
  const issues = parsed.issues.map((issue) => (issue.file === file ? issue : { ...issue, file }))
  return parsed.config === undefined ? { issues } : { config: parsed.config.file === file ? parsed.config : Object.freeze({ ...parsed.config, file }), issues }
}

/** Parsed files by their text, oldest first: at most MAX_REMEMBERED, none longer than MAX_REMEMBERED_CHARS (so the
    cache holds at most 64 Mi characters of text however many repositories a tree reads; a tako file is typically
    1-3 KB). */
const remembered = new Map<string, LoadResult>()
const MAX_REMEMBERED = 1024
const MAX_REMEMBERED_CHARS = 64 * 1024

function parseText(text: string, file: string): LoadResult {
  const issues: ConfigIssue[] = []
  const loader = new Loader(text, file, issues)
  const config = loader.load()
  issues.sort((a, b) => a.line - b.line || a.col - b.col)
  if (loader.unlisted.errors + loader.unlisted.warnings > 0) {
    const { errors, warnings } = loader.unlisted
    const more = [errors ? `${errors} more error${errors === 1 ? '' : 's'}` : '', warnings ? `${warnings} more warning${warnings === 1 ? '' : 's'}` : '']
      .filter(Boolean)
      .join(' and ')
    // Shown after the last one listed, where it points.
    const last = issues[issues.length - 1]
    issues.push({
      file,
      line: last.line,
      col: last.col,
      message: `and ${more} (only the first ${MAX_ISSUES} problems are listed)`,
      severity: errors ? 'error' : 'warning'
    })
  }
  const failed = issues.some((i) => i.severity === 'error')
  for (const issue of issues) Object.freeze(issue)
  return failed || config === undefined ? { issues } : { config: deepFreeze(config), issues }
}

/** Freezes a parsed model all the way down: shared between callers, nothing may change it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

/** Finds tako.yml, else tako.yaml, in `root` (or uses `configPath`, relative to `root`), reads and parses it.
    Returns the config and its warnings; throws ConfigError when the file is missing or has any error. */
export async function loadConfig(opts: { root: string; configPath?: string }): Promise<{ config: TakoConfig; warnings: ConfigIssue[]; path: string }> {
  const root = path.resolve(opts.root)
  const candidates = opts.configPath ? [path.resolve(root, opts.configPath)] : ['tako.yml', 'tako.yaml'].map((n) => path.join(root, n))
  for (const candidate of candidates) {
    let text: string
    try {
      // Not a FIFO, a device or a link out of the repository (to /proc/self/environ, say): refused unread.
      text = (await readRegularFile(candidate, { maxBytes: MAX_CONFIG_BYTES, within: root, folderName: 'repository' })).toString('utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' && candidates.length > 1) continue
      const why =
        error instanceof RefusedFile
          ? `it ${error.message}`
          : code === 'ENOENT'
            ? 'no such file'
            : code === 'EISDIR'
              ? 'it is a directory'
              : (error as Error).message
      throw new ConfigError([{ file: candidate, line: 0, col: 0, message: `cannot read the tako file: ${why}`, severity: 'error' }])
    }
    // Shown relative to the current folder, as the user would type it (`examples/x/tako.yml:10:3`), whatever --root was.
    const relative = path.relative(process.cwd(), candidate)
    const shown = relative.startsWith('..') || path.isAbsolute(relative) ? candidate : relative
    const { config, issues } = parseConfig(text, shown)
    if (!config) throw new ConfigError(issues)
    return { config, warnings: issues, path: candidate }
  }
  throw new ConfigError([{ file: root, line: 0, col: 0, message: 'no tako.yml or tako.yaml found here', severity: 'error' }])
}

/** What a template may refer to where it stands. */
type TemplateScope = { kind: 'subscription' } | { kind: 'workflow'; workflow: string; inputs: string[]; steps: Set<string>; before: StepsBefore; run?: boolean }

/** The ids of the steps that run before a point; a view, not a copy, so checking n steps stays linear. */
interface StepsBefore {
  has(id: string): boolean
}

type WorkflowScope = Extract<TemplateScope, { kind: 'workflow' }>

interface PlannedStep {
  raw: unknown
  path: Path
  id: string
  explicitId: boolean
  handlers: PlannedStep[]
}

const isPlainMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const list = (names: Iterable<string>): string => [...names].join(', ')

/** Problems listed per file: a hostile or broken file (60,000 unknown keys, binary) gets a bounded message. */
const MAX_ISSUES = 50
/** A message quoting a long key or value is cut here. */
const MAX_MESSAGE_CHARS = 300

class Loader {
  /** Problems found past MAX_ISSUES: counted, neither located nor described. */
  readonly unlisted = { errors: 0, warnings: 0 }
  private readonly lines = new LineCounter()
  /** Each YAML map's pairs by key, built on first lookup: locating n problems stays linear. */
  private readonly pairsByKey = new WeakMap<object, Map<string, Pair>>()
  private doc!: Document
  private artifacts = new Set<string>()
  private produced: string[] = []
  /** Inputs of each workflow, for subscription checks: all declared ones, and those that need a value. */
  private readonly inputsOf = new Map<string, { declared: string[]; required: string[]; specs: Record<string, InputSpec> }>()
  /** `.inputs.x` placed in a `run` without `| shell_quote`, per workflow: a hazard when a subscription maps x from the event. */
  private readonly runInputs: Array<{ workflow: string; name: string; at: Path; offset: number; written: string }> = []

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly issues: ConfigIssue[]
  ) {}

  load(): TakoConfig | undefined {
    if (this.text.length > MAX_CONFIG_BYTES) return this.fail(0, `the file is larger than ${MAX_CONFIG_BYTES / 1024} KiB`)
    const brackets = unclosedBracketOffset(this.text)
    if (brackets !== undefined) return this.fail(brackets, DEPTH_MESSAGE)
    // The parser's own uniqueKeys compares each key with every earlier one (quadratic): duplicates are found below.
    this.doc = parseDocument(this.text, { lineCounter: this.lines, uniqueKeys: false, prettyErrors: false, logLevel: 'error' })
    let syntaxBroken = false
    for (const error of this.doc.errors) {
      syntaxBroken = true
      if (this.listFull('error')) continue
      const message = /call stack/i.test(error.message) ? DEPTH_MESSAGE : `invalid YAML: ${error.message}`
      this.issue('error', error.pos[0], message)
    }
    for (const warning of this.doc.warnings) this.issue('warning', warning.pos[0], warning.message)
    this.duplicateKeys()
    if (syntaxBroken) return undefined
    const deep = tooDeep(this.doc.contents)
    if (deep) return this.fail(deep.range?.[0] ?? 0, DEPTH_MESSAGE)

    let raw: unknown
    try {
      raw = this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
    } catch {
      const alias = firstAlias(this.doc)
      return this.fail(alias?.range?.[0] ?? 0, `the file's aliases expand too much (a YAML alias bomb?); refusing it`)
    }
    if (raw === null || raw === undefined) {
      return this.fail(0, 'the file is empty; it needs at least the key "version"')
    }
    if (!isPlainMap(raw)) {
      return this.fail(this.doc.contents?.range?.[0] ?? 0, `the file must be a map with keys such as "version" and "workflows", got ${describeValue(raw)}`)
    }

    for (const at of protoKeys(raw)) this.error(at, 'the key "__proto__" is not allowed', 'key')
    const parsed = takoFileSchema.safeParse(raw)
    if (!parsed.success) for (const issue of flatten(parsed.error.issues, [], raw)) this.zodIssue(issue, raw)
    return this.check(raw, parsed.success ? parsed.data : undefined)
  }

  // ---- semantic checks, field by field so that a shape error elsewhere hides nothing; the model only from a valid shape

  private check(raw: Record<string, unknown>, data: RawTakoFile | undefined): TakoConfig | undefined {
    const events = isPlainMap(raw.events) ? raw.events : {}
    if (isPlainMap(raw.artifacts)) this.artifacts = new Set(Object.keys(raw.artifacts))
    if (Array.isArray(events.produces)) {
      this.produced = events.produces.flatMap((e) => (isPlainMap(e) && typeof e.type === 'string' ? [e.type] : []))
      events.produces.forEach((e, i) => {
        if (isPlainMap(e) && (typeof e.schema_version === 'string' || typeof e.schema_version === 'number')) {
          this.version(e.schema_version, ['events', 'produces', i, 'schema_version'])
        }
      })
    }

    const workflows: Record<string, WorkflowSpec> = {}
    const workflowNames = isPlainMap(raw.workflows) ? Object.keys(raw.workflows) : []
    for (const name of workflowNames) {
      const workflow = this.workflow(name, (raw.workflows as Record<string, unknown>)[name], ['workflows', name])
      if (workflow) workflows[name] = workflow
    }

    const subscriptionPaths: Path[] = []
    if (Array.isArray(raw.subscriptions)) raw.subscriptions.forEach((_, i) => subscriptionPaths.push(['subscriptions', i]))
    if (Array.isArray(events.subscriptions)) events.subscriptions.forEach((_, i) => subscriptionPaths.push(['events', 'subscriptions', i]))
    subscriptionPaths.sort((a, b) => this.offset(a) - this.offset(b))
    const subscriptions: SubscriptionSpec[] = []
    for (const at of subscriptionPaths) {
      const sub = valueAt(raw, at)
      const spec = isPlainMap(sub) ? this.subscription(sub, at, workflowNames) : undefined
      if (spec) subscriptions.push(spec)
    }

    if (!data) return undefined
    const artifacts: Record<string, ArtifactSpec> = {}
    for (const [name, spec] of Object.entries(data.artifacts ?? {})) artifacts[name] = compact({ ...spec })
    return compact({
      file: this.file,
      version: this.written(data.version, ['version']),
      name: data.name ?? data.metadata?.name,
      artifacts,
      workflows,
      subscriptions,
      produces: (data.events?.produces ?? []).map((e, i): ProducedEvent => {
        const version = e.schema_version === undefined ? undefined : this.written(e.schema_version, ['events', 'produces', i, 'schema_version'])
        return compact({ type: e.type, schema_version: version, description: e.description })
      }),
      repos: data.repos ?? []
    })
  }

  private workflow(name: string, raw: unknown, at: Path): WorkflowSpec | undefined {
    const wf = isPlainMap(raw) ? raw : {}
    const declared = isPlainMap(wf.inputs) ? Object.keys(wf.inputs) : []
    const inputs: Record<string, InputSpec> = {}
    for (const input of declared) {
      const parsed = inputSpecSchema.safeParse((wf.inputs as Record<string, unknown>)[input])
      if (!parsed.success) continue
      const spec = parsed.data
      inputs[input] = compact({
        type: spec.type ?? 'string',
        required: spec.required ?? false,
        default: spec.default,
        description: spec.description,
        enum: spec.validation?.enum,
        pattern: spec.validation?.pattern,
        min: spec.validation?.min,
        max: spec.validation?.max
      })
      for (const problem of checkInputSpec(input, inputs[input])) this.error([...at, 'inputs', input], problem, 'key')
    }
    const required = Object.keys(inputs).filter((input) => inputs[input].required && inputs[input].default === undefined)
    this.inputsOf.set(name, { declared, required, specs: inputs })

    const planned = planSteps(Array.isArray(wf.steps) ? wf.steps : [], [...at, 'steps'], (i) => `step-${i + 1}`)
    const ids = new Map<string, PlannedStep>()
    const walk = (steps: PlannedStep[]): void => {
      for (const step of steps) {
        const first = ids.get(step.id)
        if (first) {
          const where = step.explicitId ? [...step.path, 'id'] : step.path
          this.error(where, `duplicate step id "${step.id}" in workflow "${name}" (already used by the step at line ${this.line(first.path)})`)
        } else ids.set(step.id, step)
        walk(step.handlers)
      }
    }
    walk(planned)

    const before = new Set<string>()
    const scope = { kind: 'workflow' as const, workflow: name, inputs: declared, steps: new Set(ids.keys()), before }
    const env = this.env(wf.env, [...at, 'env'], scope)
    const steps: (StepSpec | undefined)[] = []
    for (const step of planned) {
      steps.push(this.step(step, scope))
      before.add(step.id)
    }
    const whole = workflowSchema.safeParse(raw)
    const complete = env && steps.every((step) => step !== undefined) && Object.keys(inputs).length === declared.length
    if (!whole.success || !complete) return undefined
    return compact({
      name,
      description: whole.data.description,
      inputs,
      env,
      timeoutMs: whole.data.timeout === undefined ? undefined : parseDuration(whole.data.timeout),
      steps,
      line: this.line(at, 'key')
    })
  }

  /** Checks one step (its handlers too, even when the step itself is malformed); the model when all is well. */
  private step(planned: PlannedStep, outer: WorkflowScope): StepSpec | undefined {
    const { path: at, id } = planned
    const scope = outer
    // A handler sees the steps before this one, this one, and the handlers before it.
    const handled = new Set([id])
    const handlerScope = { ...scope, before: { has: (s: string) => handled.has(s) || outer.before.has(s) } }
    const on_failure: (StepSpec | undefined)[] = []
    for (const handler of planned.handlers) {
      on_failure.push(this.step(handler, handlerScope))
      handled.add(handler.id)
    }

    const raw = planned.raw
    const line = this.line(at)
    if (typeof raw === 'string') {
      this.templates(raw, at, { ...scope, run: true })
      return { id, run: raw, shell: 'bash', env: {}, continue_on_error: false, outputs: {}, on_failure: [], line }
    }
    if (!isPlainMap(raw)) return undefined
    const text = (key: string): string | undefined => (typeof raw[key] === 'string' ? (raw[key] as string) : undefined)
    if (raw.run === undefined && raw.uses === undefined) this.error(at, `step "${id}" needs "run" or "uses"`)
    if (raw.run !== undefined && raw.uses !== undefined) this.error([...at, 'uses'], `step "${id}" has both "run" and "uses"; use one of them`, 'key')
    if (raw.with !== undefined && raw.uses === undefined) this.error([...at, 'with'], `"with" applies only to a step with "uses"`, 'key')
    const condition = text('if')
    if (condition !== undefined) {
      // Names are read only from an expression that compiles: one problem at a time.
      if (this.expression(condition, [...at, 'if'], 'if')) this.conditionNames(condition, [...at, 'if'], scope)
    }
    const run = text('run')
    if (run !== undefined) this.templates(run, [...at, 'run'], { ...scope, run: true })
    const env = this.env(raw.env, [...at, 'env'], scope)
    const dir = text('working_directory')
    if (dir !== undefined) this.workingDirectory(dir, [...at, 'working_directory'])
    const outputs: Record<string, OutputSource> = {}
    const declaredOutputs = isPlainMap(raw.produces) && isPlainMap(raw.produces.outputs) ? raw.produces.outputs : {}
    for (const [name, source] of Object.entries(declaredOutputs)) {
      const parsedSource = typeof source === 'string' ? this.outputSource(name, source, [...at, 'produces', 'outputs', name]) : undefined
      if (parsedSource) outputs[name] = parsedSource
    }
    if (isPlainMap(raw.with)) this.deepTemplates(raw.with, [...at, 'with'], scope)
    const uses = text('uses')
    if (uses !== undefined) this.uses(uses, raw.with, at)

    const parsed = stepSchema.safeParse({ ...raw, on_failure: undefined })
    if (!parsed.success || typeof parsed.data === 'string' || !env || !on_failure.every((step) => step !== undefined)) return undefined
    const step = parsed.data
    return compact({
      id,
      name: step.name,
      if: step.if === undefined ? undefined : String(step.if),
      run: step.run,
      shell: step.shell ?? 'bash',
      working_directory: step.working_directory,
      env,
      timeoutMs: step.timeout === undefined ? undefined : parseDuration(step.timeout),
      continue_on_error: step.continue_on_error ?? false,
      outputs,
      on_failure,
      uses: step.uses,
      with: step.with,
      line
    })
  }

  /** The env as a map (list entries split at the first "="), its values' templates checked; undefined when malformed. */
  private env(raw: unknown, at: Path, scope: TemplateScope): Record<string, string> | undefined {
    const parsed = envSchema.safeParse(raw ?? {})
    if (!parsed.success) return undefined
    const env: Record<string, string> = {}
    if (Array.isArray(parsed.data)) {
      parsed.data.forEach((entry, i) => {
        const eq = entry.indexOf('=')
        env[entry.slice(0, eq)] = entry.slice(eq + 1)
        this.templates(entry, [...at, i], scope, eq + 1)
      })
    } else {
      for (const [name, value] of Object.entries(parsed.data)) {
        env[name] = String(value)
        if (typeof value === 'string') this.templates(value, [...at, name], scope)
      }
    }
    return env
  }

  private workingDirectory(dir: string, at: Path): void {
    const slashed = dir.replaceAll('\\', '/')
    if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) {
      this.error(at, `"working_directory" must be relative to the repository root, got ${JSON.stringify(dir)}`)
      return
    }
    const normalized = path.posix.normalize(slashed)
    if (normalized === '..' || normalized.startsWith('../')) {
      this.error(at, `"working_directory" must stay inside the repository, got ${JSON.stringify(dir)}`)
    }
  }

  private outputSource(name: string, source: string, at: Path): OutputSource | undefined {
    if (source === 'from_stdout') return { kind: 'stdout' }
    if (source === 'from_stderr') return { kind: 'stderr' }
    for (const [prefix, kind, example] of [
      ['from_file:', 'file', 'from_file:out/version.txt'],
      ['from_env:', 'env', 'from_env:VERSION']
    ] as const) {
      if (!source.startsWith(prefix)) continue
      const value = source.slice(prefix.length).trim()
      if (value === '' || (kind === 'env' && /[\s=]/.test(value))) {
        this.error(at, `output "${name}": ${prefix} needs a ${kind === 'file' ? 'path' : 'name'}, as in ${example}`)
        return undefined
      }
      return kind === 'file' ? { kind, path: value } : { kind, name: value }
    }
    const why = regexProblem(source)
    if (why !== undefined) {
      this.error(at, `output "${name}": ${JSON.stringify(source)} is not a valid RE2 regular expression (${why})`)
      return undefined
    }
    const groups = regexGroups(source)
    if (groups === 1) return { kind: 'regex', pattern: source }
    if (groups === 0) {
      const hint = didYouMean(source, ['from_stdout', 'from_stderr'])
      this.error(at, `output "${name}" must be ${OUTPUT_SOURCES}, got ${JSON.stringify(source)}${hint}`)
    } else {
      this.error(at, `output "${name}": the regular expression ${JSON.stringify(source)} must have exactly one capture group, it has ${groups}`)
    }
    return undefined
  }

  private uses(uses: string, args: unknown, at: Path): void {
    const where = [...at, 'uses']
    const atSign = uses.lastIndexOf('@')
    const name = atSign > 0 ? uses.slice(0, atSign) : uses
    const version = atSign > 0 ? uses.slice(atSign + 1) : undefined
    const names = BUILTINS.map((b) => b.name)
    const builtin = BUILTINS.find((b) => b.name === name)
    if (!builtin) {
      this.error(where, `unknown step ${JSON.stringify(uses)}${didYouMean(name, names)}; built-in steps: ${list(builtinSteps())}`)
      return
    }
    const { versions } = builtin
    if (version === undefined || !versions.includes(version)) {
      const what = version === undefined ? 'needs a version' : `has no version ${JSON.stringify(version)}`
      this.error(where, `${name} ${what}; available: ${list(versions)} (as in ${name}@${versions[versions.length - 1]})`)
      return
    }
    if (args === undefined || isPlainMap(args)) this.builtinWith(builtin, `${name}@${version}`, args, at)
  }

  /** A built-in's `with`: its schema (unknown keys with "did you mean", required keys, values known before the
      run), then its own checks. A value holding a `{{ }}` template is only known at run time. */
  private builtinWith(builtin: Builtin, uses: string, w: Record<string, unknown> | undefined, step: Path): void {
    const at = [...step, 'with']
    const args = w ?? {}
    const keys = Object.keys(builtin.withSchema.shape)
    for (const problem of withProblems(uses, builtin.withSchema, args, true)) {
      if (problem.at === 'key' && Object.hasOwn(args, problem.key))
        this.error([...at, problem.key], `${problem.message}${didYouMean(problem.key, keys)}`, 'key')
      else if (problem.at === 'key') this.error(w ? at : step, problem.message, w ? 'key' : 'value')
      else this.error([...at, problem.key], problem.message)
    }
    builtin.check?.(args, {
      known: (key) => Object.hasOwn(args, key) && !isTemplated(args[key]),
      error: (key, message) => this.error([...at, key], message),
      warn: (key, message) => this.warn([...at, key], message),
      version: (key) => this.version(args[key], [...at, key]),
      artifacts: this.artifacts,
      produced: this.produced,
      didYouMean,
      list
    })
  }

  private version(value: unknown, at: Path): void {
    if ((typeof value !== 'string' && typeof value !== 'number') || toVersion(this.written(value, at)) === null) {
      this.error(at, `"schema_version" must be a version like 1.2.0, got ${describeValue(value)}`)
    }
  }

  private subscription(sub: Record<string, unknown>, at: Path, workflowNames: string[]): SubscriptionSpec | undefined {
    if (typeof sub.filter === 'string') this.expression(sub.filter, [...at, 'filter'], 'filter')
    if (Array.isArray(sub.filters)) {
      sub.filters.forEach((filter, i) => typeof filter === 'string' && this.expression(filter, [...at, 'filters', i], 'filter'))
    }
    if (sub.filter !== undefined && sub.filters !== undefined) {
      const second = this.offset([...at, 'filter'], 'key') > this.offset([...at, 'filters'], 'key') ? 'filter' : 'filters'
      this.error([...at, second], 'use either "filter" (one expression) or "filters" (a list), not both', 'key')
    }

    let schemaVersion: string | undefined
    if (typeof sub.schema_version === 'string' || typeof sub.schema_version === 'number') {
      try {
        schemaVersion = normalizeRange(this.written(sub.schema_version, [...at, 'schema_version']))
      } catch (error) {
        this.error([...at, 'schema_version'], (error as Error).message)
      }
    }

    const workflow = typeof sub.workflow === 'string' ? sub.workflow : undefined
    if (workflow !== undefined && !workflowNames.includes(workflow)) {
      const available = workflowNames.length ? `; workflows: ${list(workflowNames)}` : '; this file defines no workflows'
      this.error([...at, 'workflow'], `workflow "${workflow}" is not defined in this file${didYouMean(workflow, workflowNames)}${available}`)
    }
    const target = workflow === undefined ? undefined : this.inputsOf.get(workflow)
    const mapped = isPlainMap(sub.inputs) ? sub.inputs : {}
    for (const [name, value] of Object.entries(mapped)) {
      if (typeof value === 'string') this.templates(value, [...at, 'inputs', name], { kind: 'subscription' })
      if (target && !target.declared.includes(name)) {
        const which = target.declared.length ? `declared: ${list(target.declared)}` : 'it declares no inputs'
        this.error([...at, 'inputs', name], `input "${name}" is not declared by workflow "${workflow}"${didYouMean(name, target.declared)} (${which})`, 'key')
      }
      const spec = target?.specs[name]
      if (spec) this.literalInput(value, spec, name, workflow!, [...at, 'inputs', name])
      if (workflow !== undefined && typeof value === 'string' && /\{\{[^}]*\.(event|Event)\b/.test(value)) this.eventMappedInput(workflow, name, at)
    }
    for (const name of target && (sub.inputs === undefined || isPlainMap(sub.inputs)) ? target.required : []) {
      if (!Object.hasOwn(mapped, name)) {
        this.warn([...at, 'workflow'], `workflow "${workflow}" requires input "${name}", which this subscription does not map in "inputs"`)
      }
    }

    const parsed = subscriptionSchema.safeParse(sub)
    if (!parsed.success) return undefined
    const { artifact, events, filter, filters, inputs, runs_on } = parsed.data
    const colon = artifact.indexOf(':')
    return compact({
      repository: colon === -1 ? artifact : artifact.slice(0, colon),
      artifact: colon === -1 ? 'default' : artifact.slice(colon + 1),
      events: events.map((e) => (typeof e === 'string' ? e : e.type)),
      schema_version: schemaVersion,
      filters: filter === undefined ? (filters ?? []) : [filter, ...(filters ?? [])],
      workflow: parsed.data.workflow,
      inputs: Object.fromEntries(Object.entries(inputs ?? {}).map(([name, value]) => [name, String(value)])),
      runs_on,
      line: this.line(at)
    })
  }

  /** A subscription input written as a plain value is checked now against the input's type, not when an event comes. */
  private literalInput(value: unknown, spec: InputSpec, name: string, workflow: string, at: Path): void {
    if (typeof value === 'string' && value.includes('{{')) return
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return
    try {
      coerceInput(name, spec, value)
    } catch (error) {
      const problem = (error as Error).message.replace(`input "${name}": `, '')
      this.error(at, `input "${name}" of workflow "${workflow}" is a ${spec.type}: ${problem}`)
    }
  }

  /** Every unquoted `.inputs.<name>` in a `run` of `workflow` carries the event's text into bash: warn there. */
  private eventMappedInput(workflow: string, name: string, subscription: Path): void {
    for (const use of this.runInputs.filter((u) => u.workflow === workflow && u.name === name)) {
      this.warn(
        use.at,
        `${use.written} is interpolated into run without | shell_quote, and subscription at line ${this.line(subscription)} maps it from the event; read it from $${inputEnvName(name)} or quote it`,
        use.offset
      )
    }
    // Warned once per use, however many subscriptions map it.
    this.runInputs.splice(0, this.runInputs.length, ...this.runInputs.filter((u) => !(u.workflow === workflow && u.name === name)))
  }

  /** Names an `if:` reads must exist where it stands: declared inputs, and steps that ran before it. */
  private conditionNames(source: string, at: Path, scope: WorkflowScope): void {
    for (const { root, name, offset } of namesInExpression(source)) {
      if (root === 'inputs' && !scope.inputs.includes(name)) {
        const declared = scope.inputs.length ? `declared: ${list(scope.inputs)}` : 'it declares no inputs'
        this.error(at, `"inputs.${name}" in if: workflow "${scope.workflow}" has no input "${name}"${didYouMean(name, scope.inputs)} (${declared})`, offset)
      } else if (root === 'steps' && !scope.steps.has(name)) {
        this.error(at, `"steps.${name}" in if: workflow "${scope.workflow}" has no step "${name}"${didYouMean(name, scope.steps)}`, offset)
      } else if (root === 'steps' && !scope.before.has(name)) {
        this.error(at, `"steps.${name}" in if: step "${name}" does not run before this point`, offset)
      }
    }
  }

  private expression(source: string, at: Path, kind: 'if' | 'filter'): boolean {
    try {
      compileExpression(source, kind)
      return true
    } catch (error) {
      this.error(at, (error as Error).message)
      return false
    }
  }

  private deepTemplates(value: unknown, at: Path, scope: TemplateScope): void {
    if (typeof value === 'string') this.templates(value, at, scope)
    else if (Array.isArray(value)) value.forEach((item, i) => this.deepTemplates(item, [...at, i], scope))
    else if (isPlainMap(value)) for (const [key, item] of Object.entries(value)) this.deepTemplates(item, [...at, key], scope)
  }

  /** Static template check of the string at `at`; `shift` is where the checked text starts inside that string. */
  private templates(text: string, at: Path, scope: TemplateScope, shift = 0): void {
    const checked = checkTemplate(text.slice(shift))
    for (const problem of checked.problems) this.error(at, problem.message, shift + problem.offset)
    for (const ref of checked.refs) {
      const offset = shift + ref.offset
      const written = ref.raw.slice(2, -2).split('|')[0].trim()
      if (scope.kind === 'subscription') {
        if (ref.root === 'inputs' || ref.root === 'steps') {
          this.error(at, `"${ref.raw}" cannot be used in subscription inputs, which can refer to .event, .env, .run_id and .repository`, offset)
        }
        continue
      }
      const [name] = ref.path
      if (scope.run && ref.filters.includes('shell_quote') && insideDoubleQuotes(text, offset)) {
        this.warn(
          at,
          `${written} | shell_quote stands inside "…": bash does not read the quotes it adds there, so the value is unquoted again; remove the surrounding double quotes`,
          offset
        )
      }
      if (scope.run && ref.root === 'inputs' && !ref.filters.includes('shell_quote'))
        this.runInputs.push({ workflow: scope.workflow, name, at, offset, written })
      if (ref.root === 'inputs' && !ref.hasDefault && !scope.inputs.includes(name)) {
        const declared = scope.inputs.length ? `declared: ${list(scope.inputs)}` : 'it declares no inputs'
        this.error(
          at,
          `"${ref.raw}" refers to input "${name}", which workflow "${scope.workflow}" does not declare${didYouMean(name, scope.inputs)} (${declared})`,
          offset
        )
      } else if (ref.root === 'steps' && !scope.steps.has(name)) {
        this.error(at, `"${ref.raw}" refers to step "${name}", which does not exist in workflow "${scope.workflow}"${didYouMean(name, scope.steps)}`, offset)
      } else if (ref.root === 'steps' && !scope.before.has(name)) {
        this.error(at, `"${ref.raw}" refers to step "${name}", which does not run before this point`, offset)
      } else if (ref.root === 'event' && scope.run && !ref.filters.includes('shell_quote')) {
        const variable = ref.path[0] === 'type' ? 'TAKO_EVENT_TYPE' : ref.path[0] === 'source' ? 'TAKO_EVENT_SOURCE' : 'TAKO_EVENT_PAYLOAD'
        this.warn(at, `${written} is interpolated into run without | shell_quote; read it from $${variable} or quote it`, offset)
      }
    }
  }

  // ---- zod issues

  private zodIssue(issue: FlatIssue, raw: unknown): void {
    const at = issue.path
    const key = at[at.length - 1]
    const label = at.length === 0 ? 'the file' : typeof key === 'number' ? `item ${key + 1} of "${String(at[at.length - 2])}"` : `"${key}"`
    const input = valueAt(raw, at)
    const custom = issue.message.startsWith('must ') ? `${label} ${issue.message}` : undefined
    const misplaced = this.misplacedSteps(at, raw, input)
    if (misplaced) return this.error(at.slice(0, 2), misplaced, 'key')
    switch (issue.code) {
      case 'missing':
        return this.error(at.slice(0, -1), `missing required key "${String(key)}"`, 'key')
      case 'unrecognized_keys': {
        const allowed = allowedKeys(at, raw)
        for (const unknown of issue.keys ?? []) {
          // Past the listed problems only counted: no suggestion computed for the 60,000th unknown key.
          if (!this.listFull('error')) this.issue('error', this.offset([...at, unknown], 'key'), `unknown key "${unknown}"${didYouMean(unknown, allowed)}`)
        }
        return
      }
      case 'invalid_type':
        return this.error(at, custom ?? `${label} must be ${typeName(issue.expected)}, got ${describeValue(input)}`)
      case 'invalid_value':
        return this.error(at, `${label} must be one of ${list((issue.values ?? []).map(String))}, got ${describeValue(input)}`)
      case 'too_small':
        return this.error(at, Array.isArray(input) ? `${label} must not be empty` : `${label} must be at least ${String(issue.minimum)}`)
      case 'invalid_key':
        return this.error(at, issue.message, 'key')
      default:
        return this.error(at, custom ?? (/^(Invalid|Too) /.test(issue.message) ? `${label} is invalid: ${issue.message}` : issue.message))
    }
  }

  /**
   * A `steps:` dedented to the level of workflow names is read as a workflow called "steps" and leaves its own
   * workflow without steps: one message that says so, rather than "must be a map" and "missing key".
   */
  private misplacedSteps(at: Path, raw: unknown, input: unknown): string | undefined {
    if (at[0] !== 'workflows' || !Array.isArray(valueAt(raw, ['workflows', 'steps']))) return undefined
    const line = this.line(['workflows', 'steps'], 'key')
    if (at.length === 2 && at[1] === 'steps')
      return `"steps" at line ${line} is at the level of workflow names, so it reads as a workflow called "steps": indent it under its workflow`
    const name = String(at[1])
    const stepless = (at.length === 3 && at[2] === 'steps') || (at.length === 2 && (input === null || input === undefined))
    return stepless ? `workflow "${name}" has no "steps"; the "steps" at line ${line} looks misplaced: indent it under "${name}"` : undefined
  }

  // ---- positions

  private error(at: Path, message: string, where: 'key' | 'value' | number = 'value'): void {
    if (!this.listFull('error')) this.issue('error', this.offset(at, where), message)
  }

  private warn(at: Path, message: string, where: 'key' | 'value' | number = 'value'): void {
    if (!this.listFull('warning')) this.issue('warning', this.offset(at, where), message)
  }

  /** True (and counted) when no more problems are listed. */
  private listFull(severity: ConfigIssue['severity']): boolean {
    if (this.issues.length < MAX_ISSUES) return false
    if (severity === 'error') this.unlisted.errors++
    else this.unlisted.warnings++
    return true
  }

  private fail(offset: number, message: string): undefined {
    this.issue('error', offset, message)
    return undefined
  }

  private issue(severity: ConfigIssue['severity'], offset: number, message: string): void {
    if (this.listFull(severity)) return
    const { line, col } = this.position(offset)
    const text = message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}… (cut)` : message
    this.issues.push({ file: this.file, line, col, message: text, severity })
  }

  /** 1-based line and column; counted by hand for problems found before the YAML parser has seen the text. */
  private position(offset: number): { line: number; col: number } {
    if (this.lines.lineStarts.length > 0) return this.lines.linePos(offset)
    const before = this.text.slice(0, offset)
    return { line: before.split('\n').length, col: offset - before.lastIndexOf('\n') }
  }

  private line(at: Path, where: 'key' | 'value' = 'value'): number {
    return this.position(this.offset(at, where)).line
  }

  /** Offset of the node at `at` (its key with 'key', a position inside a scalar with a number), else of the
      deepest node that exists on the way, so a missing key points at its parent map. */
  private offset(at: Path, where: 'key' | 'value' | number = 'value'): number {
    const { key, value, nearest } = this.nodeAt(at)
    if (where === 'key' && key) return key.range?.[0] ?? 0
    if (typeof where === 'number' && isScalar(value) && typeof value.value === 'string' && value.range) {
      return value.range[0] + scalarOffset(this.text.slice(value.range[0], value.range[1]), value.value, where)
    }
    return (value ?? key ?? nearest)?.range?.[0] ?? 0
  }

  private nodeAt(at: Path): { key?: Node; value?: Node; nearest?: Node } {
    let current: unknown = this.doc.contents
    let key: Node | undefined
    let nearest: Node | undefined
    for (const segment of at) {
      if (isAlias(current)) current = current.resolve(this.doc)
      if (!isCollection(current)) return { nearest }
      nearest = current
      if (isMap(current)) {
        const pair = this.pairs(current).get(String(segment))
        if (!pair) return { nearest }
        key = pair.key as Node
        current = pair.value
      } else if (isSeq(current) && typeof segment === 'number') {
        current = current.items[segment]
        key = undefined
      } else return { nearest }
    }
    if (isAlias(current)) current = current.resolve(this.doc)
    return { key, value: (current ?? undefined) as Node | undefined, nearest }
  }

  /** A key written twice in one map (`a` and `"a"` alike; `<<` merges may repeat), in one pass over the document. */
  private duplicateKeys(): void {
    visit(this.doc, {
      Map: (_, map) => {
        const seen = new Set<string>()
        for (const pair of map.items) {
          if (!isScalar(pair.key) || pair.key.value === '<<') continue
          const key = String(pair.key.value)
          if (!seen.has(key)) seen.add(key)
          else if (!this.listFull('error')) this.issue('error', pair.key.range?.[0] ?? 0, `duplicate key ${JSON.stringify(key)}`)
        }
      }
    })
  }

  private pairs(map: YAMLMap): Map<string, Pair> {
    let byKey = this.pairsByKey.get(map)
    if (!byKey) {
      byKey = new Map()
      for (const p of map.items) {
        // The first pair of a key, as a lookup in the parsed value finds it.
        if (isScalar(p.key) && !byKey.has(String(p.key.value))) byKey.set(String(p.key.value), p as Pair)
      }
      this.pairsByKey.set(map, byKey)
    }
    return byKey
  }

  /** A scalar as written: a number keeps its text (`1.10` stays "1.10" where the parsed number is 1.1). */
  private written(value: string | number, at: Path): string {
    if (typeof value === 'string') return value
    const { value: node } = this.nodeAt(at)
    if (isScalar(node) && node.range && node.type === 'PLAIN') return this.text.slice(node.range[0], node.range[1])
    return String(value)
  }
}

/** Steps (as written, possibly malformed) with their ids and paths; handlers get `<step id>-on-failure-<n>` by default. */
function planSteps(steps: unknown[], at: Path, defaultId: (i: number) => string): PlannedStep[] {
  return steps.map((raw, i) => {
    const explicitId = isPlainMap(raw) && typeof raw.id === 'string'
    const id = explicitId ? (raw.id as string) : defaultId(i)
    const stepPath = [...at, i]
    const handlers = isPlainMap(raw) && Array.isArray(raw.on_failure) ? raw.on_failure : []
    return { raw, path: stepPath, id, explicitId, handlers: planSteps(handlers, [...stepPath, 'on_failure'], (j) => `${id}-on-failure-${j + 1}`) }
  })
}

interface FlatIssue {
  code: string
  path: Path
  message: string
  keys?: string[]
  expected?: string
  values?: unknown[]
  minimum?: unknown
}

/** zod issues with union failures resolved to the branch that fits the value's kind, and absent keys as 'missing'. */
function flatten(issues: readonly z.core.$ZodIssue[], base: Path, raw: unknown): FlatIssue[] {
  const out: FlatIssue[] = []
  for (const issue of issues) {
    const at = [...base, ...(issue.path as Path)]
    const parent = valueAt(raw, at.slice(0, -1))
    const absent = at.length > 0 && isPlainMap(parent) && !Object.hasOwn(parent, at[at.length - 1])
    if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && absent) {
      out.push({ code: 'missing', path: at, message: issue.message })
    } else if (issue.code === 'invalid_union') {
      const wrongKind = (branch: readonly z.core.$ZodIssue[]) => branch.length === 1 && branch[0].code === 'invalid_type' && branch[0].path.length === 0
      const fitting = issue.errors.filter((branch) => !wrongKind(branch))
      if (fitting.length > 0) {
        out.push(
          ...flatten(
            fitting.reduce((a, b) => (b.length < a.length ? b : a)),
            at,
            raw
          )
        )
      } else {
        const expected = issue.errors.map((branch) => typeName((branch[0] as { expected?: string }).expected))
        const message = issue.message.startsWith('must ')
          ? issue.message
          : `must be ${[...new Set(expected)].join(' or ')}, got ${describeValue(valueAt(raw, at))}`
        out.push({ code: 'invalid_type', path: at, message })
      }
    } else if (issue.code === 'invalid_key') {
      out.push({ code: issue.code, path: at, message: issue.issues[0]?.message ?? issue.message })
    } else {
      const extra = issue as unknown as Omit<FlatIssue, 'path'>
      out.push({ ...extra, code: issue.code, path: at, message: issue.message })
    }
  }
  return out
}

function typeName(expected: string | undefined): string {
  switch (expected) {
    case 'object':
    case 'record':
    case 'map':
      return 'a map'
    case 'array':
      return 'a list'
    case 'boolean':
      return 'true or false'
    case 'number':
    case 'int':
      return 'a number'
    default:
      return `a ${expected ?? 'value'}`
  }
}

/** Keys allowed by the strict object of the schema at `at` (for did-you-mean). */
function allowedKeys(at: Path, raw: unknown): string[] {
  let schema: z.ZodType | undefined = takoFileSchema
  let value = raw
  for (let i = 0; ; i++) {
    schema = unwrap(schema, value)
    if (i === at.length || !schema) break
    const segment = at[i]
    value = valueAt(value, [segment])
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(segment)]
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType
    else return []
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : []
}

function unwrap(schema: z.ZodType | undefined, value: unknown): z.ZodType | undefined {
  let current = schema
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable) current = current.unwrap() as z.ZodType
    else if (current instanceof z.ZodUnion) {
      const options = current.options as z.ZodType[]
      current = options.find((o) => unwrap(o, undefined) instanceof z.ZodObject === isPlainMap(value)) ?? options[0]
    } else return current
  }
}

function valueAt(raw: unknown, at: Path): unknown {
  let current = raw
  for (const segment of at) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string | number, unknown>)[segment]
  }
  return current
}

/** Where `offset` of a scalar's value falls in its source text: exact for plain and simply quoted scalars, by
    matching the text around it for block scalars; the scalar's start when it cannot be told. */
function scalarOffset(source: string, value: string, offset: number): number {
  if (source === value) return offset
  if (/^["']/.test(source) && source.slice(1, -1) === value) return offset + 1
  // A one-line single-quoted scalar writes each ' as '': walk both to where the value's offset stands in the source.
  if (source.startsWith("'") && !source.includes('\n')) {
    let s = 1
    for (let v = 0; v < offset && s < source.length; v++) s += source.startsWith("''", s) ? 2 : 1
    return s
  }
  const lineEnd = value.indexOf('\n', offset)
  const snippet = value.slice(offset, lineEnd === -1 ? undefined : lineEnd).slice(0, 40)
  if (!snippet) return 0
  let nth = 0
  for (let i = value.indexOf(snippet); i !== -1 && i < offset; i = value.indexOf(snippet, i + 1)) nth++
  let found = source.indexOf(snippet)
  for (; found !== -1 && nth > 0; nth--) found = source.indexOf(snippet, found + 1)
  return found === -1 ? 0 : found
}

/** Offset where the raw text first has more than MAX_BRACKETS unclosed `[`/`{`, if it does. */
function unclosedBracketOffset(text: string): number | undefined {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '[' || c === '{') {
      if (++depth > MAX_BRACKETS) return i
    } else if ((c === ']' || c === '}') && depth > 0) depth--
  }
  return undefined
}

/** Paths of `__proto__` keys, which zod records skip silently and which must never reach a model object. */
function protoKeys(raw: unknown): Path[] {
  const found: Path[] = []
  const stack: [unknown, Path][] = [[raw, []]]
  while (stack.length > 0) {
    const [value, at] = stack.pop()!
    if (Array.isArray(value)) value.forEach((item, i) => stack.push([item, [...at, i]]))
    else if (isPlainMap(value)) {
      for (const key of Object.keys(value)) {
        if (key === '__proto__') found.push([...at, key])
        else stack.push([value[key], [...at, key]])
      }
    }
  }
  return found
}

/** The first node deeper than MAX_DEPTH, walked without recursion. */
function tooDeep(root: unknown): Node | undefined {
  const stack: [unknown, number][] = [[root, 0]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (!isCollection(node)) continue
    if (depth >= MAX_DEPTH) return node
    for (const item of node.items) {
      if (isMap(node)) {
        const pair = item as { key: unknown; value: unknown }
        stack.push([pair.key, depth + 1], [pair.value, depth + 1])
      } else stack.push([item, depth + 1])
    }
  }
  return undefined
}

function firstAlias(doc: Document): Node | undefined {
  let found: Node | undefined
  visit(doc, {
    Alias: (_, node) => {
      found = node
      return visit.BREAK
    }
  })
  return found
}

/** Drops undefined fields so models compare and print cleanly. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
