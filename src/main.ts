// The action's run(): inputs -> cache restore -> engine -> report, summary, annotations, outputs -> cache save.
// The only module that talks to the runner (outputs, the summary file, annotations, setFailed). Outputs and summary
// are written exactly once, whatever ends the step: the run's report, a refused input or tako file, or a second signal.

import * as core from '@actions/core'
import { appendFileSync, mkdirSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { getInputs, type ActionInputs } from './github/inputs.js'
import { actionInput, isSecretVariable, withRuntimeEnv, type TakenSecrets } from './github/runner-secrets.js'
import { Inputs, State } from './github/constants.js'
import { cacheKeys, SharedCache } from './github/cache.js'
import { OutcomeStore, type OutcomeScope } from './github/outcomes.js'
import { GroupedLogs } from './github/log-groups.js'
import { RunProgress, type RunHeader } from './engine/progress.js'
import { RemoteRepositorySource } from './github/remote-source.js'
import { makeOwnerLister } from './github/list-repos.js'
import { makeGraphql } from './github/graphql.js'
import { noRunMarkdown, summaryMarkdown, SUMMARY_MAX_BYTES } from './github/summary.js'
import { WorkflowDispatcher } from './github/dispatch.js'
import { createOctokit } from './github/octokit.js'
import { actionDelivery } from './github/pull-requests.js'
import type { PullRequestPreview } from './engine/builtins/pull-request.js'
import { childRunNote } from './github/child-mode.js'
import { ANNOTATIONS_PER_LEVEL, configAnnotations, runAnnotations, type Annotation } from './github/annotations.js'
import { actionOutputs, noRunOutputs, redact, secretForms } from './github/outputs.js'
import { ConfigError, formatIssue } from './config/errors.js'
import type { ConfigIssue } from './config/types.js'
import { UserError } from './engine/errors.js'
import { executeRun, planRun, prepareRun, type FanOutPlan, type PreparedRun, type RunOptions } from './engine/engine.js'
import { abortReason, CancelReason, newRunId } from './engine/run-scope.js'
import { killAllGroups } from './engine/process.js'
import type { RunReport } from './engine/types.js'
import { writeJsonFile, writeJsonFileSync } from './engine/report-file.js'

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

/** `secrets`: what the entry took out of the environment before anything else ran (absent in tests importing run). */
export async function run(secrets?: TakenSecrets): Promise<void> {
  const step: StepState = {
    env: runnerEnv(),
    controller: new AbortController(),
    secrets: [],
    workflow: actionInput(Inputs.Workflow),
    dryRun: false,
    note: '',
    cacheHit: false,
    warnings: 0,
    published: false
  }
  // Marks this action's state, so the same bundle started for the post step knows it is the post step.
  core.saveState(State.Main, 'true')
  const onSignal = (sig: NodeJS.Signals): void => interrupted(step, sig)
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  try {
    const inputs = getInputs()
    step.secrets = maskToken(inputs.token)
    if (secrets?.failure) warn(step, secrets.failure)
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
    prepared = await prepareRun({
      root: env.workspace,
      configPath: inputs.config,
      workflow: inputs.workflow,
      inputs: inputs.inputs,
      source: env.repository || undefined
    })
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
    const restored = await withRuntimeEnv(() => sharedCache.restore())
    step.cacheHit = restored.hit
    if (restored.warning) warn(step, restored.warning)
    else
      core.info(
        restored.restoredKey
          ? `cache restored from ${restored.restoredKey}${restored.hit ? '' : ` (primary key ${keys.key} missed)`}`
          : `cache miss for ${keys.key}`
      )
  }

  const outcomeScope: OutcomeScope = {
    runnerTemp: env.runnerTemp,
    runId: env.runId,
    attempt: env.runAttempt,
    job: env.job,
    configPath: path.relative(env.workspace, prepared.configPath),
    workflow: inputs.workflow,
    inputs: prepared.inputs,
    attemptUrl: env.attemptUrl
  }
  const outcomes = inputs.cache && !inputs.dryRun ? new OutcomeStore(outcomeScope) : undefined
  // Until saved below, the post step saves it from the report, should this step be killed first.
  if (outcomes) core.saveState(State.Outcomes, JSON.stringify({ scope: outcomeScope, reportPath: reportPathOf(env, step.runId) }))
  const earlier = outcomes ? await withRuntimeEnv(() => outcomes.restore()) : {}
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
      graphql: makeGraphql(octokit),
      info: (m) => core.info(redact(m, step.secrets)),
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
    strict: inputs.strict,
    mode: inputs.mode,
    // Always there: a subscriber's `runs_on: dispatch` asks for it even when the mode is local.
    dispatcher: new WorkflowDispatcher({
      octokit,
      workflowFile: inputs.dispatchWorkflow,
      parentRunUrl: env.attemptUrl,
      runId: step.runId,
      warn: (m) => warn(step, m),
      // Recorded as they start and end, so the post step can cancel those this step could not.
      onRunStarted: (r) => core.saveState(`${State.RunPrefix}${r.id}`, JSON.stringify(r)),
      onRunEnded: (r) => core.saveState(`${State.RunPrefix}${r.id}`, '')
    }),
    // tako/pull-request@v1: the engine pushes with the token and proposes through the API; steps never see either.
    delivery: actionDelivery({ serverUrl: env.serverUrl, token: inputs.token, octokit, runUrl: env.attemptUrl })
  }

  const header: RunHeader = { runId: step.runId, source: prepared.source, workflow: prepared.workflow.name, inputs: prepared.inputs, startedAt: new Date() }
  step.running = { header, progress }
  let report: RunReport
  let plan: { fanOuts: FanOutPlan[]; pullRequests: PullRequestPreview[] } | undefined
  if (inputs.dryRun) {
    const planned = await planRun(prepared, options)
    report = redactReport(planned.report, step.secrets)
    plan = JSON.parse(redact(JSON.stringify({ fanOuts: planned.fanOuts, pullRequests: planned.pullRequests }), step.secrets)) as typeof plan
  } else {
    report = redactReport(await executeRun(prepared, options), step.secrets)
  }
  // Streamed while a second signal can still write the cut-short report instead: a report too large for one
  // string is written all the same, and a failed write leaves no empty file.
  const reportPath = reportPathOf(env, report.run_id)
  const written = await writeJsonFile(reportPath, report).then(
    () => reportPath,
    (error: unknown) => (warn(step, `could not write the run report to ${reportPath}: ${(error as Error).message}`), '')
  )
  step.running = undefined
  publish(step, { report, plan, reportPath: written })
  conclude(step, report)

  if (outcomes) {
    const kept = await withRuntimeEnv(() => outcomes.save(report))
    if (kept.warning) warn(step, kept.warning)
    core.saveState(State.Outcomes, '')
  }
  if (sharedCache && report.status !== 'cancelled') {
    const saved = await withRuntimeEnv(() => sharedCache.save(step.cacheHit))
    if (saved.warning) warn(step, saved.warning)
    else if (saved.saved) core.info(`cache saved as ${keys.key}`)
  }
}

