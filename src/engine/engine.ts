// The engine's front: load and check a run, wire runner + fan-out, execute or plan it, return the run report.

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pLimit from 'p-limit'
import type { ConfigIssue, InputValue, TakoConfig, WorkflowSpec } from '../config/types.js'
import { loadConfig } from '../config/load.js'
import { UsageError } from './errors.js'
import { resolveInputs } from './inputs.js'
import { git } from './git.js'
import { renderDeep } from './template.js'
import { stringEnv } from './process-groups.js'
import { WorkflowRunner, applyWorkflowEnv, messageOf } from './workflow-runner.js'
import { ScriptExecutor } from './script-executor.js'
import { FanOutExecutor, parseFanOutWith, type PlannedChild } from './builtins/fan-out.js'
import { builtinExecutors, builtinFor } from './builtins/index.js'
import { previewPullRequest, type PullRequestPreview } from './builtins/pull-request.js'
import { pushOnlyDelivery, type Delivery } from './builtins/pull-request-api.js'
import { currentBranch, inWorkspace } from './builtins/pull-request-git.js'
import { ChildRunnerFactory } from './child-runner-factory.js'
import { ChildWorkflowExecutor } from './child-workflow-executor.js'
import { Discovery } from './discovery.js'
import { CancelReason, TEMP_DIR, newRunId, type RunObserver, type RunScope, type TreeState } from './run-scope.js'
import type { RepositorySource } from './repository-source.js'
import { WorkspaceReaper } from './reaper.js'
import type { ChildDispatcher, ChildMode } from './child-dispatcher.js'
import type { StepExecutor } from './step-executor.js'
import type { ChildReport, RunContext, RunReport, TakoEvent } from './types.js'


export interface RunOptions {
  /** Repository checkout the root workflow runs in. */
  root: string
  configPath?: string
  workflow: string
  /** Raw inputs as given (strings from the command line, or typed values). */
  inputs: Record<string, InputValue>
  /** `owner/repo` of the emitting repository; else the `origin` remote of `root`. */
  source?: string
  repositorySource: RepositorySource
  /** Run root: children go to <runRoot>/children/<id>. Created when missing. */
  runRoot: string
  cacheDir?: string
  maxConcurrency?: number
  maxDepth?: number
  keepWorkspaces?: 'all' | 'failed' | 'none'
  observer?: RunObserver
  signal?: AbortSignal
  runId?: string
  /** Outcomes of an earlier attempt to reuse, keyed by childFingerprint(). */
  reuse?: Map<string, ChildReport>
  /** Environment every step starts from (default: this process's). */
  baseEnv?: NodeJS.ProcessEnv
  /** The event that triggered this run, when it is itself a (dispatched) child run. */
  event?: TakoEvent
  /** Where children run by default; `dispatch` needs a dispatcher. */
  mode?: ChildMode
  dispatcher?: ChildDispatcher
  /** How tako/pull-request@v1 pushes and proposes (default: push with git's own credentials, no pull request). */
  delivery?: Delivery
}

export interface PreparedRun {
  config: TakoConfig
  configPath: string
  workflow: WorkflowSpec
  inputs: Record<string, InputValue>
  warnings: ConfigIssue[]
  source: string
}

/** Loads the file, finds the workflow and resolves inputs; throws ConfigError, UsageError or InputError. */
export async function prepareRun(opts: Pick<RunOptions, 'root' | 'configPath' | 'workflow' | 'inputs' | 'source'>): Promise<PreparedRun> {
  const { config, warnings, path: configPath } = await loadConfig({ root: opts.root, configPath: opts.configPath })
  const workflow = config.workflows[opts.workflow]
  if (!workflow) {
    const names = Object.keys(config.workflows)
    throw new UsageError(`${configPath}: no workflow "${opts.workflow}" (available: ${names.join(', ') || 'none'})`)
  }
  const inputs = resolveInputs(opts.workflow, workflow.inputs, opts.inputs)
  const source = opts.source ?? (await originRepository(opts.root)) ?? `local/${path.basename(path.resolve(opts.root))}`
  return { config, configPath, workflow, inputs, warnings, source }
}

