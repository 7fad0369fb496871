// `dysco policy-server` flags. Defaults (127.0.0.1:9466, 1 s file polling) live in src/policy/service-server.ts.
import type { Argv } from 'yargs';

export interface PolicyServerArgs {
  file: string;
  host?: string;
  port?: number;
  pollMs?: number;
  logLevel?: string;
}

export function policyServerOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('file', { type: 'string', demandOption: true, describe: 'policy file (YAML or JSON): a list of policies or { policies: [...] }' })
    .option('host', { type: 'string', describe: 'address to bind (default 127.0.0.1)' })
    .option('port', { type: 'number', describe: 'port to bind (default 9466)' })
    .option('poll-ms', { type: 'number', describe: 'how often the file is checked for changes (default 1000)' })
    .option('log-level', { type: 'string', describe: 'fatal|error|warn|info|debug|trace|silent' });
}
