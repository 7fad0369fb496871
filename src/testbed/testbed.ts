/**
 * A live testbed: namespaces, veths, a router, and one agent per agent host, built from a Topology and torn down
 * without leftovers. Everything is named `dysco-<run>-*` (namespaces) or `dy<run>*` (links).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DEFAULT_AGENT_STOP_TIMEOUT_MS,
  listNamespaces,
  teardownRun,
  teardownRunSync,
  sweep,
  type RunResources,
  type TeardownReport,
} from './cleanup';
import {
  inNamespace,
  processStartTime,
  run,
  runInNamespace,
  signalQuiet,
  sleep,
  type RunOptions,
  type RunResult,
} from './exec';
import { registerLive, unregisterLive, type LiveTestbed } from './hooks';
import {
  ROUTER_ROLE,
  agentNamespace,
  hostNamespace,
  linkName,
  newRunId,
  routerNamespace,
  runDirectory,
  RUN_ROOT,
} from './names';
import { writeState, type DeviceKind, type HostState, type TestbedState, STATE_VERSION } from './state';
import { addressPlan, resolveTopology, type Topology, type TopologyInput } from './topology';

/** How long to wait for an agent's `"event":"ready"` log line. */
export const DEFAULT_READY_TIMEOUT_MS = 30_000;
/** Every agent listens for /metrics on 127.0.0.1:<port> inside its own agent namespace. */
export const DEFAULT_METRICS_PORT = 9464;
export const DEFAULT_DEVICE_KIND: DeviceKind = 'af_packet';
export const DEFAULT_AGENT_LOG_LEVEL = 'info';
/** The agent's entry point: dist/src/cli/main.js next to this compiled file. */
export const DEFAULT_AGENT_ENTRY = resolve(__dirname, '..', 'cli', 'main.js');
/** Lines of agent log shown in errors. */
const LOG_TAIL_LINES = 25;
const READY_POLL_MS = 100;
const READY_MARKER = /"event"\s*:\s*"ready"/;

/** Features turned off on every veth end the datapath touches and on their peers. */
export const OFFLOAD_FEATURES = ['tx', 'rx', 'tso', 'gso', 'gro'] as const;

/** Sysctls set in every namespace of a run, before any link exists (so `default` applies to new links). */
const BASE_SYSCTLS = [
  'net.ipv6.conf.all.disable_ipv6=1',
  'net.ipv6.conf.default.disable_ipv6=1',
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
  'net.ipv4.conf.all.send_redirects=0',
  'net.ipv4.conf.default.send_redirects=0',
  'net.ipv4.conf.all.accept_redirects=0',
  'net.ipv4.conf.default.accept_redirects=0',
];

export interface TestbedOptions {
  /** start an agent in every agent host's agent namespace; default true. Without, the agent namespaces are wired
   * but nothing bridges them until an agent is started (`startAgent`) */
  startAgents?: boolean;
  /** how the agent's ports are backed; default af_packet */
  deviceKind?: DeviceKind;
  /** outlive this process (`dysco testbed up`); sweeps and exit hooks leave it alone; default false */
  persistent?: boolean;
  /** default 30 s */
  readyTimeoutMs?: number;
  /** grace between SIGTERM and SIGKILL for agents on destroy; default 5 s */
  agentStopTimeoutMs?: number;
  /** default 9464 (each agent in its own namespace, so all share it) */
  metricsPort?: number;
  /** default info */
  logLevel?: string;
  /** path of the compiled CLI entry; default dist/src/cli/main.js */
  agentEntry?: string;
  /** appended to every agent's command line */
  agentArgs?: readonly string[];
  /** agent environment; default process.env */
  agentEnv?: NodeJS.ProcessEnv;
  /** turn offloads off on links without an agent too (fair baselines); default true */
  offloadsOffOnPlainLinks?: boolean;
  /** run directory root; default /run/dysco/testbeds */
  runRoot?: string;
  /** sweep stale runs before creating; default true */
  sweep?: boolean;
  /** run the agents in Dysco mode (each with its host's address and gateway); default false (pass-through) */
  dysco?: boolean;
  /**
   * Dysco policies per host name. A chain entry may name a host of the topology instead of giving its address;
   * a match prefix may name a host too (its /32).
   */
  policies?: Readonly<Record<string, readonly TestbedPolicy[]>>;
  /** extra agent config (merged into each Dysco agent's config file), e.g. dysco.timeouts */
  agentConfig?: Readonly<Record<string, unknown>>;
}

