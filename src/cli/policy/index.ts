import type { CommandModule } from 'yargs';
import { runPolicyList, runPolicyPush } from './handler';
import { policyStoreOptions, type PolicyPushArgs, type PolicyStoreArgs } from './options';

const pushCommand: CommandModule<PolicyStoreArgs, PolicyPushArgs> = {
  command: 'push',
  describe: "replace the fleet's policy set in etcd with a policy file's list (one transaction)",
  builder: (yargs) =>
    yargs.option('file', { type: 'string', demandOption: true, describe: 'policy file (YAML or JSON): a list of policies or { policies: [...] }' }) as never,
  handler: (args) => runPolicyPush(args),
};

const listCommand: CommandModule<PolicyStoreArgs, PolicyStoreArgs> = {
  command: 'list',
  describe: "print the fleet's policy set in etcd, in match order",
  handler: (args) => runPolicyList(args),
};

export const policyCommand: CommandModule<object, PolicyStoreArgs> = {
  command: 'policy',
  describe: "the fleet's policies in etcd (agents with policyEtcd watch them); per-agent policies: dysco ctl policy",
  builder: (yargs) => policyStoreOptions(yargs).command(pushCommand).command(listCommand).demandCommand(1, 'name a policy command: push, list') as never,
  handler: () => undefined,
};
