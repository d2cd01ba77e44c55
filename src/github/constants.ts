// Names of every input and output of the action (action.yml), in one place so main.ts and the tests agree.

export const Inputs = {
  Workflow: 'workflow',
  Inputs: 'inputs',
  Config: 'config',
  Repositories: 'repositories',
  Token: 'token',
  MaxConcurrency: 'max-concurrency',
  Cache: 'cache',
  CacheKey: 'cache-key',
  CacheRestoreKeys: 'cache-restore-keys',
  DryRun: 'dry-run',
  KeepWorkspaces: 'keep-workspaces',
  Strict: 'strict',
  Mode: 'mode',
  DispatchWorkflow: 'dispatch-workflow',
  Event: 'event',
  ParentRun: 'parent-run'
} as const

export const Outputs = {
  Status: 'status',
  RunId: 'run-id',
  Succeeded: 'succeeded',
  Failed: 'failed',
  Skipped: 'skipped',
  Children: 'children',
  PullRequests: 'pull-requests',
  Outputs: 'outputs',
  ReportPath: 'report-path',
  CacheHit: 'cache-hit'
} as const

/** Names in the action's state (core.saveState), which the runner hands to the post step as STATE_<name>. */
export const State = {
  /** Set by the main step: the same bundle, started again with it, is the post step. */
  Main: 'tako_main',
  /** Prefix of one entry per dispatched run still running (its JSON; emptied once it ended). */
  RunPrefix: 'tako_run_',
  /** The re-run store still to save (scope and report path as JSON; emptied once saved). */
  Outcomes: 'tako_outcomes'
} as const
