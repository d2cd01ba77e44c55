// The action's post step (action.yml `post`, `post-if: always()`): finishes what a main step that was killed could
// not. The runner cancels a job with SIGINT, SIGTERM 7.5 s later and SIGKILL 2.5 s after that; whatever the main
// step had not done by then is done here, from what it recorded in the action's state as it went:
// - dispatched runs still running in subscriber repositories are cancelled (all at once, each bounded);
// - the re-run store (successful children, for "Re-run failed jobs") is saved from the report it wrote.
// One bundle serves both phases, as actions/checkout does: the state the main step saved tells them apart.

import * as core from '@actions/core'
import { readFile } from 'node:fs/promises'
import { State, Inputs } from './github/constants.js'
import { cancelRuns, type DispatchedRun } from './github/dispatch.js'
import { OutcomeStore, type OutcomeScope } from './github/outcomes.js'
import { secretForms } from './github/outputs.js'
import { actionInput, withRuntimeEnv } from './github/runner-secrets.js'
import type { RunReport } from './engine/types.js'

export function isPostPhase(): boolean {
  return core.getState(State.Main) !== ''
}

/** What the main step left to do, as recorded in the state it saved. */
export interface PendingWork {
  runs: DispatchedRun[]
  outcomes?: { scope: OutcomeScope; reportPath: string }
}

export function pendingWork(env: NodeJS.ProcessEnv): PendingWork {
  const runs: DispatchedRun[] = []
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(`STATE_${State.RunPrefix}`) || !value) continue
    runs.push(JSON.parse(value) as DispatchedRun)
  }
  const outcomes = env[`STATE_${State.Outcomes}`]
  return { runs, outcomes: outcomes ? (JSON.parse(outcomes) as PendingWork['outcomes']) : undefined }
}

/** Never fails the job: it only cleans up after the main step, which reported the run. */
export async function runPost(): Promise<void> {
  try {
    const work = pendingWork(process.env)
    if (work.runs.length === 0 && !work.outcomes) {
      core.info('tako: the main step finished everything; nothing to clean up')
      return
    }
    const token = actionInput(Inputs.Token)
    for (const form of new Set(token.trim() ? secretForms(token) : [])) core.setSecret(form)
    if (work.runs.length > 0) {
      core.info(`tako: cancelling ${work.runs.length} dispatched run(s) the main step left running`)
      const apiUrl = (process.env.GITHUB_API_URL || 'https://api.github.com').replace(/\/$/, '')
      for (const { run, stopped, note } of await cancelRuns({ apiUrl, token }, work.runs)) {
        const line = `${run.repository}: ${run.url || `run ${run.id}`}: ${note}`
        if (stopped) core.info(line)
        else core.warning(line)
      }
    }
    if (work.outcomes) {
      const text = await readFile(work.outcomes.reportPath, 'utf8').catch(() => undefined)
      if (text === undefined) core.info('tako: the main step ended before writing its report; no outcomes to keep for a re-run')
      else {
        const kept = await withRuntimeEnv(() => new OutcomeStore(work.outcomes!.scope).save(JSON.parse(text) as RunReport))
        if (kept.warning) core.warning(kept.warning)
        else core.info("tako: kept this attempt's outcomes for a re-run")
      }
    }
  } catch (error) {
    core.warning(`tako post step: ${error instanceof Error ? error.message : String(error)}`)
  }
}