export interface TestbedPolicy {
  name: string;
  match: { srcPrefix?: string; dstPrefix?: string; srcPorts?: number | string; dstPorts?: number | string };
  chain: readonly string[];
}

/** A host's agent: its namespace, its two devices, its metrics endpoint and log. */
export interface AgentHandle {
  readonly ns: string;
  /** agent-side veth end peered with the host's interface */
  readonly hostIface: string;
  /** agent-side veth end peered with the router's interface for this host */
  readonly wireIface: string;
  /** the DPDK device strings the agent is started with */
  readonly hostDevice: string;
  readonly wireDevice: string;
  readonly metricsPort: number;
  /** reachable only from inside `ns` */
  readonly metricsUrl: string;
  readonly logFile: string;
}

export interface HostHandle {
  readonly name: string;
  readonly index: number;
  /** the host's stack namespace */
  readonly ns: string;
  readonly address: string;
  readonly prefixLength: number;
  /** `address/prefixLength` */
  readonly cidr: string;
  /** the router's address on this host's subnet (default route) */
  readonly gateway: string;
  /** the host's interface in `ns` */
  readonly iface: string;
  /** the router's interface toward this host, in the router namespace */
  readonly routerIface: string;
  readonly forwarding: boolean;
  readonly agent?: AgentHandle;
}

/** How an agent ended. */
export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** from sending the signal to the process being gone */
  elapsedMs: number;
  /** it outlived the timeout and was SIGKILLed */
  timedOut: boolean;
}

/** Where a command runs: a host name (its stack namespace), `router`, or a host handle. */
export type Target = string | HostHandle;

export interface ExecOptions extends RunOptions {
  /** run in the host's agent namespace instead of its stack namespace */
  agentNs?: boolean;
}

interface RunningAgent {
  child: ChildProcess;
  pid: number;
  startTime: number | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

function deviceString(kind: DeviceKind, port: 0 | 1, iface: string): string {
  return kind === 'af_xdp' ? `net_af_xdp${port},iface=${iface}` : `net_af_packet${port},iface=${iface}`;
}

export class Testbed implements LiveTestbed {
  readonly runId: string;
  readonly topology: Topology;
  readonly runDir: string;
  readonly routerNs: string;
  readonly hosts: readonly HostHandle[];
  /** every namespace of the run: router, hosts, agents */
  readonly namespaces: readonly string[];
  readonly deviceKind: DeviceKind;
  private _persistent: boolean;
  private readonly opts: TestbedOptions;
  private readonly agents = new Map<string, RunningAgent>();
  private readonly spawned = new Set<ChildProcess>();
  /** every agent pid this testbed started, for their DPDK runtime dirs */
  private readonly agentPidsEver = new Set<number>();
  private readonly createdAt = new Date().toISOString();
  private readonly ownerStartTime = processStartTime(process.pid);
  private destroyed: Promise<TeardownReport> | undefined;

  /** Use `createTestbed`. */
  constructor(runId: string, topology: Topology, opts: TestbedOptions) {
    this.runId = runId;
    this.topology = topology;
    this.opts = opts;
    this._persistent = false; // until fully up, so an interrupted `up` cleans after itself
    this.deviceKind = opts.deviceKind ?? DEFAULT_DEVICE_KIND;
    this.runDir = runDirectory(runId, opts.runRoot ?? RUN_ROOT);
    this.routerNs = routerNamespace(runId);
    const port = opts.metricsPort ?? DEFAULT_METRICS_PORT;
    this.hosts = addressPlan(topology).map((a) => {
      const spec = topology.hosts[a.index]!;
      const agent: AgentHandle | undefined = spec.agent
        ? {
            ns: agentNamespace(runId, spec.name),
            hostIface: linkName(runId, 'agentHost', a.index),
            wireIface: linkName(runId, 'agentWire', a.index),
            hostDevice: deviceString(this.deviceKind, 0, linkName(runId, 'agentHost', a.index)),
            wireDevice: deviceString(this.deviceKind, 1, linkName(runId, 'agentWire', a.index)),
            metricsPort: port,
            metricsUrl: `http://127.0.0.1:${port}/metrics`,
            logFile: resolve(this.runDir, `agent-${spec.name}.log`),
          }
        : undefined;
      return {
        name: spec.name,
        index: a.index,
        ns: hostNamespace(runId, spec.name),
        address: a.address,
        prefixLength: a.prefixLength,
        cidr: `${a.address}/${a.prefixLength}`,
        gateway: a.gateway,
        iface: linkName(runId, 'host', a.index),
        routerIface: linkName(runId, 'router', a.index),
        forwarding: spec.forwarding ?? false,
        agent,
      };
    });
    this.namespaces = [this.routerNs, ...this.hosts.flatMap((h) => (h.agent ? [h.ns, h.agent.ns] : [h.ns]))];
  }

