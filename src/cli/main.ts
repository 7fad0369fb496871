#!/usr/bin/env node
// The `dysco` command.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../agent/config';
import { DatapathError } from '../native/errors';
import { agentCommand } from './agent';
import { benchCommand } from './bench';
import { ctlCommand } from './ctl';
import { demoCommand } from './demo';
import { policyCommand } from './policy';
import { policyServerCommand } from './policy-server';
import { testbedCommand } from './testbed';
import { UserError } from './shared/user-error';

export function buildCli(argv: string[]) {
  return yargs(argv)
    .scriptName('dysco')
    .command(agentCommand)
    .command(testbedCommand)
    .command(demoCommand)
    .command(benchCommand)
    .command(ctlCommand)
    .command(policyCommand)
    .command(policyServerCommand)
    .demandCommand(1, 'name a command; see --help')
    .strict()
    .env('DYSCO')
    .help()
    .version();
}

function isUserMistake(error: unknown): boolean {
  return error instanceof UserError || error instanceof ConfigError || error instanceof DatapathError;
}

async function main(): Promise<void> {
  try {
    await buildCli(hideBin(process.argv))
      .fail((message, error, cli) => {
        if (error) throw error;
        cli.showHelp('error');
        throw new UserError(message);
      })
      .parseAsync();
  } catch (error) {
    if (isUserMistake(error)) {
      process.stderr.write(`dysco: ${(error as Error).message}\n`);
    } else {
      process.stderr.write(`dysco: ${(error as Error)?.stack ?? String(error)}\n`);
    }
    process.exitCode = process.exitCode || 1;
  }
}

if (require.main === module) void main();
