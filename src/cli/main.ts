// The `tako` CLI over the engine: commands, exit codes (0/1/2/130), signals, report file.

import { readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { HELP, parseArgs, type CliArgs, type ExecArgs } from './args.js'
import { LiveOutput, planText, summaryText } from './render.js'
import { VERSION } from '../version.js'
import { ConfigError, formatIssue } from '../config/errors.js'
import { loadConfig } from '../config/load.js'
import { takoJsonSchema } from '../config/json-schema.js'
import { InputError } from '../engine/inputs.js'
import { executeRun, makeRunRoot, planRun, prepareRun, UsageError } from '../engine/engine.js'
import { LocalRepositorySource } from '../engine/local-source.js'
import { parseRepoRef } from '../engine/repository-source.js'
import { CancelReason } from '../engine/run-scope.js'
import { killAllGroups } from '../engine/process.js'
import { loadResume } from '../engine/resume.js'

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const

export async function runCli(argv: string[]): Promise<number> {
  const out = (text: string): void => void process.stdout.write(text)
  const err = (text: string): void => void process.stderr.write(text)
  let args: CliArgs
  try {
    args = parseArgs(argv)
    switch (args.command) {
      case 'help':
        out(`${HELP}\n`)
        return EXIT.ok
      case 'version':
        out(`tako ${VERSION}\n`)
        return EXIT.ok
      case 'schema':
        out(`${JSON.stringify(takoJsonSchema(), null, 2)}\n`)
        return EXIT.ok
      case 'validate':
        return await validate(args.root, args.config, out, err)
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
  if (error instanceof UsageError) {
    err(`tako: ${error.message}\n`)
    return EXIT.usage
  }
  if (error instanceof InputError) {
    err(`${error.problems.map((p) => `tako: ${p}`).join('\n')}\n`)
    return EXIT.usage
  }
  err(`tako: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  return EXIT.failed
}

async function validate(root: string, configPath: string | undefined, out: (t: string) => void, err: (t: string) => void): Promise<number> {
  const { config, warnings, path: file } = await loadConfig({ root, configPath })
  for (const w of warnings) err(`${formatIssue(w)}\n`)
  const workflows = Object.keys(config.workflows).length
  out(`✓ ${file} is valid: ${workflows} workflow${workflows === 1 ? '' : 's'}, ${config.subscriptions.length} subscription${config.subscriptions.length === 1 ? '' : 's'}${warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : ''}\n`)
  return EXIT.ok
}

async function exec(args: ExecArgs, log: (t: string) => void, out: (t: string) => void, err: (t: string) => void): Promise<number> {
  if (args.source !== undefined) {
    const parsed = parseRepoRef(args.source)
    if (typeof parsed === 'string' || parsed.ref) throw new UsageError(`--source must be owner/repo: ${typeof parsed === 'string' ? parsed : `"${args.source}" has a ref`}`)
  }
  for (const name of Object.keys(args.repos)) {
    const parsed = parseRepoRef(name)
    if (typeof parsed === 'string' || parsed.ref) throw new UsageError(`--repo ${name}=...: the name must be owner/repo`)
  }
  const prepared = await prepareRun({ root: args.root, configPath: args.config, workflow: args.workflow, inputs: args.inputs, source: args.source })
  const reuse = args.resume ? await loadResume(args.resume) : undefined
  const { runRoot, created } = await makeRunRoot(args.workspace)
  const controller = new AbortController()
  let signals = 0
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++
    if (signals > 1) {
      err(`tako: second ${sig}, killing every step and exiting now\n`)
      killAllGroups()
      process.exit(EXIT.interrupted)
    }
    err(`tako: ${sig} received, stopping every running step (again to force)\n`)
    controller.abort(new CancelReason(`interrupted by ${sig}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const options = {
    root: args.root,
    configPath: args.config,
    workflow: args.workflow,
    inputs: args.inputs,
    source: prepared.source,
    repositorySource: new LocalRepositorySource({ reposDir: args.reposDir, repos: args.repos }),
    runRoot,
    cacheDir: args.cacheDir,
    maxConcurrency: args.maxConcurrency,
    keepWorkspaces: args.keepWorkspaces ? ('all' as const) : ('failed' as const),
    observer: new LiveOutput(log),
    signal: controller.signal,
    reuse
  }
  try {
    for (const w of prepared.warnings) err(`${formatIssue(w)}\n`)
    if (args.dryRun) {
      const plan = await planRun(prepared, options)
      if (args.report) await writeFile(args.report, `${JSON.stringify(plan.report, null, 2)}\n`)
      if (args.json) out(`${JSON.stringify(plan.report, null, 2)}\n`)
      else out(`${planText(plan)}\n`)
      return EXIT.ok
    }
    const report = await executeRun(prepared, options)
    if (args.report) await writeFile(args.report, `${JSON.stringify(report, null, 2)}\n`)
    log(`${summaryText(report)}\n`)
    if (args.report) log(`report: ${path.resolve(args.report)}\n`)
    if (args.json) out(`${JSON.stringify(report, null, 2)}\n`)
    return report.status === 'success' ? EXIT.ok : report.status === 'cancelled' ? EXIT.interrupted : EXIT.failed
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (created) await removeUnlessKept(runRoot, args.keepWorkspaces)
  }
}

/** A run root tako made itself goes away unless it holds kept workspaces. */
async function removeUnlessKept(runRoot: string, keepAll: boolean): Promise<void> {
  if (keepAll) return
  const kept = await readdir(path.join(runRoot, 'children')).catch(() => [])
  if (kept.length === 0) await rm(runRoot, { recursive: true, force: true })
}
