// A real single-member etcd (Debian's etcd-server) serving clients on a Unix socket in its own directory:
// no port to collide on, and reachable from every network namespace of a test. stop() and start() keep
// the data directory, as a restarted member would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait';

export const ETCD_BINARY = '/usr/bin/etcd';
const ETCDCTL_BINARY = '/usr/bin/etcdctl';

/** Why etcd tests cannot run here, or undefined if they can. */
export function etcdUnavailable(): string | undefined {
  if (!existsSync(ETCD_BINARY)) return `${ETCD_BINARY} is missing (Debian package etcd-server; scripts/bootstrap.sh installs it)`;
  return undefined;
}

export class EtcdMember {
  private child: ChildProcess | undefined;
  /** etcd names a unix:// listener's socket by the URL's host, relative to its working directory. */
  readonly endpoint: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.endpoint = `unix:${join(dir, 'client.sock:0')}`;
  }

  get logPath(): string {
    return join(this.dir, 'etcd.log');
  }

  async start(): Promise<void> {
    if (this.child) return;
    const log = openSync(this.logPath, 'a');
    const peer = 'unix://peer.sock:0';
    const child = spawn(
      ETCD_BINARY,
      [
        '--name=test',
        `--data-dir=${join(this.dir, 'data')}`,
        '--listen-client-urls=unix://client.sock:0',
        '--advertise-client-urls=unix://client.sock:0',
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=test=${peer}`,
        '--log-level=warn',
      ],
      { cwd: this.dir, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const ready = await waitFor(() => !this.child || this.healthy(), 15_000, 100);
    if (!ready || !this.child) throw new Error(`etcd did not become healthy; its log:\n${readFileSync(this.logPath, 'utf8').slice(-2000)}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** etcdctl against this member; throws with its stderr on failure. */
  ctl(...args: string[]): string {
    const result = spawnSync(ETCDCTL_BINARY, [`--endpoints=${this.endpoint.replace(/^unix:/, 'unix://')}`, '--dial-timeout=2s', ...args], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    if (result.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  private healthy(): boolean {
    try {
      this.ctl('endpoint', 'health');
      return true;
    } catch {
      return false;
    }
  }
}