  get persistent(): boolean {
    return this._persistent;
  }

  /** A host by name. */
  host(name: string): HostHandle {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`testbed ${this.runId}: no host "${name}" (hosts: ${this.hosts.map((x) => x.name).join(', ')})`);
    return h;
  }

  /** The state file's content as of now. */
  state(): TestbedState {
    return {
      version: STATE_VERSION,
      runId: this.runId,
      topology: this.topology,
      createdAt: this.createdAt,
      owner: { pid: process.pid, startTime: this.ownerStartTime },
      persistent: this._persistent,
      deviceKind: this.deviceKind,
      routerNs: this.routerNs,
      namespaces: [...this.namespaces],
      agentPidsEver: [...this.agentPidsEver],
      hosts: this.hosts.map((h): HostState => {
        const running = this.agents.get(h.name);
        return {
          name: h.name,
          index: h.index,
          ns: h.ns,
          address: h.address,
          gateway: h.gateway,
          prefixLength: h.prefixLength,
          iface: h.iface,
          routerIface: h.routerIface,
          forwarding: h.forwarding,
          agent: h.agent && {
            ns: h.agent.ns,
            hostIface: h.agent.hostIface,
            wireIface: h.agent.wireIface,
            metricsPort: h.agent.metricsPort,
            logFile: h.agent.logFile,
            pid: running && !running.exit ? running.pid : undefined,
            pidStartTime: running && !running.exit ? running.startTime : undefined,
          },
        };
      }),
    };
  }

  private saveState(): void {
    if (this.destroyed === undefined) writeState(this.runDir, this.state());
  }

  private nsOf(target: Target, agentNs = false): string {
    if (target === ROUTER_ROLE) {
      if (agentNs) throw new Error('the router has no agent namespace');
      return this.routerNs;
    }
    const h = typeof target === 'string' ? this.host(target) : target;
    if (!agentNs) return h.ns;
    if (!h.agent) throw new Error(`host ${h.name} has no agent`);
    return h.agent.ns;
  }

  /** Run a command in a host's namespace (or `router`'s); rejects on non-zero exit unless `allowFailure`. */
  exec(target: Target, cmd: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    return runInNamespace(this.nsOf(target, opts.agentNs), cmd, opts);
  }

  /** Spawn a command in a host's namespace; killed on destroy if still running. */
  spawn(target: Target, cmd: readonly string[], opts: SpawnOptions & { agentNs?: boolean } = {}): ChildProcess {
    const { agentNs, ...spawnOpts } = opts;
    const [file, ...args] = inNamespace(this.nsOf(target, agentNs), cmd);
    const child = spawn(file!, args, spawnOpts);
    this.spawned.add(child);
    child.once('exit', () => this.spawned.delete(child));
    return child;
  }

  /** The host's agent handle; throws if the host has none. */
  agentOf(host: Target): AgentHandle {
    const h = typeof host === 'string' ? this.host(host) : host;
    if (!h.agent) throw new Error(`host ${h.name} has no agent`);
    return h.agent;
  }

  /** Pid of the host's running agent, if any. */
  agentPid(host: Target): number | undefined {
    const a = this.agents.get(this.agentHostName(host));
    return a && !a.exit ? a.pid : undefined;
  }

  private agentHostName(host: Target): string {
    return typeof host === 'string' ? this.host(host).name : host.name;
  }

  /** The last `lines` lines of the host's agent log. */
  agentLogTail(host: Target, lines = LOG_TAIL_LINES): string {
    return tailFile(this.agentOf(host).logFile, lines);
  }

