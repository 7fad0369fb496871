// `dysco testbed up|down|status`: thin wrappers over src/testbed.
import {
  TopologyError,
  createTestbed,
  destroyRun,
  listRuns,
  sweepAll,
  type RunStatus,
  type SweepReport,
  type TeardownReport,
  type Testbed,
} from '../../testbed';
import { UserError } from '../shared/user-error';
import { parseDownArgs, parseUpArgs, type DownArgs, type StatusArgs, type UpArgs } from './options';

type Write = (text: string) => void;
const stdout: Write = (text) => process.stdout.write(text);

function requireRoot(): void {
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new UserError('testbeds need root (network namespaces); run with sudo');
  }
}

/** How to use a testbed that is up: enter each host, reach each agent's metrics. */
export function describeTestbed(tb: Testbed, agentsStarted: boolean): string {
  const lines: string[] = [];
  lines.push(`testbed ${tb.runId} (${tb.topology.name}) is up; remove it with: dysco testbed down ${tb.runId}`);
  if (tb.keyFile) lines.push(`  key ring: ${tb.keyFile} (rewrite it and kill -HUP the agents to rotate)`);
  const width = Math.max(...tb.hosts.map((h) => h.name.length), 'router'.length);
  for (const h of tb.hosts) {
    lines.push(`  ${h.name.padEnd(width)}  ${h.cidr.padEnd(15)}  ip netns exec ${h.ns} bash`);
    if (h.agent) {
      const pad = ' '.repeat(width + 2);
      if (agentsStarted) {
        lines.push(`  ${pad}  agent pid ${tb.agentPid(h) ?? '?'}, log ${h.agent.logFile}`);
        lines.push(`  ${pad}  metrics: ip netns exec ${h.agent.ns} curl -s ${h.agent.metricsUrl}`);
        if (tb.dysco) lines.push(`  ${pad}  control: dysco ctl sessions --api /run/dysco/agent-${tb.agentPid(h) ?? '?'}.sock`);
      } else {
        lines.push(`  ${pad}  agent not started; start it with: ${tb.agentCommand(h).join(' ')}`);
      }
    }
  }
  lines.push(`  ${'router'.padEnd(width)}  ${''.padEnd(15)}  ip netns exec ${tb.routerNs} bash`);
  return `${lines.join('\n')}\n`;
}

export async function runUp(args: UpArgs, write: Write = stdout): Promise<void> {
  const req = parseUpArgs(args);
  requireRoot();
  let tb: Testbed;
  try {
    tb = await createTestbed(req.topology, req.options);
  } catch (error) {
    if (error instanceof TopologyError) throw new UserError(error.message);
    throw error;
  }
  write(describeTestbed(tb, req.options.startAgents ?? true));
}

export async function runDown(args: DownArgs, write: Write = stdout): Promise<void> {
  const { runId } = parseDownArgs(args);
  requireRoot();
  if (runId !== undefined) {
    let report;
    try {
      report = await destroyRun(runId);
    } catch (error) {
      if (error instanceof Error && /^no testbed run/.test(error.message)) throw new UserError(error.message);
      throw error;
    }
    write(formatRunDown(report));
    return;
  }
  write(formatSweepDown(await sweepAll()));
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What was removed beyond namespaces: each DPDK runtime dir, control-API socket and agent container by name. */
function leftovers(dpdkDirs: readonly string[], apiSockets: readonly string[], containers: readonly string[] = []): string {
  const lines = [
    ...dpdkDirs.map((dir) => `  removed DPDK runtime dir ${dir}\n`),
    ...apiSockets.map((socket) => `  removed control-API socket ${socket}\n`),
    ...containers.map((name) => `  removed agent container ${name}\n`),
  ];
  return lines.join('');
}

/** `dysco testbed down <run>`: counts of what the teardown found and removed, then the paths. */
export function formatRunDown(report: TeardownReport): string {
  return (
    `removed testbed ${report.runId}: ${plural(report.namespaces.length, 'namespace')}, ` +
    `${plural(report.killedPids.length, 'process', 'processes')}, ${plural(report.dpdkDirs.length, 'DPDK runtime dir')}, ` +
    `${plural(report.apiSockets.length, 'control-API socket')}\n` +
    leftovers(report.dpdkDirs, report.apiSockets)
  );
}

/** `dysco testbed down`: every run and every stale leftover, with the DPDK dirs and sockets the runs removed counted too. */
export function formatSweepDown(report: SweepReport): string {
  const namespaces = report.runs.reduce((n, r) => n + r.namespaces.length, 0) + report.strayNamespaces.length;
  const dpdkDirs = [...report.runs.flatMap((r) => r.dpdkDirs), ...report.dpdkDirs];
  const apiSockets = [...report.runs.flatMap((r) => r.apiSockets), ...report.apiSockets];
  return (
    `removed ${report.runs.length} testbed run(s): ${plural(namespaces, 'namespace')}, ` +
    `${plural(dpdkDirs.length, 'DPDK runtime dir')}, ${plural(apiSockets.length, 'control-API socket')}` +
    `${report.containers.length ? `, ${plural(report.containers.length, 'stale agent container')}` : ''}\n` +
    leftovers(dpdkDirs, apiSockets, report.containers)
  );
}

export function formatStatus(runs: readonly RunStatus[]): string {
  if (runs.length === 0) return 'no testbeds\n';
  const lines: string[] = [];
  for (const r of runs) {
    const owner = r.owner ? `owner pid ${r.owner.pid} ${r.owner.alive ? 'alive' : 'gone'}` : 'no state file';
    const flags = [r.persistent ? 'persistent' : undefined, r.stale ? 'stale' : undefined].filter(Boolean).join(', ');
    lines.push(`${r.runId}  ${r.topology ?? '?'}  ${owner}${flags ? `  (${flags})` : ''}${r.createdAt ? `  since ${r.createdAt}` : ''}`);
    for (const h of r.hosts) {
      const agent =
        h.agentNs === undefined
          ? ''
          : h.agentPid === undefined
            ? '  agent not running'
            : `  agent pid ${h.agentPid} ${h.agentAlive ? 'alive' : 'dead'}`;
      lines.push(`  ${h.name}  ${h.address}  ${h.ns}${agent}`);
    }
    const missing = r.namespaces.filter((n) => !n.present).map((n) => n.name);
    const present = r.namespaces.filter((n) => n.present).length;
    lines.push(`  namespaces: ${present} present${missing.length ? `, missing: ${missing.join(' ')}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runStatus(args: StatusArgs, write: Write = stdout): Promise<void> {
  const runs = listRuns();
  write(args.json ? `${JSON.stringify(runs, null, 2)}\n` : formatStatus(runs));
}
