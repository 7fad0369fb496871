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
    const code = statusCodeOf(error);
    return code === undefined ? error : new DatapathError(code, (error as Error).message, { cause: error });
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

/** The name of a native status error's code, or undefined for any other value. */
function statusCodeOf(error: unknown): ErrorCodeName | undefined {
  const code: unknown = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? (code as ErrorCodeName) : undefined;
}

/**
 * Runs an async native call, turning a status rejection into DatapathError. Its stack is the caller's, captured
 * before the call: a promise the addon settles from the event ring carries no JavaScript frames of its own. Its
 * code and message come from the rejection, which becomes its `cause`.
 */
export async function callNativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  // One capture on a plain object, formatted only on failure: a transmit per control message pays for it.
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, callNativeAsync);
  try {
    return await fn();
  } catch (raw) {
    const code = statusCodeOf(raw);
    if (code === undefined) throw raw;
    const error = new DatapathError(code, (raw as Error).message, { cause: raw });
    const callerFrames = (site.stack ?? '').split('\n').slice(1);
    error.stack = [`${error.name}: ${error.message}`, ...callerFrames].join('\n');
    throw error;
  }
}
