import { ApiClient, ApiError, resolveApiEndpoint } from '../../api/client';
import { UserError } from '../shared/user-error';
import type { MigrationSessionResult } from '../../api/types';
import { formatMigrationProgress, formatMigrationResults, formatMigrationSummary, formatPolicies, formatReconfigureResults, formatSessions } from './format';
import {
  migrateBodyFromArgs,
  policyFromArgs,
  reconfigureBodyFromArgs,
  sessionQueryFromArgs,
  type CtlArgs,
  type MigrateArgs,
  type PolicyAddArgs,
  type PolicyRmArgs,
  type ReconfigureArgs,
  type SessionsArgs,
} from './options';

export type Output = (text: string) => void;
const stdout: Output = (text) => process.stdout.write(`${text}\n`);

function clientFor(args: CtlArgs): ApiClient {
  return new ApiClient(resolveApiEndpoint(args.api), args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {});
}

/** API errors become one-line user errors (exit 1, no stack). */
async function userFacing<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ApiError) throw new UserError(error.message);
    throw error;
  }
}

export function runSessions(args: SessionsArgs, out: Output = stdout): Promise<void> {
  return userFacing(async () => {
    const client = clientFor(args);
    const query = sessionQueryFromArgs(args);
    if (args.all) {
      const sessions = await client.allSessions(query);
      out(args.json ? JSON.stringify({ sessions, nextCursor: null }) : formatSessions(sessions));
      return;
    }
    const page = await client.sessions(query);
    if (args.json) out(JSON.stringify(page));
    else {
      out(formatSessions(page.sessions));
      if (page.nextCursor !== null) out(`(more: --cursor ${page.nextCursor}, or --all)`);
    }
  });
}

export function runPolicyAdd(args: PolicyAddArgs, out: Output = stdout): Promise<void> {
  return userFacing(async () => {
    const { policy } = await clientFor(args).addPolicy(policyFromArgs(args));
    out(args.json ? JSON.stringify({ policy }) : `policy ${policy.name} added`);
  });
}

export function runPolicyList(args: CtlArgs, out: Output = stdout): Promise<void> {
  return userFacing(async () => {
    const { policies } = await clientFor(args).listPolicies();
    out(args.json ? JSON.stringify({ policies }) : formatPolicies(policies));
  });
}

export function runPolicyRm(args: PolicyRmArgs, out: Output = stdout): Promise<void> {
  return userFacing(async () => {
    await clientFor(args).removePolicy(String(args.name));
    if (!args.json) out(`policy ${args.name} removed`);
  });
}

/** Prints one row per session; exits 1 when any run did not complete. */
export function runReconfigure(args: ReconfigureArgs, out: Output = stdout): Promise<void> {
  return userFacing(async () => {
    const body = reconfigureBodyFromArgs(args);
    const { results } = await clientFor(args).reconfigure(body);
    out(args.json ? JSON.stringify({ results }) : formatReconfigureResults(results));
    if (results.some((r) => r.outcome !== 'completed')) process.exitCode = 1;
  });
}

/** Where progress goes: a line rewritten in place (stderr on a terminal), or nothing. */
export type ProgressOutput = ((line: string) => void) | undefined;

const stderrProgress = (): ProgressOutput => (process.stderr.isTTY ? (line) => process.stderr.write(`\r\x1b[2K${line}`) : undefined);

export function runMigrate(args: MigrateArgs, out: Output = stdout, progress: ProgressOutput = args.progress === false ? undefined : stderrProgress()): Promise<void> {
  return userFacing(async () => {
    const body = migrateBodyFromArgs(args);
    const startedAt = performance.now();
    const results: MigrationSessionResult[] = [];
    let total = 0;
    const summary = await clientFor(args).migrate(body, (line) => {
      if (args.json) out(JSON.stringify(line));
      if ('start' in line) total = line.start.sessions;
      else if ('result' in line) results.push(line.result);
      progress?.(formatMigrationProgress(total, results, performance.now() - startedAt));
    });
    if (progress) process.stderr.write('\n');
    if (!args.json) out(`${formatMigrationResults(results)}\n\n${formatMigrationSummary(summary)}`);
    if (summary.completed < summary.sessions) process.exitCode = 1;
  });
}
