// Owns the action's inputs and the runner's tokens once the action starts: they are taken out of every environment a
// step could read and kept in this process's memory, handed out by name (inputs) or for the length of a call (cache).
//
// A process's initial environment block stays readable in /proc/<pid>/environ by every process of the same user for
// the life of the process; deleting from process.env (unsetenv) only drops libc's pointer to it. So the entries are
// first copied here, then deleted, then their bytes in the initial block are overwritten with NULs through
// /proc/self/mem (its bounds are fields 50-51 of /proc/self/stat), as process-title libraries rewrite argv. This works
// on Node 20 and 24 alike; re-executing with a clean environment (process.execve) would need Node 22.15+ and a second
// channel for the secrets. Entries left in place keep their bytes: libc still points into the block for them.

import { openSync, closeSync, readFileSync, readSync, writeSync } from 'node:fs'
import { secretForms } from './outputs.js'

/** The runner's tokens and service URLs, `@actions/cache` reads from process.env while it runs. */
const RUNTIME = ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_RESULTS_URL', 'ACTIONS_CACHE_URL', 'ACTIONS_RUNTIME_URL', 'ACTIONS_CACHE_SERVICE_V2']
/** Also taken: tokens a workflow commonly puts in the step's env for other tools, and the OIDC request. */
const OTHER = ['ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_URL', 'GITHUB_TOKEN', 'GH_TOKEN']

export interface TakenSecrets {
  /** Names taken out of the environment. */
  names: string[]
  /** Set when the initial environment block could not be overwritten: what a warning should say. */
  failure?: string
}

let taken: Map<string, string> | undefined

function isTaken(name: string): boolean {
  return name.startsWith('INPUT_') || RUNTIME.includes(name) || OTHER.includes(name)
}

/**
 * Takes every INPUT_*, the runner's ACTIONS_* tokens and URLs, GITHUB_TOKEN/GH_TOKEN, and any variable whose value
 * holds the token input in one of its forms, out of the environment. Call once, first thing in the action's entry.
 */
export function takeRunnerSecrets(env: NodeJS.ProcessEnv = process.env): TakenSecrets {
  const token = env.INPUT_TOKEN?.trim() ?? ''
  // A value is searched for the token only when the token is long enough not to be found by chance (PATH holds `a`).
  const forms = token.length >= 8 ? secretForms(token) : []
  taken = new Map()
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (isTaken(name) || forms.some((f) => value.includes(f))) taken.set(name, value)
  }
  for (const name of taken.keys()) delete env[name]
  const names = [...taken.keys()]
  try {
    wipeInitialEnvironment(new Set(names))
    return { names }
  } catch (error) {
    return {
      names,
      failure: `the action's initial environment could not be cleared (${(error as Error).message}): processes of the job's user can read the token from /proc/${process.pid}/environ`
    }
  }
}

/** Overwrites `NAME=value` entries of the initial environment block with NULs. */
function wipeInitialEnvironment(names: Set<string>): void {
  if (names.size === 0) return
  const stat = readFileSync('/proc/self/stat', 'utf8')
  // Fields after the command name, which may hold spaces and parentheses: field 3 is the first after its `)`.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ')
  const start = Number(fields[50 - 3])
  const end = Number(fields[51 - 3])
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) throw new Error('no environment bounds in /proc/self/stat')
  const fd = openSync('/proc/self/mem', 'r+')
  try {
    const block = Buffer.alloc(end - start)
    readSync(fd, block, 0, block.length, start)
    for (let at = 0; at < block.length;) {
      const nul = block.indexOf(0, at)
      const stop = nul < 0 ? block.length : nul
      const entry = block.subarray(at, stop)
      const eq = entry.indexOf(0x3d)
      if (eq > 0 && names.has(entry.subarray(0, eq).toString('utf8'))) writeSync(fd, Buffer.alloc(stop - at), 0, stop - at, start + at)
      at = stop + 1
    }
  } finally {
    closeSync(fd)
  }
}

/** An input as @actions/core's getInput reads it (`INPUT_<NAME>`, spaces as `_`, upper-cased), from memory once
    taken; before that (tests importing run()) from process.env. */
export function actionInput(name: string): string {
  const key = `INPUT_${name.replace(/ /g, '_').toUpperCase()}`
  return (taken ? taken.get(key) : process.env[key])?.trim() ?? ''
}

/**
 * Runs `fn` (a cache call) with the runner's cache variables back in process.env, then takes them out again. The heap
 * copy setenv makes is not in /proc/<pid>/environ; every process the engine starts gets an explicit environment
 * without them (see stepEnvironment in main.ts and git.ts).
 */
export async function withRuntimeEnv<T>(fn: () => Promise<T>): Promise<T> {
  if (!taken) return fn()
  const names = RUNTIME.filter((n) => taken!.has(n))
  for (const n of names) process.env[n] = taken.get(n)
  try {
    return await fn()
  } finally {
    for (const n of names) delete process.env[n]
  }
}

/** Names no process the engine starts may inherit, whatever process.env holds at that moment. */
export function isSecretVariable(name: string): boolean {
  return isTaken(name) || (taken?.has(name) ?? false)
}
