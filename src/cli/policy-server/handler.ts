import { handleTerminationSignals } from '../../agent/shutdown';
import { createLogger } from '../../log/logger';
import { PolicyFileError, startPolicyServer } from '../../policy/service-server';
import { UserError } from '../shared/user-error';
import type { PolicyServerArgs } from './options';

export async function runPolicyServer(args: PolicyServerArgs): Promise<void> {
  const log = createLogger(args.logLevel ?? 'info', 'dysco-policy-server');
  let server;
  try {
    server = await startPolicyServer({
      file: args.file,
      log,
      ...(args.host !== undefined ? { host: args.host } : {}),
      ...(args.port !== undefined ? { port: args.port } : {}),
      ...(args.pollMs !== undefined ? { pollMs: args.pollMs } : {}),
    });
  } catch (error) {
    if (error instanceof PolicyFileError) throw new UserError(error.message);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new UserError(`cannot listen: ${(error as Error).message}`);
    throw error;
  }
  const running = server;
  log.info({ event: 'ready', url: running.url, version: running.current().version }, 'policy server ready');
  handleTerminationSignals({ timeoutMs: 2000, stop: () => running.close(), log });
}
