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
  Outputs: 'outputs',
  ReportPath: 'report-path',
  CacheHit: 'cache-hit'
} as const
