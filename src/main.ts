// The action's run(): inputs -> cache restore -> engine -> report, summary, annotations, outputs -> cache save.
// The only module that talks to the runner (outputs, the summary file, annotations, setFailed). Outputs and summary
// are written exactly once, whatever ends the step: the run's report, a refused input or tako file, or a second signal.

import * as core from '@actions/core'
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { getInputs, type ActionInputs } from './github/inputs.js'
import { Inputs } from './github/constants.js'
import { cacheKeys, SharedCache } from './github/cache.js'
import { OutcomeStore } from './github/outcomes.js'
import { GroupedLogs } from './github/log-groups.js'
import { RunProgress, type RunHeader } from './engine/progress.js'
import { RemoteRepositorySource } from './github/remote-source.js'
import { makeOwnerLister } from './github/list-repos.js'
import { noRunMarkdown, summaryMarkdown, SUMMARY_MAX_BYTES } from './github/summary.js'
import { WorkflowDispatcher } from './github/dispatch.js'
import { createOctokit } from './github/octokit.js'
import { actionDelivery } from './github/pull-requests.js'
import { childRunNote } from './github/child-mode.js'
import { ANNOTATIONS_PER_LEVEL, configAnnotations, runAnnotations, type Annotation } from './github/annotations.js'
import { actionOutputs, noRunOutputs, redact, secretForms } from './github/outputs.js'
import { ConfigError, formatIssue } from './config/errors.js'
import type { ConfigIssue } from './config/types.js'
import { UserError } from './engine/errors.js'
import { executeRun, planRun, prepareRun, type FanOutPlan, type PreparedRun, type RunOptions, type RunPlan } from './engine/engine.js'
import { abortReason, CancelReason, newRunId } from './engine/run-scope.js'
import { killAllGroups } from './engine/process.js'
import type { RunReport } from './engine/types.js'

interface RunnerEnv {
  workspace: string
  runnerTemp: string
  repository: string
  serverUrl: string
  apiUrl: string
  os: string
  runId: string
  runAttempt: number
  job: string
  /** This attempt's page: the parent of dispatched children, and where reused children were run. */
  attemptUrl: string
}

function runnerEnv(): RunnerEnv {
  const env = process.env
  const serverUrl = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/$/, '')
  const repository = env.GITHUB_REPOSITORY || ''
  const runId = env.GITHUB_RUN_ID || ''
  const runAttempt = Number(env.GITHUB_RUN_ATTEMPT || '1') || 1
  return {
    workspace: path.resolve(env.GITHUB_WORKSPACE || process.cwd()),
    runnerTemp: path.resolve(env.RUNNER_TEMP || path.join(process.cwd(), '.tako-runner-temp')),
    repository,
    serverUrl,
    apiUrl: (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/$/, ''),
    os: env.RUNNER_OS || process.platform,
    runId,
    runAttempt,
    job: env.GITHUB_JOB || '',
    attemptUrl: `${serverUrl}/${repository}/actions/runs/${runId}/attempts/${runAttempt}`
  }
}

/** What this step knows so far: whatever ends it writes its outputs and summary from this, once. */
interface StepState {
  env: RunnerEnv
  controller: AbortController
  secrets: string[]
  /** The `workflow` input as given, for a summary without a run. */
  workflow: string
  dryRun: boolean
  /** Leads the summary of a dispatched child run. */
  note: string
  runId?: string
  cacheHit: boolean
  /** Set while the engine runs: what a second signal reports. */
  running?: { header: RunHeader; progress: RunProgress }
  /** Warning annotations emitted so far, out of the 10 GitHub shows. */
  warnings: number
  published: boolean
}

export async function run(): Promise<void> {
  const step: StepState = {
    env: runnerEnv(),
    controller: new AbortController(),
    secrets: [],
    workflow: core.getInput(Inputs.Workflow).trim(),
    dryRun: false,
    note: '',
    cacheHit: false,
    warnings: 0,
    published: false
  }
  const onSignal = (sig: NodeJS.Signals): void => interrupted(step, sig)
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  try {
    const inputs = getInputs()
    step.secrets = maskToken(inputs.token)
    step.dryRun = inputs.dryRun
    step.note = redact(childRunNote(inputs.parentRun, inputs.event), step.secrets)
    await runWorkflow(inputs, step)
  } catch (error) {
    fail(step, error)
  } finally {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
  }
}

