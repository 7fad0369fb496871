import type { CommandModule } from 'yargs';
import { runPolicyAdd, runPolicyList, runPolicyRm, runReconfigure, runSessions } from './handler';
import {
  ctlOptions,
  policyAddOptions,
  reconfigureOptions,
  sessionsOptions,
  type CtlArgs,
  type PolicyAddArgs,
  type PolicyRmArgs,
  type ReconfigureArgs,
  type SessionsArgs,
} from './options';

const sessionsCommand: CommandModule<CtlArgs, SessionsArgs> = {
  command: 'sessions',
  describe: 'list the agent\'s sessions (paged)',
  builder: (yargs) => sessionsOptions(yargs) as never,
  handler: (args) => runSessions(args),
};

const policyAddCommand: CommandModule<CtlArgs, PolicyAddArgs> = {
  command: 'add',
  describe: 'add a policy ahead of the config and service policies',
  builder: (yargs) => policyAddOptions(yargs) as never,
  handler: (args) => runPolicyAdd(args),
};

const policyListCommand: CommandModule<CtlArgs, CtlArgs> = {
  command: 'list',
  describe: 'list the effective policies in match order',
  handler: (args) => runPolicyList(args),
};

const policyRmCommand: CommandModule<CtlArgs, PolicyRmArgs> = {
  command: 'rm <name>',
  describe: 'remove a policy added through the API',
  builder: (yargs) => yargs.positional('name', { type: 'string', demandOption: true }) as never,
  handler: (args) => runPolicyRm(args),
};

const policyCommand: CommandModule<CtlArgs, CtlArgs> = {
  command: 'policy',
  describe: 'add, list or remove policies',
  builder: (yargs) =>
    yargs.command(policyAddCommand).command(policyListCommand).command(policyRmCommand).demandCommand(1, 'name a policy command: add, list, rm') as never,
  handler: () => undefined,
};

const reconfigureCommand: CommandModule<CtlArgs, ReconfigureArgs> = {
  command: 'reconfigure',
  describe: 'change the middleboxes of live sessions, run at their left anchor (insert, remove, replace)',
  builder: (yargs) => reconfigureOptions(yargs) as never,
  handler: (args) => runReconfigure(args),
};

export const ctlCommand: CommandModule<object, CtlArgs> = {
  command: 'ctl',
  describe: 'talk to a running agent through its control API',
  builder: (yargs) => ctlOptions(yargs).command(sessionsCommand).command(policyCommand).command(reconfigureCommand).demandCommand(1, 'name a ctl command: sessions, policy, reconfigure') as never,
  handler: () => undefined,
};
