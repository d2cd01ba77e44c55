// The `tako` CLI over the engine: commands, exit codes (0/1/2/130), signals, report file.

import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import path from 'node:path'
import { commandHelp, commandNamed, helpText, parseArgs, type CliArgs, type ExecArgs } from './args.js'
import { LiveOutput, planText, summaryText } from './render.js'
import { colorsFor, StatusLine } from './status.js'
import { VERSION } from '../version.js'
import { ConfigError, formatIssue } from '../config/errors.js'
import { loadConfig } from '../config/load.js'
import { takoJsonSchema } from '../config/json-schema.js'
import { InputError } from '../engine/inputs.js'
import { executeRun, makeRunRoot, planRun, prepareRun } from '../engine/engine.js'
import { UsageError, UserError } from '../engine/errors.js'
import type { RunReport, TakoEvent } from '../engine/types.js'
import { parseEventJson } from '../engine/event-input.js'
import { validateRepos } from './validate-repos.js'
import { LocalRepositorySource } from '../engine/local-source.js'
import { parseRepoRef } from '../engine/repository-source.js'
import { abortReason, CancelReason, newRunId } from '../engine/run-scope.js'
import { RunProgress, type RunHeader } from '../engine/progress.js'
import { killAllGroups } from '../engine/process.js'
import { loadResume } from '../engine/resume.js'
import { cliDelivery } from '../github/pull-requests.js'
import { makeDirectory } from '../engine/directories.js'
import { reportJson, writeJsonFile, writeJsonFileSync } from '../engine/report-file.js'
import { graphCommand } from './graph.js'
import { runCommand } from './run.js'
import { completionCommand } from './completion.js'

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const

const OWN_COMMANDS: Record<string, (argv: string[], io: { out: (t: string) => void; err: (t: string) => void }) => Promise<number>> = {
  graph: graphCommand,
  run: runCommand,
  completion: completionCommand
}

export async function runCli(argv: string[]): Promise<number> {
  const out = (text: string): void => void process.stdout.write(text)
  const err = (text: string): void => void process.stderr.write(text)
  let args: CliArgs
  try {
    args = parseArgs(argv)
    switch (args.command) {
      case 'own':
        return await OWN_COMMANDS[args.name](args.argv, { out, err })
      case 'help': {
        const spec = args.topic ? commandNamed(args.topic) : undefined
        out(`${spec ? commandHelp(spec) : helpText()}\n`)
        return EXIT.ok
      }
      case 'version':
        out(`tako ${VERSION}\n`)
        return EXIT.ok
      case 'schema':
        out(`${JSON.stringify(takoJsonSchema(), null, 2)}\n`)
        return EXIT.ok
      case 'validate':
        return args.reposDir !== undefined ? await validateRepos(args.reposDir, out, err) : await validate(args.root, args.config, out, err)
      case 'exec':
        return await exec(args, args.json ? err : out, out, err)
    }
  } catch (error) {
    return reportError(error, err)
  }
}