  /** The full argv the agent of `host` is started with. */
  agentCommand(host: Target): string[] {
    const ag = this.agentOf(host);
    return inNamespace(ag.ns, [
      process.execPath,
      this.opts.agentEntry ?? DEFAULT_AGENT_ENTRY,
      'agent',
      '--host-device',
      ag.hostDevice,
      '--wire-device',
      ag.wireDevice,
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      String(ag.metricsPort),
      '--log-level',
      this.opts.logLevel ?? DEFAULT_AGENT_LOG_LEVEL,
      ...this.dyscoArgs(host),
      ...(this.opts.agentArgs ?? []),
    ]);
  }

  /** Whether the agents run in Dysco mode. */
  get dysco(): boolean {
    return Boolean(this.opts.dysco);
  }

  /** Dysco mode: the host's address and gateway, and a config file with its policies. */
  private dyscoArgs(target: Target): string[] {
    if (!this.opts.dysco) return [];
    const h = typeof target === 'string' ? this.host(target) : target;
    const resolve = (name: string) => this.hosts.find((x) => x.name === name)?.address ?? name;
    const prefix = (p: string | undefined) => (p === undefined ? undefined : p.includes('/') ? p : `${resolve(p)}/32`);
    const policies = (this.opts.policies?.[h.name] ?? []).map((p) => ({
      name: p.name,
      match: Object.fromEntries(
        Object.entries({ ...p.match, srcPrefix: prefix(p.match.srcPrefix), dstPrefix: prefix(p.match.dstPrefix) }).filter(
          ([, v]) => v !== undefined,
        ),
      ),
      chain: p.chain.map(resolve),
    }));
    const file = join(this.runDir, `agent-${h.name}.json`);
    writeFileSync(file, `${JSON.stringify({ ...(this.opts.agentConfig ?? {}), policies }, null, 2)}\n`);
    return ['--address', h.cidr, '--gateway', h.gateway, '--config', file];
  }

