import type { CommandModule } from 'yargs';
import { runMigrate, runPolicyAdd, runPolicyList, runPolicyRm, runReconfigure, runSessions } from './handler';
import {
  ctlOptions,
  migrateOptions,
  policyAddOptions,
  reconfigureOptions,
  sessionsOptions,
  type CtlArgs,
  type MigrateArgs,
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

const migrateCommand: CommandModule<CtlArgs, MigrateArgs> = {
  command: 'migrate',
  describe: 'move the sessions through this middlebox to another instance, with their state (run at the middlebox they leave)',
  builder: (yargs) => migrateOptions(yargs) as never,
  handler: (args) => runMigrate(args),
};

export const ctlCommand: CommandModule<object, CtlArgs> = {
  command: 'ctl',
  describe: 'talk to a running agent through its control API',
  builder: (yargs) => ctlOptions(yargs).command(sessionsCommand).command(policyCommand).command(reconfigureCommand).command(migrateCommand).demandCommand(1, 'name a ctl command: sessions, policy, reconfigure, migrate') as never,
  handler: () => undefined,
};
