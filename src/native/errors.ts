// DatapathError: a native status code with its name from native/core/error_codes.def.
import { ERROR_CODES, ERROR_MESSAGES, type ErrorCodeName } from './generated/codes';

export class DatapathError extends Error {
  readonly code: ErrorCodeName;

  constructor(code: ErrorCodeName, message: string = ERROR_MESSAGES[code], options?: ErrorOptions) {
    super(message, options);
    this.name = 'DatapathError';
    this.code = code;
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }

  /** Wraps an error thrown by the addon; anything else is returned unchanged. */
  static from(error: unknown): unknown {
    if (error instanceof DatapathError) return error;
    const code: unknown = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
    if (typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)) {
      return new DatapathError(code as ErrorCodeName, (error as Error).message, { cause: error });
    }
    return error;
  }
}

/** Runs a native call, turning status errors into DatapathError. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw DatapathError.from(error);
  }
}

/**
 * Runs an asynchronous native call. The lcore rejects it from an event, where no JavaScript frame of the
 * caller is left, so the stack is taken here, before the call, and given to the DatapathError.
 */
export async function callNativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  const callSite: { stack?: string } = {};
  Error.captureStackTrace(callSite, callNativeAsync);
  try {
    return await fn();
  } catch (error) {
    const mapped = DatapathError.from(error);
    if (mapped instanceof DatapathError && mapped !== error && callSite.stack !== undefined) {
      mapped.stack = `${mapped.name}: ${mapped.message}${callSite.stack.slice(callSite.stack.indexOf('\n'))}`;
    }
    throw mapped;
  }
}