  /**
   * Start the agent of `host` in its agent namespace, logging to its log file, and wait for its ready line.
   * On timeout or early exit the agent is killed and the error carries the log tail.
   */
  async startAgent(host: Target): Promise<number> {
    const name = this.agentHostName(host);
    const ag = this.agentOf(name);
    const prev = this.agents.get(name);
    if (prev && !prev.exit) throw new Error(`agent of ${name} is already running (pid ${prev.pid})`);
    const entry = this.opts.agentEntry ?? DEFAULT_AGENT_ENTRY;
    if (!existsSync(entry)) throw new Error(`agent entry ${entry} not found (build with npm run build:ts)`);
    const start = sizeOf(ag.logFile);
    const fd = openSync(ag.logFile, 'a', 0o644);
    let child: ChildProcess;
    try {
      const [file, ...args] = this.agentCommand(name);
      child = spawn(file!, args, {
        detached: true, // its own process group: a terminal's Ctrl-C reaches us, and we stop it in order
        stdio: ['ignore', fd, fd],
        env: this.opts.agentEnv ?? process.env,
      });
    } finally {
      closeSync(fd);
    }
    child.unref();
    const pid = child.pid;
    if (pid === undefined) {
      await new Promise<void>((r) => {
        child.once('error', () => r());
        child.once('exit', () => r());
      });
      throw new Error(`cannot start agent of ${name}`);
    }
    const running: RunningAgent = {
      child,
      pid,
      startTime: processStartTime(pid),
      exited: new Promise((res) => {
        child.once('exit', (code, signal) => {
          running.exit = { code, signal };
          res(running.exit);
        });
      }),
    };
    this.agents.set(name, running);
    this.agentPidsEver.add(pid);
    this.saveState();

    const timeoutMs = this.opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (logHasReady(ag.logFile, start)) return pid;
      if (running.exit) {
        const how = running.exit.signal ? `was killed by ${running.exit.signal}` : `exited with code ${running.exit.code}`;
        this.saveState();
        throw new Error(`agent of ${name} ${how} before it was ready; log ${ag.logFile}:\n${this.agentLogTail(name)}`);
      }
      if (Date.now() >= deadline) {
        signalQuiet(pid, 'SIGKILL');
        await Promise.race([running.exited, sleep(2_000)]);
        this.saveState();
        throw new Error(
          `agent of ${name} not ready after ${timeoutMs} ms; log ${ag.logFile}:\n${this.agentLogTail(name)}`,
        );
      }
      await sleep(READY_POLL_MS);
    }
  }

  /** Start every agent host's agent, in parallel. */
  async startAgents(): Promise<void> {
    await Promise.all(this.hosts.filter((h) => h.agent).map((h) => this.startAgent(h)));
  }

  /**
   * Signal the agent of `host` and wait for it to end; after `timeoutMs` (default 5 s) it is SIGKILLed and the
   * result says `timedOut`.
   */
  async stopAgent(host: Target, signal: NodeJS.Signals = 'SIGTERM', opts: { timeoutMs?: number } = {}): Promise<AgentExit> {
    const name = this.agentHostName(host);
    const running = this.agents.get(name);
    if (!running) throw new Error(`agent of ${name} was not started`);
    const t0 = performance.now();
    if (running.exit) return { ...running.exit, elapsedMs: 0, timedOut: false };
    signalQuiet(running.pid, signal);
    const timeoutMs = opts.timeoutMs ?? this.opts.agentStopTimeoutMs ?? DEFAULT_AGENT_STOP_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      running.exited,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs))),
    ]);
    clearTimeout(timer);
    let result: AgentExit;
    if (outcome) {
      result = { ...outcome, elapsedMs: performance.now() - t0, timedOut: false };
    } else {
      signalQuiet(running.pid, 'SIGKILL');
      const killed = await Promise.race([running.exited, sleep(5_000).then(() => undefined)]);
      result = {
        code: killed?.code ?? null,
        signal: killed?.signal ?? 'SIGKILL',
        elapsedMs: performance.now() - t0,
        timedOut: true,
      };
    }
    this.saveState();
    return result;
  }

  /** GET the agent's /metrics from inside its agent namespace. */
  async scrapeMetrics(host: Target, opts: { timeoutMs?: number } = {}): Promise<string> {
    const ag = this.agentOf(host);
    const seconds = Math.max(1, Math.ceil((opts.timeoutMs ?? 5_000) / 1000));
    const r = await runInNamespace(ag.ns, ['curl', '-sS', '--max-time', String(seconds), ag.metricsUrl], {
      timeoutMs: seconds * 1000 + 2_000,
    });
    return r.stdout;
  }

  private resources(): RunResources {
    return {
      runId: this.runId,
      namespaces: this.namespaces,
      // only agents still running: an exited agent's pid may belong to someone else by now
      agents: [...this.agents.values()].filter((a) => !a.exit).map((a) => ({ pid: a.pid, startTime: a.startTime })),
      dpdkPids: [...this.agentPidsEver],
      runDir: this.runDir,
    };
  }

  private killSpawned(): void {
    for (const c of this.spawned) if (c.pid !== undefined && c.exitCode === null) signalQuiet(c.pid, 'SIGKILL');
  }

  /** Stop agents (SIGTERM, then SIGKILL), kill what is left in our namespaces, delete them, remove our dirs. */
  destroy(): Promise<TeardownReport> {
    if (this.destroyed === undefined) {
      this.destroyed = (async () => {
        try {
          this.killSpawned();
          return await teardownRun(this.resources(), { agentStopTimeoutMs: this.opts.agentStopTimeoutMs });
        } finally {
          unregisterLive(this);
        }
      })();
    }
    return this.destroyed;
  }

  /** Best-effort synchronous teardown (process 'exit'). */
  destroySync(): void {
    if (this.destroyed !== undefined) return;
    this.destroyed = Promise.resolve({ runId: this.runId, namespaces: [], killedPids: [], dpdkDirs: [], apiSockets: [] });
    unregisterLive(this);
    this.killSpawned();
    teardownRunSync(this.resources(), { agentStopTimeoutMs: Math.min(this.opts.agentStopTimeoutMs ?? 2_000, 2_000) });
  }

  /** Build the namespaces and links (called by createTestbed). */
  async build(): Promise<void> {
    const existing = new Set(listNamespaces());
    const clash = this.namespaces.find((ns) => existing.has(ns));
    if (clash) throw new Error(`namespace ${clash} already exists`);

    const offAll = this.opts.offloadsOffOnPlainLinks ?? true;
    await this.addNamespace(this.routerNs, true);
    await Promise.all(
      this.hosts.map(async (h) => {
        await this.addNamespace(h.ns, h.forwarding);
        if (h.agent) {
          const ag = h.agent;
          await this.addNamespace(ag.ns, false);
          await ipLinkVeth(h.iface, h.ns, ag.hostIface, ag.ns);
          await ipLinkVeth(ag.wireIface, ag.ns, h.routerIface, this.routerNs);
          await runInNamespace(ag.ns, [
            'sysctl',
            '-q',
            '-e',
            '-w',
            `net.ipv6.conf.${ag.hostIface}.disable_ipv6=1`,
            `net.ipv6.conf.${ag.wireIface}.disable_ipv6=1`,
          ]);
          await Promise.all([
            offloadsOff(h.ns, h.iface),
            offloadsOff(ag.ns, ag.hostIface),
            offloadsOff(ag.ns, ag.wireIface),
            offloadsOff(this.routerNs, h.routerIface),
          ]);
          await ipBatch(ag.ns, [
            `link set dev ${ag.hostIface} promisc on up`,
            `link set dev ${ag.wireIface} promisc on up`,
          ]);
        } else {
          await ipLinkVeth(h.iface, h.ns, h.routerIface, this.routerNs);
          if (offAll) await Promise.all([offloadsOff(h.ns, h.iface), offloadsOff(this.routerNs, h.routerIface)]);
        }
        await ipBatch(h.ns, [`addr add ${h.cidr} dev ${h.iface}`, `link set dev ${h.iface} up`]);
      }),
    );
    // The router's side last: one batch for all its interfaces.
    await ipBatch(
      this.routerNs,
      this.hosts.flatMap((h) => [
        `addr add ${h.gateway}/${h.prefixLength} dev ${h.routerIface}`,
        `link set dev ${h.routerIface} up`,
      ]),
    );
    await Promise.all(this.hosts.map((h) => ipBatch(h.ns, [`route add default via ${h.gateway} dev ${h.iface}`])));
  }

  private async addNamespace(ns: string, forwarding: boolean): Promise<void> {
    await run('ip', ['netns', 'add', ns]);
    await runInNamespace(ns, [
      'sysctl',
      '-q',
      '-e',
      '-w',
      ...BASE_SYSCTLS,
      `net.ipv4.ip_forward=${forwarding ? 1 : 0}`,
    ]);
    await ipBatch(ns, ['link set dev lo up']);
  }

  /** Mark persistent (after a successful `up`) and save the state. */
  markPersistent(persistent: boolean): void {
    this._persistent = persistent;
    this.saveState();
  }

  /** Save the state (after a change the testbed cannot see). */
  persistState(): void {
    this.saveState();
  }
}

