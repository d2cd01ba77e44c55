// Seam for running a child somewhere else than this machine (the action's dispatch mode, SPEC 7).

import type { InputValue } from '../config/types.js'
import type { Candidate } from './repository-source.js'
import type { ChildError, StepReport, TakoEvent } from './types.js'

export interface DispatchRequest {
  childId: string
  candidate: Candidate
  workflow: string
  /** Subscription inputs rendered with the event; validated by the child itself. */
  inputs: Record<string, InputValue>
  event: TakoEvent
  /** Fires on the fan-out deadline (DeadlineReason) or cancellation: the remote run must be cancelled. */
  signal: AbortSignal
}

export interface DispatchOutcome {
  status: 'success' | 'failure' | 'timed_out' | 'cancelled'
  /** Page of the remote run. */
  url?: string
  error?: ChildError
  steps?: StepReport[]
}

export interface ChildDispatcher {
  dispatch(req: DispatchRequest): Promise<DispatchOutcome>
}

export type ChildMode = 'local' | 'dispatch'