/** Masks the token and its base64 forms (git's basic auth header carries `x-access-token:<token>` in base64);
    returns the secrets that redact() removes, in every form, from what the action writes itself. */
function maskToken(token: string): string[] {
  if (!token.trim()) return []
  for (const form of new Set(secretForms(token))) core.setSecret(form)
  return [token]
}

async function runWorkflow(inputs: ActionInputs, step: StepState): Promise<void> {
  const { env } = step
  let prepared: PreparedRun
  try {
    prepared = await prepareRun({ root: env.workspace, configPath: inputs.config, workflow: inputs.workflow, inputs: inputs.inputs, source: env.repository || undefined })
  } catch (error) {
    // One error is left for the failed step's own.
    if (error instanceof ConfigError) annotate(step, configAnnotations(error.issues, fileOf(error.issues, env.workspace), room(step, 1)))
    throw error
  }
  annotate(step, configAnnotations(prepared.warnings, path.relative(env.workspace, prepared.configPath), room(step, 0)))

  step.runId = newRunId()
  const cacheDir = path.join(env.runnerTemp, 'tako-cache')
  await mkdir(cacheDir, { recursive: true })
  const keys = cacheKeys({
    os: env.os,
    takoFiles: [await readFile(prepared.configPath, 'utf8')],
    key: inputs.cacheKey,
    restoreKeys: inputs.cacheRestoreKeys
  })
  const sharedCache = inputs.cache && !inputs.dryRun ? new SharedCache(cacheDir, keys) : undefined
  if (sharedCache) {
    const restored = await sharedCache.restore()
    step.cacheHit = restored.hit
    if (restored.warning) warn(step, restored.warning)
    else core.info(restored.restoredKey ? `cache restored from ${restored.restoredKey}${restored.hit ? '' : ` (primary key ${keys.key} missed)`}` : `cache miss for ${keys.key}`)
  }

  const outcomes = inputs.cache && !inputs.dryRun
    ? new OutcomeStore({
        runnerTemp: env.runnerTemp,
        runId: env.runId,
        attempt: env.runAttempt,
        job: env.job,
        configPath: path.relative(env.workspace, prepared.configPath),
        workflow: inputs.workflow,
        inputs: prepared.inputs,
        attemptUrl: env.attemptUrl
      })
    : undefined
  const earlier = outcomes ? await outcomes.restore() : {}
  if (earlier.warning) warn(step, earlier.warning)
  if (earlier.reuse?.size) core.info(`re-run: ${earlier.reuse.size} children that succeeded in an earlier attempt are reused, not run again`)

  // One Octokit for every API call of the run, so retries, rate-limit waits and spaced writes see all of them.
  const octokit = createOctokit({ token: inputs.token, baseUrl: env.apiUrl, log: (m) => core.info(redact(m, step.secrets)) })
  const progress = new RunProgress(
    new GroupedLogs(
      (text) => process.stdout.write(redact(text, step.secrets)),
      // Annotated from the report at the end, with the others and within the cap; here only logged as they come.
      (message) => core.info(redact(`warning: ${message}`, step.secrets))
    )
  )
  const options: RunOptions = {
    root: env.workspace,
    configPath: prepared.configPath,
    workflow: inputs.workflow,
    inputs: inputs.inputs,
    source: prepared.source,
    repositorySource: new RemoteRepositorySource({
      serverUrl: env.serverUrl,
      token: inputs.token,
      repositories: inputs.repositories,
      cacheRoot: path.join(env.runnerTemp, 'tako-git'),
      listOwnerRepos: makeOwnerLister(octokit),
      warn: (m) => warn(step, m)
    }),
    runRoot: env.runnerTemp,
    cacheDir,
    maxConcurrency: inputs.maxConcurrency,
    keepWorkspaces: inputs.keepWorkspaces ? 'all' : 'failed',
    observer: progress,
    signal: step.controller.signal,
    baseEnv: stepEnvironment(process.env),
    runId: step.runId,
    reuse: earlier.reuse,
    event: inputs.event,
    mode: inputs.mode,
    // Always there: a subscriber's `runs_on: dispatch` asks for it even when the mode is local.
    dispatcher: new WorkflowDispatcher({
      octokit,
      workflowFile: inputs.dispatchWorkflow,
      parentRunUrl: env.attemptUrl,
      runId: step.runId,
      warn: (m) => warn(step, m)
    }),
    // tako/pull-request@v1: the engine pushes with the token and proposes through the API; steps never see either.
    delivery: actionDelivery({ serverUrl: env.serverUrl, token: inputs.token, octokit, runUrl: env.attemptUrl })
  }

  const header: RunHeader = { runId: step.runId, source: prepared.source, workflow: prepared.workflow.name, inputs: prepared.inputs, startedAt: new Date() }
  step.running = { header, progress }
  let report: RunReport
  let plan: FanOutPlan[] | undefined
  if (inputs.dryRun) {
    const planned = await planRun(prepared, options)
    report = redactReport(plannedReport(planned), step.secrets)
    plan = JSON.parse(redact(JSON.stringify(planned.fanOuts), step.secrets)) as FanOutPlan[]
  } else {
    report = redactReport(await executeRun(prepared, options), step.secrets)
  }
  step.running = undefined
  publish(step, { report, plan })
  conclude(step, report)

  if (outcomes) {
    const kept = await outcomes.save(report)
    if (kept.warning) warn(step, kept.warning)
  }
  if (sharedCache && report.status !== 'cancelled') {
    const saved = await sharedCache.save(step.cacheHit)
    if (saved.warning) warn(step, saved.warning)
    else if (saved.saved) core.info(`cache saved as ${keys.key}`)
  }
}

