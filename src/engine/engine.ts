// The engine's front: load and check a run, wire runner + fan-out, execute or plan it, return the run report.

import { mkdir, mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pLimit from 'p-limit'
import type { ConfigIssue, InputValue, TakoConfig, WorkflowSpec } from '../config/types.js'
import { loadConfig } from '../config/load.js'
import { UsageError } from './errors.js'
import { resolveInputs } from './inputs.js'
import { renderSubscriptionInputs, subscriptionFor } from './event-input.js'
import { didYouMean } from '../config/suggest.js'
import { git } from './git.js'
import { stringEnv } from './process-groups.js'
import { WorkflowRunner, messageOf } from './workflow-runner.js'
import { ScriptExecutor } from './script-executor.js'
import { FanOutExecutor } from './builtins/fan-out.js'
import { builtinExecutors, builtinFor } from './builtins/index.js'
import { previewPullRequest, type PullRequestPreview } from './builtins/pull-request.js'
import { pushOnlyDelivery, type Delivery } from './builtins/pull-request-api.js'
import { currentBranch, inWorkspace } from './builtins/pull-request-git.js'
import { planErrors, planFanOuts, planJson, type ChildPlan, type FanOutPlan } from './plan.js'
import { renderDeep } from './template.js'
import { ChildRunnerFactory } from './child-runner-factory.js'
import { ChildWorkflowExecutor } from './child-workflow-executor.js'
import { Discovery } from './discovery.js'
import { CancelReason, newRunId, type RunObserver, type RunScope, type TreeState } from './run-scope.js'
import type { RepositorySource } from './repository-source.js'
import { WorkspaceReaper } from './reaper.js'
import { createScratch, removeScratch } from './scratch.js'
import { makeDirectory } from './directories.js'
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
  /** Every warning (invalid subscriber, filter error, no candidates, the file's own) fails the run. */
  strict?: boolean
}

export interface PreparedRun {
  config: TakoConfig
  configPath: string
  workflow: WorkflowSpec
  inputs: Record<string, InputValue>
  warnings: ConfigIssue[]
  source: string
  /** How an `--event` run got its inputs (which subscription mapped them, or why none did). */
  note?: string
}

/**
 * Loads the file, finds the workflow and resolves inputs; throws ConfigError, UsageError or InputError. With an
 * `event` and `mapEvent`, the subscription that maps the event to this workflow supplies inputs, as in a child run;
 * inputs given explicitly win over mapped ones.
 */
export async function prepareRun(
  opts: Pick<RunOptions, 'root' | 'configPath' | 'workflow' | 'inputs' | 'source' | 'runId'> & { event?: TakoEvent; subscription?: number }
): Promise<PreparedRun> {
  const { config, warnings, path: configPath } = await loadConfig({ root: opts.root, configPath: opts.configPath })
  const workflow = config.workflows[opts.workflow]
  if (!workflow) {
    const names = Object.keys(config.workflows)
    throw new UsageError(`${configPath}: no workflow "${opts.workflow}"${didYouMean(opts.workflow, names)} (available: ${names.join(', ') || 'none'})`)
  }
  const source = opts.source ?? (await originRepository(opts.root)) ?? `local/${path.basename(path.resolve(opts.root))}`
  let given = opts.inputs
  let note: string | undefined
  if (opts.event) {
    const found = subscriptionFor(config, opts.workflow, opts.event, opts.subscription)
    note = `event ${opts.event.type} from ${opts.event.source}: ${found.note}`
    if (found.subscription) {
      const mapped = renderSubscriptionInputs(found.subscription, opts.event, {
        env: stringEnv(process.env),
        runId: opts.runId ?? newRunId(),
        repository: source
      })
      given = { ...mapped, ...opts.inputs }
    }
  }
  const inputs = resolveInputs(opts.workflow, workflow.inputs, given)
  return { config, configPath, workflow, inputs, warnings, source, ...(note ? { note } : {}) }
}

