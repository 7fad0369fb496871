import { Agent } from '../../agent/agent';
import { handleTerminationSignals } from '../../agent/shutdown';
import { createLogger } from '../../log/logger';
import { resolveAgentConfig, type AgentArgs } from './options';

export async function runAgent(args: AgentArgs): Promise<void> {
  const config = resolveAgentConfig(args);
  const log = createLogger(config.log.level, 'dysco-agent');
  const agent = new Agent(config, log);
  handleTerminationSignals({ timeoutMs: config.shutdown.timeoutMs, stop: (reason) => agent.stop(reason), log });
  // A rotated key file takes effect without a restart.
  process.on('SIGHUP', () => void agent.reloadKeys().catch((error: unknown) => log.error({ err: error }, 'key reload failed')));
  try {
    await agent.start();
  } catch (error) {
    log.error({ err: error }, 'agent failed to start');
    await agent.stop('start failed').catch(() => undefined);
    process.exitCode = 1;
    throw error;
  }
}