/** A dry run fails when a fan-out cannot be planned (its `with` is invalid): the real run would fail there. */
function plannedReport(plan: RunPlan): RunReport {
  const errors = plan.fanOuts.filter((f) => f.error).map((f) => `fan-out step "${f.step}" cannot be planned: ${f.error}`)
  return errors.length > 0 ? { ...plan.report, status: 'failure', error: errors.join('\n') } : plan.report
}

/** Redacted once, before anything is built from it, so every rendering stays within its bounds. */
function redactReport(report: RunReport, secrets: string[]): RunReport {
  return JSON.parse(redact(JSON.stringify(report), secrets)) as RunReport
}

/**
 * Writes the outputs and the job summary, of the run's report or of no run, the first time it is called; later calls
 * do nothing. Synchronous, so a signal handler can call it and exit right after.
 */
function publish(step: StepState, what: { report: RunReport; plan?: FanOutPlan[] } | { status: 'failure' | 'cancelled'; error: string }): void {
  if (step.published) return
  step.published = true
  const maxBytes = SUMMARY_MAX_BYTES - Buffer.byteLength(step.note)
  if ('report' in what) {
    const { report } = what
    mkdirSync(step.env.runnerTemp, { recursive: true })
    const reportPath = path.join(step.env.runnerTemp, `tako-report-${report.run_id}.json`)
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`)
    writeOutputs(actionOutputs(report, { reportPath, cacheHit: step.cacheHit }))
    writeSummary(step.note + summaryMarkdown(report, step.dryRun ? { title: 'tako (dry run)', maxBytes, plan: what.plan } : { maxBytes }))
  } else {
    writeOutputs(noRunOutputs({ status: what.status, runId: step.runId, cacheHit: step.cacheHit }))
    writeSummary(step.note + noRunMarkdown({ workflow: step.workflow, error: what.error, status: what.status, maxBytes }))
  }
}

/**
 * The report's annotations, then the failed step. setFailed emits one error annotation of its own, so the children's
 * errors get 9 of the 10 GitHub shows (the 9th counting the rest when there are more); warnings get what is left.
 */
function conclude(step: StepState, report: RunReport): void {
  const failed = report.status !== 'success'
  annotate(step, runAnnotations(report, room(step, failed ? 1 : 0)))
  if (failed) core.setFailed(`tako: run ${report.run_id} ${report.status}${report.error ? `: ${report.error}` : ''}`)
}

/**
 * The first signal cancels the run: the engine stops every step (SIGTERM, SIGKILL after its grace) and reports.
 * A runner that cancels a job sends SIGINT, then SIGTERM about 7.5 s later, before that grace ends, and soon after
 * kills the action: so the second signal kills every step group at once and writes what is known before exiting.
 */
function interrupted(step: StepState, sig: NodeJS.Signals): void {
  const { signal } = step.controller
  if (!signal.aborted) {
    core.info(`${sig} received: stopping every child run (a second signal kills them at once)`)
    step.controller.abort(new CancelReason(`cancelled by ${sig}`))
    return
  }
  try {
    killAllGroups()
    if (step.published) return
    const reason = `${abortReason(signal)}, then ${sig}`
    if (step.running) {
      const report = redactReport(step.running.progress.interrupt(step.running.header, reason), step.secrets)
      publish(step, { report })
      conclude(step, report)
    } else {
      const error = `${reason} before the run started`
      publish(step, { status: 'cancelled', error })
      core.setFailed(`tako: ${error}`)
    }
  } finally {
    process.exit(1)
  }
}

/** Steps get the job's environment without the action's own inputs (the token among them), the runtime tokens,
    and the runner's command files: a subscriber's step must not set this action's outputs or the job's env. */
function stepEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const hidden = /^(INPUT_|ACTIONS_RUNTIME_TOKEN$|ACTIONS_ID_TOKEN_REQUEST_TOKEN$|ACTIONS_RESULTS_URL$|ACTIONS_CACHE_URL$|GITHUB_(OUTPUT|ENV|STATE|PATH|STEP_SUMMARY)$)/
  return Object.fromEntries(Object.entries(env).filter(([name]) => !hidden.test(name)))
}

function writeOutputs(outputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value)
}

/** Appended as core.summary.write() would, but synchronously (see publish). */
function writeSummary(markdown: string): void {
  const file = process.env.GITHUB_STEP_SUMMARY
  if (file) appendFileSync(file, markdown, 'utf8')
  else core.info('GITHUB_STEP_SUMMARY is not set: no job summary written')
}

/** What is left of GitHub's 10 annotations per level, keeping `reservedErrors` for the failed step. */
function room(step: StepState, reservedErrors: number): { errors: number; warnings: number } {
  return { errors: ANNOTATIONS_PER_LEVEL - reservedErrors, warnings: Math.max(0, ANNOTATIONS_PER_LEVEL - step.warnings) }
}

/** A warning of the action itself (cache, git retries, dispatch): annotated at once, counted against the cap. */
function warn(step: StepState, message: string): void {
  step.warnings++
  core.warning(redact(message, step.secrets))
}

function annotate(step: StepState, annotations: Annotation[]): void {
  for (const a of annotations) {
    const props: core.AnnotationProperties = { title: a.title, file: a.file, startLine: a.line, startColumn: a.col }
    const message = redact(a.message, step.secrets)
    if (a.level === 'error') core.error(message, props)
    else if (a.level === 'warning') {
      step.warnings++
      core.warning(message, props)
    } else core.notice(message, props)
  }
}

/** The tako file the issues are about, relative to the workspace ('' when they are about the workspace itself). */
function fileOf(issues: ConfigIssue[], workspace: string): string {
  return issues.length > 0 ? path.relative(workspace, path.resolve(workspace, issues[0].file)) : ''
}

/** One place turns anything thrown into a failed step with outputs and a summary; a user's mistake never shows a stack trace. */
function fail(step: StepState, error: unknown): void {
  let message: string
  if (error instanceof ConfigError) message = error.issues.filter((i) => i.severity === 'error').map(formatIssue).join('\n')
  else if (error instanceof UserError) message = error.message
  else message = `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
  message = redact(message, step.secrets)
  publish(step, { status: 'failure', error: message })
  core.setFailed(message)
}
