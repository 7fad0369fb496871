/** Shared helpers for tests that need root, network namespaces or system tools: they skip, with the reason. */
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

/** Whether `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** Why network-namespace tests cannot run here, or undefined if they can. */
export function netnsUnavailableReason(tools: readonly string[] = ['ip']): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (!isRoot()) return 'needs root (network namespaces)';
  for (const t of tools) if (!hasCommand(t)) return `needs ${t}`;
  return undefined;
}

/** Skip the test (with the reason) unless root and the tools are present; returns true if skipped. */
export function skipUnlessNetns(t: TestContext, tools: readonly string[] = ['ip']): boolean {
  const reason = netnsUnavailableReason(tools);
  if (reason === undefined) return false;
  t.skip(reason);
  return true;
}

/** Skip unless root; returns true if skipped. */
export function skipUnlessRoot(t: TestContext): boolean {
  if (isRoot()) return false;
  t.skip('needs root');
  return true;
}
