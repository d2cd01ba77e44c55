// The action's run(): inputs -> cache restore -> engine -> report, summary, annotations, outputs -> cache save.
// The only module that talks to the runner (setOutput, setFailed, summary.write); everything it writes comes from the report.

import * as core from '@actions/core'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ActionInputError, getInputs, type ActionInputs } from './github/inputs.js'
import { cacheKeys, SharedCache } from './github/cache.js'
import { OutcomeStore } from './github/outcomes.js'
import { GroupedLogs } from './github/log-groups.js'
import { RemoteRepositorySource } from './github/remote-source.js'
import { makeOwnerLister } from './github/list-repos.js'
import { summaryMarkdown, SUMMARY_MAX_BYTES } from './github/summary.js'
import { WorkflowDispatcher } from './github/dispatch.js'
import { childRunNote } from './github/child-mode.js'
import { configAnnotations, runAnnotations, type Annotation } from './github/annotations.js'
import { actionOutputs, redact, secretForms } from './github/outputs.js'
import { ConfigError, formatIssue } from './config/errors.js'
import { InputError } from './engine/inputs.js'
import { executeRun, planRun, prepareRun, type PreparedRun, type RunOptions } from './engine/engine.js'
import { UsageError } from './engine/errors.js'
import { CancelReason, newRunId } from './engine/run-scope.js'
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
}

function runnerEnv(): RunnerEnv {
  const env = process.env
  return {
    workspace: path.resolve(env.GITHUB_WORKSPACE || process.cwd()),
    runnerTemp: path.resolve(env.RUNNER_TEMP || path.join(process.cwd(), '.tako-runner-temp')),
    repository: env.GITHUB_REPOSITORY || '',
    serverUrl: (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/$/, ''),
    apiUrl: (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/$/, ''),
    os: env.RUNNER_OS || process.platform,
    runId: env.GITHUB_RUN_ID || '',
    runAttempt: Number(env.GITHUB_RUN_ATTEMPT || '1') || 1
  }
}

export async function run(): Promise<void> {
  let secrets: string[] = []
  try {
    const inputs = getInputs()
    secrets = maskToken(inputs.token)
    const env = runnerEnv()
    await runWorkflow(inputs, env, secrets)
  } catch (error) {
    fail(error, secrets)
  }
}

/** Masks the token and its base64 forms (git's basic auth header carries `x-access-token:<token>` in base64);
    returns the secrets that redact() removes, in every form, from what the action writes itself. */
function maskToken(token: string): string[] {
  if (!token.trim()) return []
  for (const form of new Set(secretForms(token))) core.setSecret(form)
  return [token]
}

