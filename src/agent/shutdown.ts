// Graceful shutdown on SIGINT/SIGTERM: the first signal starts an ordered stop, a second signal
// forces exit, and a hard timeout bounds the whole thing.
import type { Logger } from '../log/logger';

export interface ShutdownOptions {
  timeoutMs: number;
  stop(reason: string): Promise<void>;
  log: Logger;
  exit?: (code: number) => void;
}

export function handleTerminationSignals(options: ShutdownOptions): AbortSignal {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      options.log.warn({ signal }, 'second signal: forcing exit');
      exit(130);
      return;
    }
    controller.abort(signal);
    const timer = setTimeout(() => {
      options.log.error({ timeoutMs: options.timeoutMs }, 'shutdown timed out: forcing exit');
      exit(1);
    }, options.timeoutMs);
    timer.unref();
    options
      .stop(signal)
      .then(() => exit(0))
      .catch((error: unknown) => {
        options.log.error({ err: error }, 'shutdown failed');
        exit(1);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