/** `owner/repo` from the origin remote URL (https, ssh or scp-like), if there is one. */
export async function originRepository(root: string): Promise<string | undefined> {
  const res = await git(['remote', 'get-url', 'origin'], { cwd: root }).catch(() => undefined)
  if (!res || res.code !== 0) return undefined
  const url = res.stdout.toString('utf8').trim().replace(/\.git$/, '').replace(/\/$/, '')
  const m = /[:/]([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(url)
  return m ? `${m[1]}/${m[2]}` : undefined
}

export async function makeRunRoot(given?: string): Promise<{ runRoot: string; created: boolean }> {
  if (given) {
    await mkdir(given, { recursive: true })
    return { runRoot: path.resolve(given), created: false }
  }
  return { runRoot: await mkdtemp(path.join(os.tmpdir(), 'tako-')), created: true }
}

interface Wired {
  tree: TreeState
  runner: WorkflowRunner
  fanOut: FanOutExecutor
  rootScope: RunScope
}

async function wire(prepared: PreparedRun, opts: RunOptions): Promise<Wired> {
  const runRoot = path.resolve(opts.runRoot)
  const cacheDir = path.resolve(opts.cacheDir ?? path.join(runRoot, 'cache'))
  const rootTemp = path.join(runRoot, TEMP_DIR, 'root')
  await mkdir(cacheDir, { recursive: true })
  await mkdir(rootTemp, { recursive: true })
  const tree: TreeState = {
    runId: opts.runId ?? newRunId(),
    runRoot,
    cacheDir,
    stepSlots: pLimit(opts.maxConcurrency ?? 4),
    checkoutSlots: pLimit(Math.max(4, opts.maxConcurrency ?? 4)),
    observer: opts.observer ?? {},
    children: [],
    discovery: [],
    // The file's own warnings are the front doors' to show (the CLI prints them, the action annotates the file).
    warnings: [],
    maxDepth: opts.maxDepth ?? 10,
    childIds: new Map(),
    keepWorkspaces: opts.keepWorkspaces ?? 'failed',
    reuse: opts.reuse,
    baseEnv: opts.baseEnv,
    reaper: new WorkspaceReaper(),
    defaultMode: opts.mode ?? 'local',
    dispatcher: opts.dispatcher
  }
  const executors: Record<string, StepExecutor> = { run: new ScriptExecutor() }
  const runner = new WorkflowRunner(executors)
  const children = new ChildWorkflowExecutor({ source: opts.repositorySource, factory: new ChildRunnerFactory(tree), runner })
  Object.assign(executors, builtinExecutors({ discovery: new Discovery(opts.repositorySource), children, delivery: opts.delivery ?? pushOnlyDelivery }))
  const fanOut = executors['tako/fan-out@v1'] as FanOutExecutor
  const rootScope: RunScope = {
    tree,
    config: prepared.config,
    label: { id: '', repository: prepared.source, workflow: prepared.workflow.name },
    workspace: path.resolve(opts.root),
    tempDir: rootTemp,
    ancestors: [{ repository: prepared.source, workflow: prepared.workflow.name }],
    depth: 0,
    background: []
  }
  return { tree, runner, fanOut, rootScope }
}

/** Runs the prepared workflow and its whole tree; never throws for a failing step. */
export async function executeRun(prepared: PreparedRun, opts: RunOptions): Promise<RunReport> {
  const startedAt = new Date()
  const { tree, runner, rootScope } = await wire(prepared, opts)
  const signal = opts.signal ?? new AbortController().signal
  let status: RunReport['status'] = 'failure'
  let error: string | undefined
  let steps: RunReport['steps'] = []
  try {
    const result = await runner.run({ config: prepared.config, workflow: prepared.workflow, inputs: prepared.inputs, scope: rootScope, event: opts.event, signal })
    steps = result.steps
    status = result.status === 'success' ? 'success' : signal.aborted && signal.reason instanceof CancelReason ? 'cancelled' : 'failure'
    if (result.failure) error = result.failure.step ? `step "${result.failure.step}": ${result.failure.message}` : result.failure.message
  } catch (e) {
    error = messageOf(e)
  } finally {
    await tree.reaper.drain()
    await rm(path.join(tree.runRoot, TEMP_DIR), { recursive: true, force: true })
  }
  return runReport(prepared, tree, startedAt, { status, steps, error })
}

function runReport(
  prepared: PreparedRun,
  tree: TreeState,
  startedAt: Date,
  outcome: { status: RunReport['status']; steps: RunReport['steps']; error?: string }
): RunReport {
  const report: RunReport = {
    version: 1,
    run_id: tree.runId,
    status: outcome.status,
    started_at: startedAt.toISOString(),
    duration_ms: Date.now() - startedAt.getTime(),
    source: prepared.source,
    workflow: prepared.workflow.name,
    inputs: prepared.inputs,
    steps: outcome.steps,
    discovery: tree.discovery,
    children: tree.children,
    warnings: tree.warnings
  }
  if (outcome.error) report.error = outcome.error
  const proposed = tree.pullRequests?.get('')
  if (proposed?.length) report.pull_requests = proposed
  return report
}

export interface FanOutPlan {
  step: string
  event?: TakoEvent
  /** Payload keys that depend on earlier steps' outputs and cannot be known before the run. */
  unresolved: string[]
  error?: string
  children: PlannedChild[]
}

export interface RunPlan {
  runId: string
  source: string
  workflow: string
  inputs: Record<string, InputValue>
  steps: Array<{ id: string; kind: string; if?: string }>
  fanOuts: FanOutPlan[]
  /** The pull requests the root run and the planned children would propose. */
  pullRequests: PullRequestPreview[]
  report: RunReport
}

/** Dry run: what would run, with the discovery verdict of every candidate of the root's fan-outs. Runs nothing. */
export async function planRun(prepared: PreparedRun, opts: RunOptions): Promise<RunPlan> {
  const startedAt = new Date()
  const { tree, fanOut, rootScope } = await wire(prepared, opts)
  const signal = opts.signal ?? new AbortController().signal
  // The context the runner builds before the first step; step outputs are what cannot be known yet.
  const env = stringEnv(opts.baseEnv ?? process.env)
  const context: RunContext = { inputs: prepared.inputs, steps: {}, env, run_id: tree.runId, repository: prepared.source, event: opts.event }
  const fanOuts: FanOutPlan[] = []
  const pullRequests: PullRequestPreview[] = []
  try {
    applyWorkflowEnv(prepared.workflow, context)
    const rootBranch = (await currentBranch(inWorkspace(rootScope.workspace, signal))) ?? '(the checked-out branch)'
    for (const step of prepared.workflow.steps.filter((s) => builtinFor(s.uses)?.name === 'tako/pull-request')) {
      pullRequests.push(previewPullRequest(step, context, prepared.workflow.name, rootBranch))
    }
    for (const step of prepared.workflow.steps.filter((s) => builtinFor(s.uses)?.name === 'tako/fan-out')) {
      const raw = { ...(step.with ?? {}) }
      const payload: Record<string, unknown> = {}
      const unresolved: string[] = []
      for (const [key, value] of Object.entries((raw.payload ?? {}) as Record<string, unknown>)) {
        try {
          payload[key] = renderDeep(value, context, `step "${step.id}" payload ${key}`)
        } catch {
          unresolved.push(key)
        }
      }
      try {
        const { payload: _, ...rest } = raw
        const settings = parseFanOutWith({ ...(renderDeep(rest, context, `step "${step.id}" with`) as Record<string, unknown>), payload })
        const event: TakoEvent = { id: 'dry-run', type: settings.event_type, source: prepared.source, artifact: settings.artifact, schema_version: settings.schema_version, payload }
        const children = await fanOut.plan(event, rootScope, signal)
        fanOuts.push({ step: step.id, event, unresolved, children })
        for (const child of children.filter((c) => !c.blocked)) pullRequests.push(...childPullRequests(child, event, context))
      } catch (e) {
        fanOuts.push({ step: step.id, unresolved, error: messageOf(e), children: [] })
      }
    }
  } finally {
    await rm(path.join(tree.runRoot, TEMP_DIR), { recursive: true, force: true })
  }
  return {
    runId: tree.runId,
    source: prepared.source,
    workflow: prepared.workflow.name,
    inputs: prepared.inputs,
    steps: prepared.workflow.steps.map((s) => ({ id: s.id, kind: s.uses ?? 'run', if: s.if })),
    fanOuts,
    pullRequests,
    report: runReport(prepared, tree, startedAt, { status: 'success', steps: [] })
  }
}

/** The pull requests a planned child's workflow would propose; its base is the branch its checkout would have. */
function childPullRequests(child: PlannedChild, event: TakoEvent, parent: RunContext): PullRequestPreview[] {
  const workflow = child.config.workflows[child.match.subscription.workflow]
  if (!workflow) return []
  const context: RunContext = { inputs: {}, steps: {}, event, env: parent.env, run_id: parent.run_id, repository: child.candidate.repository }
  // The inputs the subscription would map from the event, as far as they can be known now.
  for (const [name, template] of Object.entries(child.match.subscription.inputs)) {
    try {
      context.inputs[name] = renderDeep(template, context, `subscription input "${name}"`) as string
    } catch {
      // Known only at run time: previewed as written.
    }
  }
  const base = child.candidate.ref || '(its default branch)'
  return workflow.steps.filter((s) => builtinFor(s.uses)?.name === 'tako/pull-request').map((s) => previewPullRequest(s, context, workflow.name, base))
}
