import type { CommandModule } from 'yargs';
import { runPolicyServer } from './handler';
import { policyServerOptions, type PolicyServerArgs } from './options';

export const policyServerCommand: CommandModule<object, PolicyServerArgs> = {
  command: 'policy-server',
  describe: 'serve a policy file to agents over HTTP (GET /policies), reloading it when it changes',
  builder: (yargs) => policyServerOptions(yargs) as never,
  handler: (args) => runPolicyServer(args),
};