function reportPathOf(env: RunnerEnv, runId: string): string {
  return path.join(env.runnerTemp, `tako-report-${runId}.json`)
}

/** Redacted once, before anything is built from it, so every rendering stays within its bounds. Value by value,
    keys included: a string of the whole report may not fit in memory (see report-file.ts). */
function redactReport(report: RunReport, secrets: string[]): RunReport {
  if (!secrets.some((s) => s.trim() !== '')) return report
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return redact(value, secrets)
    if (Array.isArray(value)) return value.map(walk)
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [redact(k, secrets), walk(v)]))
    return value
  }
  return walk(report) as RunReport
}

/**
 * Writes the outputs and the job summary, of the run's report or of no run, the first time it is called; later calls
 * do nothing. Synchronous, so a signal handler can call it and exit right after.
 */
function publish(
  step: StepState,
  what:
    | {
        report: RunReport
        plan?: { fanOuts: FanOutPlan[]; pullRequests: PullRequestPreview[] }
        /** Already written there ('' when it could not be). */ reportPath?: string
      }
    | { status: 'failure' | 'cancelled'; error: string }
): void {
  if (step.published) return
  step.published = true
  const maxBytes = SUMMARY_MAX_BYTES - Buffer.byteLength(step.note)
  if ('report' in what) {
    const { report } = what
    let reportPath = what.reportPath
    if (reportPath === undefined) {
      mkdirSync(step.env.runnerTemp, { recursive: true })
      reportPath = reportPathOf(step.env, report.run_id)
      writeJsonFileSync(reportPath, report)
    }
    writeOutputs(actionOutputs(report, { reportPath, cacheHit: step.cacheHit }))
    writeSummary(
      step.note +
        summaryMarkdown(
          report,
          step.dryRun ? { title: 'tako (dry run)', maxBytes, plan: what.plan?.fanOuts, pullRequests: what.plan?.pullRequests } : { maxBytes }
        )
    )
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
    and the runner's command files: a subscriber's step must not set this action's outputs or the job's env. The
    entry already took the secrets out of process.env; this also holds while a cache call has them back. */
function stepEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const commandFiles = /^GITHUB_(OUTPUT|ENV|STATE|PATH|STEP_SUMMARY)$/
  return Object.fromEntries(Object.entries(env).filter(([name]) => !commandFiles.test(name) && !isSecretVariable(name)))
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
  if (error instanceof ConfigError)
    message = error.issues
      .filter((i) => i.severity === 'error')
      .map(formatIssue)
      .join('\n')
  else if (error instanceof UserError) message = error.message
  else message = `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
  message = redact(message, step.secrets)
  publish(step, { status: 'failure', error: message })
  core.setFailed(message)
}
