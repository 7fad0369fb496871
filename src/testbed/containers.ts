// Agents from a container image (`--agent-image`): each host's agent runs under podman inside that host's agent
// namespace, in place of a Node process. The container shares the host's pid namespace, so the agent's pid (its API
// socket's name, the one signals go to) is the same inside and out; it sees the run directory and the API socket
// directory at the same paths, and the network namespaces for a middlebox stack's state.
import { readFileSync } from 'node:fs';
import { run, runSyncQuiet } from './exec';
import { NAMESPACE_PREFIX, runIdOfNamespace } from './names';

/** crun refuses the hybrid cgroup hierarchy of these kernels; runc does not. */
const PODMAN_GLOBAL_ARGS = ['--runtime', 'runc'];
const NETNS_DIR = '/run/netns';
const CONMON_NPROC = 32_768;

/** A host's agent container: `dysco-<run>-<host>-agent`, found by its run id like the namespaces. */
export function agentContainerName(runId: string, host: string): string {
  return `${NAMESPACE_PREFIX}${runId}-${host}-agent`;
}

export interface AgentContainer {
  name: string;
  image: string;
  /** the agent namespace the container joins */
  agentNs: string;
  /** directories the agent reads or writes at the same path as the testbed (config, keys, API sockets) */
  sharedDirs: readonly string[];
  /** the `dysco` command's arguments (`agent …`) */
  args: readonly string[];
}

/** The podman command that runs the agent in its container, attached (its output is the agent's log). */
export function containerAgentArgv(c: AgentContainer): string[] {
  const dirs = [...new Set([...c.sharedDirs, NETNS_DIR])];
  return [
    'podman',
    ...PODMAN_GLOBAL_ARGS,
    'run',
    '--rm',
    '--name',
    c.name,
    '--privileged',
    '--network',
    `ns:${NETNS_DIR}/${c.agentNs}`,
    '--pid',
    'host',
    ...inheritedUlimits().flatMap((u) => ['--ulimit', u]),
    ...dirs.flatMap((d) => ['--volume', `${d}:${d}`]),
    c.image,
    ...c.args,
  ];
}

/**
 * This process's open-file and process limits, for the container: podman raises both far above them by default, which
 * needs CAP_SYS_RESOURCE, and root lacks it on some hosts (runc then fails with "error setting rlimit"). The process
 * limit is capped at the one podman gives conmon, which runc cannot exceed either (32768, measured on Debian's 4.3).
 */
export function inheritedUlimits(limitsText = readProcLimits()): string[] {
  const rows: [string, string][] = [
    ['Max open files', 'nofile'],
    ['Max processes', 'nproc'],
  ];
  return rows.flatMap(([label, name]) => {
    const m = new RegExp(`^${label}\\s+(\\d+|unlimited)\\s+(\\d+|unlimited)`, 'm').exec(limitsText);
    if (!m) return [];
    const cap = name === 'nproc' ? CONMON_NPROC : Infinity;
    const value = (v: string) => String(Math.min(v === 'unlimited' ? Infinity : Number(v), cap)).replace('Infinity', '-1');
    return [`${name}=${value(m[1]!)}:${value(m[2]!)}`];
  });
}

function readProcLimits(): string {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return '';
  }
}

/** Why agents cannot run from `image` here, or undefined when they can. */
export async function agentImageUnavailableReason(image: string): Promise<string | undefined> {
  const version = await run('podman', ['--version'], { allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
  if (version === undefined || version.code !== 0) return 'podman is not installed (scripts/bootstrap.sh installs it)';
  const exists = await run('podman', ['image', 'exists', image], { allowFailure: true, timeoutMs: 30_000 });
  return exists.code === 0 ? undefined : `image ${image} is not in podman's store (npm run image builds it)`;
}

/** Force-removes containers by name (stopping them at once); absent ones are no error. */
export async function removeContainers(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await run('podman', [...PODMAN_GLOBAL_ARGS, 'rm', '--force', '--ignore', '--time', '0', ...names], { allowFailure: true, timeoutMs: 60_000 }).catch(
    () => undefined,
  );
}

export function removeContainersSync(names: readonly string[]): void {
  if (names.length > 0) runSyncQuiet('podman', [...PODMAN_GLOBAL_ARGS, 'rm', '--force', '--ignore', '--time', '0', ...names], 30_000);
}

/** Our containers (`dysco-<run>-…`) by run id; none when podman is missing. */
export async function listDyscoContainers(): Promise<Map<string, string[]>> {
  const byRun = new Map<string, string[]>();
  const r = await run('podman', ['ps', '--all', '--format', '{{.Names}}'], { allowFailure: true, timeoutMs: 30_000 }).catch(() => undefined);
  if (r === undefined || r.code !== 0) return byRun;
  for (const name of r.stdout.split('\n').map((s) => s.trim())) {
    const runId = runIdOfNamespace(name);
    if (runId !== undefined) byRun.set(runId, [...(byRun.get(runId) ?? []), name]);
  }
  return byRun;
}
