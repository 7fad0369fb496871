// Mistakes a user can fix (bad flags, bad config) are printed without a stack trace.
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
