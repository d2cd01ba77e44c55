// PullRequestExecutor: the `tako/pull-request@v1` step (SPEC 2b): commit the workspace's changes, push the branch
// tako owns to the workspace's origin, and open or update the one pull request for that head and base. The engine
// does the writes that need credentials; no step ever holds them.

import { z } from 'zod'
import { renderDeep } from '../template.js'
import { messageOf } from '../workflow-runner.js'
import type { RunScope } from '../run-scope.js'
import type { StepExecutor, StepInvocation, StepOutcome } from '../step-executor.js'
import type { ChildErrorKind, PullRequestOperation, PullRequestRecord, RunContext, TakoEvent } from '../types.js'
import type { StepSpec } from '../../config/types.js'
import { expect, nameList, parseWith, type WithSchema } from './with.js'
import type { WithCheck } from './index.js'
import { PullRequestApiError, type Delivery, type Identity, type PullRequestApi, type PullRequestInfo } from './pull-request-api.js'
import { commitChanges, currentBranch, GitStepError, inWorkspace, originUrl, pushBranch, PushRejected, validBranchName } from './pull-request-git.js'

export type { Delivery } from './pull-request-api.js'

const USES = 'tako/pull-request@v1'
const AUTHOR = /^\s*([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/

/** The `with` of tako/pull-request@v1, for `validate`, the run and the JSON schema. */
export const withSchema = z.strictObject({
  title: z.string({ error: 'a non-empty string' }).trim().min(1, { error: 'a non-empty string' }).describe('Title of the pull request, templated'),
  branch: expect
    .string()
    .optional()
    .describe('Branch tako owns and force-pushes; default tako/<event type>-<source repository name>, or tako/<workflow> in a root run'),
  base: expect.string().optional().describe('Branch the pull request targets; default the branch the workspace has checked out'),
  body: expect.string().optional().describe('Body of the pull request; default: the triggering event, its source and a link to the run'),
  commit_message: expect.string().optional().describe('Message of the commit; default the title'),
  add_paths: expect.names().optional().describe('Pathspecs to commit; default every change in the workspace'),
  labels: expect.names().optional().describe('Labels added to the pull request'),
  reviewers: expect.names().optional().describe('Users asked to review a new pull request'),
  team_reviewers: expect.names().optional().describe('Teams (slugs) asked to review a new pull request'),
  assignees: expect.names().optional().describe('Users assigned to the pull request'),
  draft: expect.boolean().optional().describe('Open the pull request as a draft (default false)'),
  push_only: expect.boolean().optional().describe('Push the branch and open no pull request (default false)'),
  author: z
    .string()
    .regex(AUTHOR, { error: 'a name and an e-mail address, as in "Jane Doe <jane@example.com>"' })
    .optional()
    .describe('Author of the commit, "Name <email>"; default the committer')
}) satisfies WithSchema

export type PullRequestWith = z.infer<typeof withSchema>

export const checkWith: WithCheck = (args, ctx) => {
  if (ctx.known('branch') && typeof args.branch === 'string' && !/^[^\s~^:?*[\\]+$/.test(args.branch)) {
    ctx.error('branch', `"branch" must be a valid git branch name, got ${JSON.stringify(args.branch)}`)
  }
}

export interface PullRequestSettings {
  title: string
  branch: string
  base?: string
  body: string
  commitMessage: string
  paths: string[]
  labels: string[]
  reviewers: string[]
  teamReviewers: string[]
  assignees: string[]
  draft: boolean
  pushOnly: boolean
  author?: Identity
}

/** The rendered `with` with every default filled in but the base (which needs the workspace). */
export function pullRequestSettings(
  rendered: Record<string, unknown>,
  context: Pick<RunContext, 'event' | 'repository'>,
  workflow: string,
  runUrl?: string
): PullRequestSettings {
  const w = parseWith(USES, withSchema, rendered)
  const author = w.author ? AUTHOR.exec(w.author) : null
  return {
    title: w.title,
    branch: w.branch ?? defaultBranch(context.event, workflow),
    base: w.base,
    body: w.body ?? defaultBody(context.event, context.repository, workflow, runUrl),
    commitMessage: w.commit_message ?? w.title,
    paths: nameList(w.add_paths),
    labels: nameList(w.labels),
    reviewers: nameList(w.reviewers),
    teamReviewers: nameList(w.team_reviewers),
    assignees: nameList(w.assignees),
    draft: w.draft ?? false,
    pushOnly: w.push_only ?? false,
    author: author ? { name: author[1], email: author[2] } : undefined
  }
}

function defaultBranch(event: TakoEvent | undefined, workflow: string): string {
  if (!event) return `tako/${workflow}`
  return `tako/${event.type}-${event.source.split('/').pop() ?? event.source}`
}

function defaultBody(event: TakoEvent | undefined, repository: string, workflow: string, runUrl?: string): string {
  const run = runUrl ? ` ([run](${runUrl}))` : ''
  if (!event) return `Proposed by tako: workflow \`${workflow}\` of ${repository}${run}.`
  const version = event.schema_version ? ` (schema ${event.schema_version})` : ''
  return `Proposed by tako: the event \`${event.type}\`${version} from ${event.source} ran the workflow \`${workflow}\` of ${repository}${run}.`
}

class StepFailure extends Error {
  constructor(
    readonly kind: ChildErrorKind,
    message: string
  ) {
    super(message)
  }
}

export class PullRequestExecutor implements StepExecutor {
  constructor(private readonly delivery: Delivery) {}

  async execute(inv: StepInvocation): Promise<StepOutcome> {
    try {
      const outputs = await this.deliver(inv)
      return { status: 'success', exitCode: 0, outputs }
    } catch (error) {
      const kind = error instanceof StepFailure ? error.kind : undefined
      return { status: 'failure', exitCode: null, outputs: {}, error: messageOf(error), errorKind: kind }
    }
  }

  private async deliver(inv: StepInvocation): Promise<Record<string, string>> {
    const { scope, signal } = inv
    const repository = scope.label.repository
    const rendered = renderDeep(inv.step.with ?? {}, inv.context, `step "${inv.step.id}" with`) as Record<string, unknown>
    const s = pullRequestSettings(rendered, inv.context, scope.label.workflow, this.delivery.runUrl)
    // What the engine's environment has beyond a step's (the action's inputs, runtime tokens) is blanked.
    const baseEnv = scope.tree.baseEnv
    const hidden = baseEnv ? Object.keys(process.env).filter((name) => !Object.hasOwn(baseEnv, name)) : []
    const ws = inWorkspace(scope.workspace, signal, hidden)
    const base = s.base ?? (await currentBranch(ws))
    if (!base) throw new Error(`${USES}: the workspace has no branch checked out (detached HEAD); give "base" in "with"`)
    if (!(await validBranchName(s.branch, ws))) throw new Error(`${USES}: "${s.branch}" is not a valid branch name`)
    if (s.branch === base) throw new Error(`${USES}: the branch "${s.branch}" is the base itself; tako proposes changes on a branch of its own`)
    const outputs = (operation: PullRequestOperation, head = '', pr?: PullRequestInfo): Record<string, string> => ({
      operation,
      branch: s.branch,
      base,
      head_sha: head,
      url: pr?.url ?? '',
      number: pr ? String(pr.number) : ''
    })

    let head: string | undefined
    try {
      head = await commitChanges({
        ws,
        scratch: scope.tempDir,
        base,
        paths: s.paths,
        message: s.commitMessage,
        identity: this.delivery.identity,
        author: s.author
      })
    } catch (error) {
      throw new Error(`${USES}: cannot commit the changes: ${messageOf(error)}`)
    }
    if (!head) return outputs('no_changes')

    const url = this.delivery.remoteUrl(repository, await originUrl(ws))
    if (!url) throw new StepFailure('push_failed', `${USES}: the workspace of ${repository} has no "origin" remote to push to`)
    let pushed: boolean
    try {
      pushed = await pushBranch({ ws, scratch: scope.tempDir, url, branch: s.branch, head, auth: this.delivery.gitAuth(url), signal })
    } catch (error) {
      if (error instanceof PushRejected || error instanceof GitStepError) throw new StepFailure('push_failed', `${USES}: ${error.message}`)
      throw error
    }

    const api = s.pushOnly ? undefined : this.delivery.api(repository, url)
    if (!api) {
      const operation = pushed ? 'pushed' : 'unchanged'
      record(scope, { repository, number: null, url: null, branch: s.branch, base, operation })
      return outputs(operation, head)
    }
    const { operation, pr } = await propose(api, s, base, pushed, repository)
    record(scope, { repository, number: pr.number, url: pr.url, branch: s.branch, base, operation })
    return outputs(operation, head, pr)
  }
}

/** Opens the pull request, or updates the open one for this head and base: never a second one. */
async function propose(
  api: PullRequestApi,
  s: PullRequestSettings,
  base: string,
  pushed: boolean,
  repository: string
): Promise<{ operation: PullRequestOperation; pr: PullRequestInfo }> {
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (error) {
      throw new StepFailure('pull_request_failed', apiMessage(what, repository, error))
    }
  }
  // Labels and assignees are added on every proposal (adding is idempotent, and one removed by hand comes back as
  // create-pull-request does); reviews are requested only of a new pull request, so a re-run never re-requests them.
  const decorate = async (pr: PullRequestInfo): Promise<void> => {
    if (s.labels.length) await call(`labelling #${pr.number}`, () => api.addLabels(pr.number, s.labels))
    if (s.assignees.length) await call(`assigning #${pr.number}`, () => api.addAssignees(pr.number, s.assignees))
  }
  const open = await call('finding the open pull request', () => api.findOpen(s.branch, base))
  if (open) {
    const changed = open.title !== s.title || open.body !== s.body
    const pr = changed ? await call(`updating pull request #${open.number}`, () => api.update(open.number, { title: s.title, body: s.body })) : open
    await decorate(pr)
    return { operation: pushed || changed ? 'updated' : 'unchanged', pr }
  }
  const pr = await call('creating the pull request', () => api.create({ title: s.title, body: s.body, head: s.branch, base, draft: s.draft }))
  await decorate(pr)
  if (s.reviewers.length || s.teamReviewers.length)
    await call(`requesting reviews on #${pr.number}`, () => api.requestReviewers(pr.number, s.reviewers, s.teamReviewers))
  return { operation: 'created', pr }
}

function apiMessage(what: string, repository: string, error: unknown): string {
  const status = error instanceof PullRequestApiError ? error.status : undefined
  const said = messageOf(error)
  if (status === 403 || status === 401) {
    return `${USES}: GitHub refused ${what} in ${repository} (HTTP ${status}: ${said}); the token needs "contents: write" and "pull-requests: write" on ${repository}`
  }
  if (status === 422) return `${USES}: GitHub refused ${what} in ${repository} (HTTP 422): ${said}`
  return `${USES}: ${what} in ${repository} failed${status ? ` (HTTP ${status})` : ''}: ${said}`
}

function record(scope: RunScope, pr: PullRequestRecord): void {
  const runs = (scope.tree.pullRequests ??= new Map<string, PullRequestRecord[]>())
  const list = runs.get(scope.label.id) ?? []
  // One entry per branch and base: a second step proposing the same branch replaces the first's.
  runs.set(scope.label.id, [...list.filter((p) => p.branch !== pr.branch || p.base !== pr.base), pr])
}

export interface PullRequestPreview {
  /** '' for the root run; else the repository of the planned child. */
  repository: string
  workflow: string
  step: string
  branch: string
  base: string
  title: string
  push_only: boolean
}

/** Dry run: which pull request a step would propose. Values that depend on the run are shown as written. */
export function previewPullRequest(step: StepSpec, context: RunContext, workflow: string, fallbackBase: string): PullRequestPreview {
  const raw = step.with ?? {}
  const show = (key: string): string | undefined => {
    const value = raw[key]
    if (value === undefined) return undefined
    try {
      return String(renderDeep(value, context, `step "${step.id}" with ${key}`))
    } catch {
      return String(value)
    }
  }
  return {
    repository: context.repository,
    workflow,
    step: step.id,
    branch: show('branch') ?? defaultBranch(context.event, workflow),
    base: show('base') ?? fallbackBase,
    title: show('title') ?? '',
    push_only: raw.push_only === true
  }
}
