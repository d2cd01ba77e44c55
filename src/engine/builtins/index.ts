// The registry of built-in steps (`uses: tako/<name>@<version>`): each one's `with` schema, load-time checks, executor
// and dry-run preview live in its own module here; the loader, the runner and the plan consult this list only.

import type { StepExecutor } from '../step-executor.js'
import type { Discovery } from '../discovery.js'
import type { ChildWorkflowExecutor } from '../child-workflow-executor.js'
import type { WithSchema } from './with.js'
import { FanOutExecutor, withSchema as fanOutWith, checkWith as checkFanOut } from './fan-out.js'
import { PullRequestExecutor, withSchema as pullRequestWith, checkWith as checkPullRequest, type Delivery } from './pull-request.js'

/** What a built-in's own load-time check can see and say, beyond its schema. */
export interface WithCheckContext {
  /** The key is present and its value known before the run (not a template). */
  known(key: string): boolean
  error(key: string, message: string): void
  warn(key: string, message: string): void
  /** Checks a version-like value at `key` as the file spells it. */
  version(key: string): void
  artifacts: Set<string>
  produced: string[]
  didYouMean(word: string, candidates: Iterable<string>): string
  list(names: Iterable<string>): string
}

export type WithCheck = (args: Record<string, unknown>, ctx: WithCheckContext) => void

/** What the engine hands every built-in's executor. */
export interface BuiltinDeps {
  discovery: Discovery
  children: ChildWorkflowExecutor
  delivery: Delivery
}

export interface Builtin {
  /** As written before the `@`: tako/fan-out. */
  name: string
  versions: string[]
  description: string
  withSchema: WithSchema
  check?: WithCheck
  create(deps: BuiltinDeps): StepExecutor
}

export const BUILTINS: Builtin[] = [
  {
    name: 'tako/fan-out',
    versions: ['v1'],
    description: 'Emit an event; every subscriber runs one of its workflows as a child run',
    withSchema: fanOutWith,
    check: checkFanOut,
    create: (deps) => new FanOutExecutor({ discovery: deps.discovery, children: deps.children })
  },
  {
    name: 'tako/pull-request',
    versions: ['v1'],
    description: "Commit the workspace's changes, push a branch tako owns and open or update its pull request",
    withSchema: pullRequestWith,
    check: checkPullRequest,
    create: (deps) => new PullRequestExecutor(deps.delivery)
  }
]

/** The built-in a `uses:` value names (`tako/fan-out@v1`), if it is one of this version's. */
export function builtinFor(uses: string | undefined): Builtin | undefined {
  if (!uses) return undefined
  const at = uses.lastIndexOf('@')
  return BUILTINS.find((b) => b.name === uses.slice(0, at) && b.versions.includes(uses.slice(at + 1)))
}

/** Every `uses:` value this version runs: tako/fan-out@v1, ... */
export function builtinSteps(): string[] {
  return BUILTINS.flatMap((b) => b.versions.map((v) => `${b.name}@${v}`))
}

/** The executor of every built-in, keyed by its `uses:` value, for the WorkflowRunner. */
export function builtinExecutors(deps: BuiltinDeps): Record<string, StepExecutor> {
  const executors: Record<string, StepExecutor> = {}
  for (const builtin of BUILTINS) {
    const executor = builtin.create(deps)
    for (const version of builtin.versions) executors[`${builtin.name}@${version}`] = executor
  }
  return executors
}