function reportError(error: unknown, err: (t: string) => void): number {
  if (error instanceof ConfigError) {
    err(`${error.issues.map(formatIssue).join('\n')}\n`)
    return EXIT.usage
  }
  if (error instanceof InputError) {
    err(`${error.problems.map((p) => `tako: ${p}`).join('\n')}\n`)
    return EXIT.usage
  }
  if (error instanceof UserError) {
    err(`tako: ${error.message}\n`)
    return EXIT.usage
  }
  err(`tako: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  return EXIT.failed
}

async function validate(root: string, configPath: string | undefined, out: (t: string) => void, err: (t: string) => void): Promise<number> {
  const { config, warnings, path: file } = await loadConfig({ root, configPath })
  for (const w of warnings) err(`${formatIssue(w)}\n`)
  const workflows = Object.keys(config.workflows).length
  out(
    `✓ ${file} is valid: ${workflows} workflow${workflows === 1 ? '' : 's'}, ${config.subscriptions.length} subscription${config.subscriptions.length === 1 ? '' : 's'}${warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : ''}\n`
  )
  return EXIT.ok
}

async function exec(args: ExecArgs, log: (t: string) => void, out: (t: string) => void, err: (t: string) => void): Promise<number> {
  await checkExecArgs(args)
  const event = args.event !== undefined ? await readEvent(args.event) : undefined
  const runId = newRunId()
  const prepared = await prepareRun({
    root: args.root,
    configPath: args.config,
    workflow: args.workflow,
    inputs: args.inputs,
    source: args.source,
    event,
    subscription: args.subscription,
    runId
  })
  const reuse = args.resume ? await loadResume(args.resume) : undefined
  const { runRoot, created } = await makeRunRoot(args.workspace, '--workspace')
  if (args.cacheDir !== undefined) await makeDirectory(args.cacheDir, `--cache-dir ${args.cacheDir}`)
  const controller = new AbortController()
  const header: RunHeader = { runId, source: prepared.source, workflow: prepared.workflow.name, inputs: prepared.inputs, startedAt: new Date() }
  const stream = args.json ? process.stderr : process.stdout
  const colors = colorsFor(stream)
  const status = new StatusLine(stream, colors)
  status.forwardTo(new LiveOutput((text) => status.print(text), colors))
  const progress = new RunProgress(status)
  let signals = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++
    if (signals > 1) {
      err(`tako: second ${sig}, killing every step and exiting now\n`)
      killAllGroups()
      if (args.report) writeCutShortReport(args.report, progress.interrupt(header, `${abortReason(controller.signal)}, then ${sig}`), log, err)
      process.exit(EXIT.interrupted)
    }
    err(`tako: ${sig} received, stopping every running step (again to force)\n`)
    controller.abort(new CancelReason(`interrupted by ${sig}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const repositorySource = new LocalRepositorySource({ reposDir: args.reposDir, repos: args.repos })
  const options = {
    root: args.root,
    configPath: args.config,
    workflow: args.workflow,
    inputs: args.inputs,
    source: prepared.source,
    repositorySource,
    runRoot,
    cacheDir: args.cacheDir,
    maxConcurrency: args.maxConcurrency,
    keepWorkspaces: args.keepWorkspaces ? ('all' as const) : ('failed' as const),
    observer: progress,
    runId: header.runId,
    signal: controller.signal,
    reuse,
    delivery: cliDelivery({
      token: process.env.GITHUB_TOKEN || process.env.GH_TOKEN || undefined,
      apiUrl: args.apiUrl,
      log: (m: string) => err(`tako: ${m}\n`)
    }),
    event,
    strict: args.strict
  }
  try {
    for (const w of prepared.warnings) err(`${formatIssue(w)}\n`)
    if (prepared.note) log(`${prepared.note}\n`)
    if (args.dryRun) {
      const plan = await planRun(prepared, options)
      status.close()
      if (args.json) await printJson(plan.report)
      else out(`${planText(plan, prepared.warnings.length)}\n`)
      const code = plan.report.status === 'success' ? EXIT.ok : EXIT.failed
      return (await writeReport(args.report, plan.report, log, err)) || code !== EXIT.ok ? code : EXIT.usage
    }
    const report = await executeRun(prepared, options)
    status.close()
    log(`${summaryText(report, prepared.warnings.length, colors)}\n`)
    if (args.json) await printJson(report)
    const code = report.status === 'success' ? EXIT.ok : report.status === 'cancelled' ? EXIT.interrupted : EXIT.failed
    return (await writeReport(args.report, report, log, err)) || code !== EXIT.ok ? code : EXIT.usage
  } finally {
    status.close()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    repositorySource.close()
    if (created) await removeUnlessKept(runRoot, args.keepWorkspaces)
  }
}

/** `--event`: JSON given inline (it starts with `{`), else the path of a file holding it. */
async function readEvent(given: string): Promise<TakoEvent> {
  const inline = given.trimStart().startsWith('{')
  let text = given
  if (!inline) {
    const info = await stat(given).catch(() => undefined)
    if (!info?.isFile()) throw new UsageError(`--event ${given}: neither JSON (it starts with "{") nor a file`)
    if (info.size > MAX_EVENT_BYTES) throw new UsageError(`--event ${given}: the file is over ${MAX_EVENT_BYTES} bytes`)
    text = await readFile(given, 'utf8')
  }
  try {
    const event = parseEventJson(text)
    if (!event) throw new Error('empty')
    return event
  } catch (error) {
    throw new UsageError(`--event ${inline ? '' : `${given}: `}${(error as Error).message}`)
  }
}

const MAX_EVENT_BYTES = 1024 * 1024

/** Paths and names a run needs, checked before anything runs: a typo must not cost a whole run. */
async function checkExecArgs(args: ExecArgs): Promise<void> {
  if (args.source !== undefined) {
    const parsed = parseRepoRef(args.source)
    if (typeof parsed === 'string' || parsed.ref)
      throw new UsageError(`--source must be owner/repo: ${typeof parsed === 'string' ? parsed : `"${args.source}" has a ref`}`)
  }
  for (const [name, dir] of Object.entries(args.repos)) {
    const parsed = parseRepoRef(name)
    if (typeof parsed === 'string' || parsed.ref) throw new UsageError(`--repo ${name}=${dir}: the name must be owner/repo`)
    await expectDirectory(dir, `--repo ${name}=${dir}`, true)
  }
  if (args.reposDir !== undefined) await expectDirectory(args.reposDir, `--repos ${args.reposDir}`, true)
  if (args.workspace !== undefined) await expectDirectory(args.workspace, `--workspace ${args.workspace}`, false)
  if (args.cacheDir !== undefined) await expectDirectory(args.cacheDir, `--cache-dir ${args.cacheDir}`, false)
  if (args.apiUrl !== undefined && !/^https?:\/\/[^/]+/.test(args.apiUrl))
    throw new UsageError(`--api-url must be an http(s) URL such as https://github.example.com/api/v3, got "${args.apiUrl}"`)
  if (args.report !== undefined) {
    await expectDirectory(path.dirname(path.resolve(args.report)), `--report ${args.report}: its folder`, true)
    if ((await stat(args.report).catch(() => undefined))?.isDirectory()) throw new UsageError(`--report ${args.report} is a directory; give a file name`)
  }
}

async function expectDirectory(dir: string, what: string, mustExist: boolean): Promise<void> {
  const info = await stat(dir).catch(() => undefined)
  if (!info && mustExist) throw new UsageError(`${what} does not exist`)
  if (info && !info.isDirectory()) throw new UsageError(`${what} is not a directory`)
}

/** The report is written after the summary is shown, so a failed write never hides how the run went. */
/** On a forced exit there is no event loop left to wait on: the report is written synchronously, or said to fail. */
function writeCutShortReport(file: string, report: RunReport, log: (t: string) => void, err: (t: string) => void): void {
  try {
    writeJsonFileSync(file, report)
    log(`report: ${path.resolve(file)} (cut short)\n`)
  } catch (error) {
    err(`tako: cannot write the report to ${file}: ${(error as Error).message}\n`)
  }
}

async function writeReport(file: string | undefined, report: RunReport, log: (t: string) => void, err: (t: string) => void): Promise<boolean> {
  if (!file) return true
  try {
    await writeJsonFile(file, report)
    log(`report: ${path.resolve(file)}\n`)
    return true
  } catch (error) {
    err(`tako: cannot write the report to ${file}: ${(error as Error).message}\n`)
    return false
  }
}

/** --json: the report streamed to stdout, which a report too large for one string survives. */
async function printJson(report: RunReport): Promise<void> {
  await pipeline(reportJson(report), process.stdout, { end: false })
  process.stdout.write('\n')
}

/** A run root tako made itself goes away unless it holds kept workspaces. */
async function removeUnlessKept(runRoot: string, keepAll: boolean): Promise<void> {
  if (keepAll) return
  const kept = await readdir(path.join(runRoot, 'children')).catch(() => [])
  if (kept.length === 0) await rm(runRoot, { recursive: true, force: true })
}
