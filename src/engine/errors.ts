// The base of errors caused by what a user wrote or passed: the front doors print their message, never a stack.

export class UserError extends Error {
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** A mistake in how tako was invoked (exit code 2), as opposed to a failing step. */
export class UsageError extends UserError {}
