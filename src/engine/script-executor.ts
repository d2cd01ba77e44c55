// Executes `run:` steps: the templated script in a temp file under bash/sh, outputs collected afterwards.

import { randomUUID } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { renderTemplate } from './template.js'
import { runScript } from './process.js'
import { readRegularFile, RefusedFile } from './regular-file.js'
import { regexCapture } from './regex.js'
import { abortReason, abortStatus, formatMs } from './run-scope.js'
import type { StepExecutor, StepInvocation, StepOutcome } from './step-executor.js'
import type { OutputSource } from '../config/types.js'

const LOG_TAIL_LINES = 30
/** A log tail is for reading in a report: 30 lines, but never more than this. */
const LOG_TAIL_BYTES = 16 * 1024
/** An output file (`from_file:`, `$TAKO_OUTPUT`) larger than this fails its step rather than fill the engine's memory. */
const MAX_OUTPUT_FILE_BYTES = 1024 * 1024

export class ScriptExecutor implements StepExecutor {
  async execute(inv: StepInvocation): Promise<StepOutcome> {
    const { step, scope } = inv
    const script = renderTemplate(step.run ?? '', inv.context, `step "${step.id}" run`)
    // Straight in the run's temp folder, not a folder per step: fewer inodes made and removed per step.
    const outputFile = path.join(scope.tempDir, `output-${randomUUID()}`)
    writeFileSync(outputFile, '')
    try {
      const result = await scope.tree.stepSlots(() =>
        runScript({
          script,
          shell: step.shell,
          cwd: inv.cwd,
          env: { ...inv.env, TAKO_OUTPUT: outputFile },
          timeoutMs: step.timeoutMs,
          signal: inv.signal,
          tempDir: scope.tempDir,
          onOutput: (chunk, stream) => scope.tree.observer.output?.(scope.label, chunk, stream)
        })
      )
      const logTail = result.combined.tailLines(LOG_TAIL_LINES, LOG_TAIL_BYTES)
      if (result.timedOut) {
        return {
          status: 'timed_out',
          exitCode: result.exitCode,
          outputs: {},
          error: `step "${step.id}" timed out after ${formatMs(step.timeoutMs ?? 0)} (its timeout)`,
          logTail
        }
      }
      if (result.cancelled) {
        return { status: abortStatus(inv.signal), exitCode: result.exitCode, outputs: {}, error: abortReason(inv.signal), logTail }
      }
      if (result.exitCode !== 0) {
        const how = result.exitCode === null ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`
        return { status: 'failure', exitCode: result.exitCode, outputs: {}, error: `step "${step.id}" ${how}`, logTail }
      }
      // The step may have replaced its $TAKO_OUTPUT with a FIFO or a link: read like any file it controls.
      let fileOutputs: Record<string, string>
      try {
        fileOutputs = parseOutputFile((await readRegularFile(outputFile, { maxBytes: MAX_OUTPUT_FILE_BYTES })).toString('utf8'))
      } catch (error) {
        if (!(error instanceof RefusedFile)) throw error
        return { status: 'failure', exitCode: 0, outputs: {}, error: `step "${step.id}": its $TAKO_OUTPUT file ${error.message}`, logTail }
      }
      const outputs: Record<string, string> = { ...fileOutputs }
      const problems: string[] = []
      for (const [name, source] of Object.entries(step.outputs)) {
        const value = await readOutput(source, { stdout: result.stdout.text(), stderr: result.stderr.text(), cwd: inv.cwd, fileOutputs })
        if (typeof value === 'string') outputs[name] = value
        else problems.push(`output "${name}": ${value.problem}`)
      }
      if (problems.length > 0) {
        return { status: 'failure', exitCode: 0, outputs, error: `step "${step.id}" ${problems.join('; ')}`, logTail }
      }
      return { status: 'success', exitCode: 0, outputs }
    } finally {
      rmSync(outputFile, { force: true })
    }
  }
}

/** Lines `name=value`, and `name<<DELIM` ... `DELIM` for multi-line values, as GITHUB_OUTPUT accepts. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const body: string[] = []
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i])
      outputs[heredoc[1].trim()] = body.join('\n')
      continue
    }
    const eq = line.indexOf('=')
    if (eq > 0) outputs[line.slice(0, eq).trim()] = line.slice(eq + 1)
  }
  return outputs
}

async function readOutput(
  source: OutputSource,
  from: { stdout: string; stderr: string; cwd: string; fileOutputs: Record<string, string> }
): Promise<string | { problem: string }> {
  switch (source.kind) {
    case 'stdout':
      return from.stdout.trim()
    case 'stderr':
      return from.stderr.trim()
    case 'file': {
      try {
        return (await readRegularFile(source.path, { maxBytes: MAX_OUTPUT_FILE_BYTES, within: from.cwd, folderName: 'working directory' }))
          .toString('utf8')
          .replace(/\r?\n$/, '')
      } catch (error) {
        if (error instanceof RefusedFile) return { problem: `file "${source.path}" ${error.message}` }
        return { problem: `file "${source.path}" was not written` }
      }
    }
    case 'env':
      return source.name in from.fileOutputs ? from.fileOutputs[source.name] : { problem: `"${source.name}" was not written to $TAKO_OUTPUT` }
    case 'regex': {
      const value = regexCapture(source.pattern, from.stdout, { multiline: true })
      return value ?? { problem: `pattern /${source.pattern}/ did not match the step's output` }
    }
  }
}
