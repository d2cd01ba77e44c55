// The base of errors caused by what a user wrote or passed: the front doors print their message, never a stack.

export class UserError extends Error {
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}