/** `ip link add A netns NSA type veth peer name B netns NSB`: both ends born in their namespaces. */
function ipLinkVeth(a: string, nsA: string, b: string, nsB: string): Promise<RunResult> {
  return run('ip', ['link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB]);
}

/** Several `ip` commands in one namespace, one process. */
function ipBatch(ns: string, lines: readonly string[]): Promise<RunResult> {
  return run('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

function offloadsOff(ns: string, dev: string): Promise<RunResult> {
  return runInNamespace(ns, ['ethtool', '-K', dev, ...OFFLOAD_FEATURES.flatMap((f) => [f, 'off'])]);
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function logHasReady(file: string, offset: number): boolean {
  return readFrom(file, offset)
    .split('\n')
    .some((line) => READY_MARKER.test(line));
}

/** The last `lines` lines of a file ('' if missing). */
export function tailFile(file: string, lines: number): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '(no log)';
  }
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/**
 * Build a testbed: sweep stale runs, register cleanup, write the state file, create namespaces and links, start the
 * agents and wait for them. On any failure everything created so far is torn down and the error rethrown.
 */
export async function createTestbed(
  topology: string | TopologyInput | Topology,
  opts: TestbedOptions = {},
): Promise<Testbed> {
  const topo = resolveTopology(topology);
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new Error('a testbed needs root (network namespaces)');
  }
  if (opts.sweep ?? true) await sweep({ runRoot: opts.runRoot });
  const root = opts.runRoot ?? RUN_ROOT;
  const taken = new Set(listNamespaces());
  let runId = newRunId();
  for (let i = 0; i < 64 && (existsSync(runDirectory(runId, root)) || taken.has(routerNamespace(runId))); i++) {
    runId = newRunId();
  }
  const tb = new Testbed(runId, topo, opts);
  registerLive(tb); // cleanup before anything exists
  try {
    tb.persistState(); // the state file before any namespace: a sweep can always tell whose a namespace is
    await tb.build();
    if (opts.startAgents ?? true) await tb.startAgents();
    if (opts.persistent) tb.markPersistent(true);
    if (opts.persistent) unregisterLive(tb);
    return tb;
  } catch (err) {
    await tb.destroy().catch(() => undefined);
    throw err;
  }
}