/** `owner/repo` from the origin remote URL (https, ssh or scp-like), if there is one. */
export async function originRepository(root: string): Promise<string | undefined> {
  const res = await git(['remote', 'get-url', 'origin'], { cwd: root }).catch(() => undefined)
  if (!res || res.code !== 0) return undefined
  const url = res.stdout
    .toString('utf8')
    .trim()
    .replace(/\.git$/, '')
    .replace(/\/$/, '')
  const m = /[:/]([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(url)
  return m ? `${m[1]}/${m[2]}` : undefined
}

/** The run root: `given` (created when missing; a UsageError naming `what` when it cannot be), else a new temp folder. */
export async function makeRunRoot(given?: string, what = 'the run root'): Promise<{ runRoot: string; created: boolean }> {
  if (given) return { runRoot: await makeDirectory(given, `${what} ${given}`), created: false }
  try {
    return { runRoot: await mkdtemp(path.join(os.tmpdir(), 'tako-')), created: true }
  } catch (error) {
    throw new UsageError(`cannot create a run root in the temp folder ${os.tmpdir()}: ${messageOf(error)}; set TMPDIR, or give ${what}`)
  }
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
  const runId = opts.runId ?? newRunId()
  await makeDirectory(cacheDir, 'the cache folder')
  const scratchDir = await createScratch(runRoot, runId)
  const rootTemp = path.join(scratchDir, 'root')
  await mkdir(rootTemp, { recursive: true })
  const tree: TreeState = {
    runId,
    runRoot,
    scratchDir,
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
    const result = await runner.run({
      config: prepared.config,
      workflow: prepared.workflow,
      inputs: prepared.inputs,
      scope: rootScope,
      event: opts.event,
      signal
    })
    steps = result.steps
    status = result.status === 'success' ? 'success' : signal.aborted && signal.reason instanceof CancelReason ? 'cancelled' : 'failure'
    if (result.failure) error = result.failure.step ? `step "${result.failure.step}": ${result.failure.message}` : result.failure.message
  } catch (e) {
    error = messageOf(e)
  } finally {
    await tree.reaper.drain()
    await removeScratch(tree.scratchDir)
  }
  return runReport(prepared, tree, startedAt, { status, steps, error }, opts)
}

function runReport(
  prepared: PreparedRun,
  tree: TreeState,
  startedAt: Date,
  outcome: { status: RunReport['status']; steps: RunReport['steps']; error?: string },
  opts: Pick<RunOptions, 'strict'>
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
  // Strict: a run that "succeeded" with warnings (its file's and the tree's) did not do what was asked of it.
  const warnings = prepared.warnings.length + tree.warnings.length
  if (opts.strict && warnings > 0 && report.status === 'success') {
    report.status = 'failure'
    report.error = `strict: ${warnings} warning${warnings === 1 ? '' : 's'} fail the run`
  }
  return report
}

export type { FanOutPlan, ChildPlan } from './plan.js'

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

/**
 * Dry run: the whole tree as far as it can be decided before anything runs — each fan-out's candidates and verdicts,
 * each matched child's inputs checked against its workflow, and that child's own fan-outs. Runs nothing. The report
 * fails where the run would certainly fail (an invalid fan-out, inputs a child would reject) and under `strict`.
 */
export async function planRun(prepared: PreparedRun, opts: RunOptions): Promise<RunPlan> {
  const startedAt = new Date()
  const { tree, fanOut, rootScope } = await wire(prepared, opts)
  const signal = opts.signal ?? new AbortController().signal
  // The context the runner builds before the first step; step outputs are what cannot be known yet.
  const env = stringEnv(opts.baseEnv ?? process.env)
  const context: RunContext = { inputs: prepared.inputs, steps: {}, env, run_id: tree.runId, repository: prepared.source, event: opts.event }
  let fanOuts: FanOutPlan[] = []
  const pullRequests: PullRequestPreview[] = []
  let error: string | undefined
  try {
    // planFanOuts applies the workflow's env to the context, so the previews below render as the run would.
    fanOuts = await planFanOuts(fanOut, prepared.workflow, context, rootScope, signal)
    const rootBranch = (await currentBranch(inWorkspace(rootScope.workspace, signal))) ?? '(the checked-out branch)'
    pullRequests.push(...workflowPullRequests(prepared.workflow, context, rootBranch), ...plannedPullRequests(fanOuts, context))
  } catch (e) {
    error = messageOf(e)
  } finally {
    await removeScratch(tree.scratchDir)
  }
  const errors = [...(error ? [error] : []), ...planErrors(fanOuts)]
  const report = runReport(prepared, tree, startedAt, { status: errors.length ? 'failure' : 'success', steps: [], error: errors.join('\n') || undefined }, opts)
  report.dry_run = true
  report.plan = planJson(fanOuts)
  return {
    runId: tree.runId,
    source: prepared.source,
    workflow: prepared.workflow.name,
    inputs: prepared.inputs,
    steps: prepared.workflow.steps.map((s) => ({ id: s.id, kind: s.uses ?? 'run', if: s.if })),
    fanOuts,
    pullRequests,
    report
  }
}

/** The pull requests the planned tree's children would propose, those of nested fan-outs included. */
function plannedPullRequests(plans: FanOutPlan[], parent: RunContext): PullRequestPreview[] {
  const out: PullRequestPreview[] = []
  for (const plan of plans) {
    if (!plan.event) continue
    for (const child of plan.children) {
      if (child.blocked) continue
      out.push(...childPullRequests(child, plan.event, parent))
      out.push(...plannedPullRequests(child.fanOuts ?? [], parent))
    }
  }
  return out
}

/** The pull requests a planned child's workflow would propose; its base is the branch its checkout would have. */
function childPullRequests(child: ChildPlan, event: TakoEvent, parent: RunContext): PullRequestPreview[] {
  const workflow = child.config.workflows[child.match.subscription.workflow]
  if (!workflow) return []
  const context: RunContext = {
    inputs: { ...(child.inputs ?? {}) },
    steps: {},
    event,
    env: parent.env,
    run_id: parent.run_id,
    repository: child.candidate.repository
  }
  // The inputs the subscription would map from the event, as far as they can be known now.
  if (!child.inputs)
    for (const [name, template] of Object.entries(child.match.subscription.inputs)) {
      try {
        context.inputs[name] = renderDeep(template, context, `subscription input "${name}"`) as string
      } catch {
        // Known only at run time: previewed as written.
      }
    }
  return workflowPullRequests(workflow, context, child.candidate.ref || '(its default branch)')
}

/** The pull requests a workflow's tako/pull-request steps would propose against `base`, rendered in `context`. */
function workflowPullRequests(workflow: WorkflowSpec, context: RunContext, base: string): PullRequestPreview[] {
  return workflow.steps.filter((s) => builtinFor(s.uses)?.name === 'tako/pull-request').map((s) => previewPullRequest(s, context, workflow.name, base))
}