async function runWorkflow(inputs: ActionInputs, env: RunnerEnv, secrets: string[]): Promise<void> {
  const configFile = path.resolve(env.workspace, inputs.config)
  let prepared: PreparedRun
  try {
    prepared = await prepareRun({ root: env.workspace, configPath: configFile, workflow: inputs.workflow, inputs: inputs.inputs, source: env.repository || undefined })
  } catch (error) {
    if (error instanceof ConfigError) emit(configAnnotations(error.issues, path.relative(env.workspace, configFile) || inputs.config), secrets)
    writeOutputs({ status: 'failure' })
    throw error
  }
  emit(configAnnotations(prepared.warnings, path.relative(env.workspace, prepared.configPath)), secrets)

  const runId = newRunId()
  const cacheDir = path.join(env.runnerTemp, 'tako-cache')
  await mkdir(cacheDir, { recursive: true })
  const keys = cacheKeys({
    os: env.os,
    takoFiles: [await readFile(prepared.configPath, 'utf8')],
    key: inputs.cacheKey,
    restoreKeys: inputs.cacheRestoreKeys
  })
  const sharedCache = inputs.cache && !inputs.dryRun ? new SharedCache(cacheDir, keys) : undefined
  let cacheHit = false
  if (sharedCache) {
    const restored = await sharedCache.restore()
    cacheHit = restored.hit
    if (restored.warning) core.warning(redact(restored.warning, secrets))
    else core.info(restored.restoredKey ? `cache restored from ${restored.restoredKey}${restored.hit ? '' : ` (primary key ${keys.key} missed)`}` : `cache miss for ${keys.key}`)
  }

  const outcomes = inputs.cache && !inputs.dryRun
    ? new OutcomeStore(env.runnerTemp, env.runId, env.runAttempt, `${env.serverUrl}/${env.repository}/actions/runs/${env.runId}/attempts/${env.runAttempt}`)
    : undefined
  const earlier = outcomes ? await outcomes.restore() : {}
  if (earlier.warning) core.warning(redact(earlier.warning, secrets))
  if (earlier.reuse?.size) core.info(`re-run: ${earlier.reuse.size} children that succeeded in an earlier attempt are reused, not run again`)

  const controller = new AbortController()
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      killAllGroups()
      process.exit(1)
    }
    core.warning(`${sig} received: stopping every child run`)
    controller.abort(new CancelReason(`cancelled by ${sig}`))
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)

  const source = new RemoteRepositorySource({
    serverUrl: env.serverUrl,
    token: inputs.token,
    repositories: inputs.repositories,
    cacheRoot: path.join(env.runnerTemp, 'tako-git'),
    listOwnerRepos: makeOwnerLister(inputs.token, env.apiUrl),
    warn: (m) => core.warning(redact(m, secrets))
  })
  const options: RunOptions = {
    root: env.workspace,
    configPath: prepared.configPath,
    workflow: inputs.workflow,
    inputs: inputs.inputs,
    source: prepared.source,
    repositorySource: source,
    runRoot: env.runnerTemp,
    cacheDir,
    maxConcurrency: inputs.maxConcurrency,
    keepWorkspaces: inputs.keepWorkspaces ? 'all' : 'failed',
    observer: new GroupedLogs(
      (text) => process.stdout.write(redact(text, secrets)),
      (message) => core.warning(redact(message, secrets))
    ),
    signal: controller.signal,
    baseEnv: stepEnvironment(process.env),
    runId,
    reuse: earlier.reuse,
    event: inputs.event,
    mode: inputs.mode,
    // Always there: a subscriber's `runs_on: dispatch` asks for it even when the mode is local.
    dispatcher: new WorkflowDispatcher({
      apiUrl: env.apiUrl,
      token: inputs.token,
      workflowFile: inputs.dispatchWorkflow,
      parentRunUrl: `${env.serverUrl}/${env.repository}/actions/runs/${env.runId}/attempts/${env.runAttempt}`,
      runId,
      warn: (m) => core.warning(redact(m, secrets))
    })
  }

  let raw: RunReport
  try {
    raw = inputs.dryRun ? (await planRun(prepared, options)).report : await executeRun(prepared, options)
  } finally {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
  }
  // Redacted once, before anything is built from it, so every rendering stays within its bounds.
  const report = JSON.parse(redact(JSON.stringify(raw), secrets)) as RunReport

  const reportPath = path.join(env.runnerTemp, `tako-report-${report.run_id}.json`)
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`)
  writeOutputs(actionOutputs(report, { reportPath, cacheHit }))
  const note = redact(childRunNote(inputs.parentRun, inputs.event), secrets)
  const maxBytes = SUMMARY_MAX_BYTES - Buffer.byteLength(note)
  await core.summary.addRaw(note + summaryMarkdown(report, inputs.dryRun ? { title: 'tako (dry run)', maxBytes } : { maxBytes })).write()
  emit(runAnnotations(report), secrets)

  if (outcomes) {
    const kept = await outcomes.save(report)
    if (kept.warning) core.warning(redact(kept.warning, secrets))
  }
  if (sharedCache && report.status !== 'cancelled') {
    const saved = await sharedCache.save(cacheHit)
    if (saved.warning) core.warning(redact(saved.warning, secrets))
    else if (saved.saved) core.info(`cache saved as ${keys.key}`)
  }
  if (report.status !== 'success') {
    core.setFailed(redact(`tako: run ${report.run_id} ${report.status}${report.error ? `: ${report.error}` : ''}`, secrets))
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

function emit(annotations: Annotation[], secrets: string[]): void {
  for (const a of annotations) {
    const props: core.AnnotationProperties = { title: a.title, file: a.file, startLine: a.line, startColumn: a.col }
    const message = redact(a.message, secrets)
    if (a.level === 'error') core.error(message, props)
    else if (a.level === 'warning') core.warning(message, props)
    else core.notice(message, props)
  }
}

/** One place turns anything thrown into a failed step; a user's mistake never shows a stack trace. */
function fail(error: unknown, secrets: string[]): void {
  let message: string
  if (error instanceof ConfigError) message = error.issues.filter((i) => i.severity === 'error').map(formatIssue).join('\n')
  else if (error instanceof ActionInputError || error instanceof UsageError) message = error.message
  else if (error instanceof InputError) message = error.problems.join('\n')
  else message = `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
  core.setFailed(redact(message, secrets))
}
