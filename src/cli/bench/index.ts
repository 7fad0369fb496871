// `dysco bench <name> [options]`: runs the compiled benchmark program (dist/bench/main.js) as a child process with
// the same arguments. The benchmarks are development harnesses outside src/, so the command finds them by path;
// their names and options are theirs (`dysco bench --help` shows them).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { UserError } from '../shared/user-error';

/** dist/bench/main.js, from this compiled file at dist/src/cli/bench/index.js. */
export const BENCH_ENTRY = resolve(__dirname, '..', '..', '..', 'bench', 'main.js');

interface BenchArgs {
  args: string[];
}

/** Runs the benchmark program with `args`; resolves with its exit code (a signal counts as 1). */
export function runBenchProgram(args: readonly string[], entry = BENCH_ENTRY): Promise<number> {
  if (!existsSync(entry)) throw new UserError(`no benchmark program at ${entry} (build with npm run build:ts)`);
  const child = spawn(process.execPath, [entry, ...args], { stdio: 'inherit' });
  return new Promise((resolveExit, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolveExit(code ?? 1));
  });
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench [args..]',
  describe: 'run a benchmark; dysco bench --help lists them and their options',
  builder: (yargs) =>
    yargs
      .positional('args', { type: 'string', array: true, default: [], describe: 'benchmark name and its options' })
      .help(false)
      .version(false)
      .strict(false)
      .parserConfiguration({ 'unknown-options-as-args': true }) as never,
  handler: async (args) => {
    process.exitCode = await runBenchProgram(args.args.map(String));
  },
};
