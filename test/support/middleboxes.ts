// Unmodified Linux software on testbed hosts, for the Dysco chain tests: nginx serving random files, tcpdump
// captures, and small parsers for what those tools print; the middleboxes (HAProxy, the iptables/conntrack firewall,
// MASQUERADE NAT, rate limits) are src/testbed/middleboxes.ts, re-exported here. Everything lives in the testbed's
// run directory and dies with the testbed; every wait is bounded.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostHandle, Testbed } from '../../src/testbed';
import { collectOutput, stopProcess, waitForListener } from '../../src/testbed/middleboxes';

export {
  FIREWALL_RULES,
  conntrackEntries,
  installFirewall,
  installMasquerade,
  limitRate,
  removeRateLimit,
  ruleCounters,
  startHaproxy,
  stopProcess,
  waitForListener,
  type ConntrackEntry,
  type Haproxy,
  type RateLimit,
  type RuleCounters,
} from '../../src/testbed/middleboxes';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---- nginx --------------------------------------------------------------------------------------------------------

export interface ServedFile {
  /** URL path, e.g. /big.bin */
  urlPath: string;
  size: number;
  sha256: string;
}

export interface Nginx {
  readonly dir: string;
  readonly files: readonly ServedFile[];
  readonly accessLog: string;
  /** Parsed access log lines so far. */
  accessEntries(): AccessEntry[];
  stop(): Promise<void>;
}

export interface AccessEntry {
  remoteAddr: string;
  remotePort: number;
  request: string;
  status: number;
  bytes: number;
}

/** Files of random content (sizes in bytes), an 8 MiB one among them by default. */
export const DEFAULT_FILE_SIZES: readonly number[] = [0, 1, 1_460, 65_537, 1_000_003, 8 * 1024 * 1024];

/**
 * nginx in the host's namespace, in the foreground (master + one worker), listening on `host.address:port` and
 * serving a directory of random files. Config, pid file, logs and temp paths in `<runDir>/nginx-<host>`.
 */
export async function startNginx(
  tb: Testbed,
  host: HostHandle,
  opts: { port?: number; sizes?: readonly number[] } = {},
): Promise<Nginx> {
  const port = opts.port ?? 80;
  const dir = join(tb.runDir, `nginx-${host.name}`);
  const root = join(dir, 'www');
  mkdirSync(root, { recursive: true });
  const files = (opts.sizes ?? DEFAULT_FILE_SIZES).map((size, i) => {
    const data = randomBytes(size);
    const name = `file-${i}-${size}.bin`;
    writeFileSync(join(root, name), data);
    return { urlPath: `/${name}`, size, sha256: sha256(data) };
  });
  const accessLog = join(dir, 'access.log');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'user root;',
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'events { worker_connections 4096; }',
      'http {',
      `  log_format peers '$remote_addr $remote_port "$request" $status $body_bytes_sent';`,
      `  access_log ${accessLog} peers;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
      '  default_type application/octet-stream;',
      '  sendfile off;',
      '  keepalive_timeout 30s;',
      '  server {',
      `    listen ${host.address}:${port} backlog=4096;`,
      `    root ${root};`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const child = tb.spawn(host, ['nginx', '-c', conf, '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  try {
    await waitForListener(tb, host.name, port);
  } catch (err) {
    await stopProcess(child, 'SIGKILL');
    throw new Error(`${(err as Error).message}; nginx: ${output()} ${safeRead(join(dir, 'error.log'))}`);
  }
  return {
    dir,
    files,
    accessLog,
    accessEntries: () => parseAccessLog(safeRead(accessLog)),
    stop: () => stopProcess(child),
  };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function parseAccessLog(text: string): AccessEntry[] {
  const entries: AccessEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\d+) "([^"]*)" (\d+) (\d+)$/.exec(line.trim());
    if (m) entries.push({ remoteAddr: m[1]!, remotePort: Number(m[2]), request: m[3]!, status: Number(m[4]), bytes: Number(m[5]) });
  }
  return entries;
}

export interface Download {
  sha256: string;
  bytes: number;
  /** the client's source port as curl reports it */
  localPort: number;
}

/**
 * `curl` in the host's namespace into a file of the run directory; resolves with the sha256 of what arrived.
 * Fails on any HTTP error or after `timeoutMs`.
 */
export async function download(tb: Testbed, host: string, url: string, timeoutMs = 60_000): Promise<Download> {
  const dir = join(tb.runDir, `downloads-${host}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `d-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  const seconds = Math.ceil(timeoutMs / 1000);
  const r = await tb.exec(host, ['curl', '-sS', '--fail', '--max-time', String(seconds), '-o', file, '-w', '%{local_port}', url], {
    timeoutMs: timeoutMs + 5_000,
  });
  const data = readFileSync(file);
  writeFileSync(file, ''); // keep the run directory small
  return { sha256: sha256(data), bytes: data.length, localPort: Number(r.stdout.trim()) };
}

// ---- tcpdump ------------------------------------------------------------------------------------------------------

export { startCapture, type Capture } from '../../src/testbed/capture';

export interface TcpPacket {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  flags: number;
  payload: Buffer;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

function ip(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** The IPv4/TCP packets among Ethernet frames (others skipped); payload cut to what was captured. */
export function tcpPackets(frames: readonly Buffer[]): TcpPacket[] {
  const out: TcpPacket[] = [];
  for (const f of frames) {
    if (f.length < 14 + 20 || f.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (f[14]! & 0x0f) * 4;
    if (f[14 + 9] !== 6) continue;
    const totalLength = f.readUInt16BE(14 + 2);
    const tcp = 14 + ihl;
    if (f.length < tcp + 20) continue;
    const dataOffset = (f[tcp + 12]! >> 4) * 4;
    const payloadEnd = Math.min(f.length, 14 + totalLength);
    out.push({
      srcIp: ip(f, 14 + 12),
      dstIp: ip(f, 14 + 16),
      srcPort: f.readUInt16BE(tcp),
      dstPort: f.readUInt16BE(tcp + 2),
      flags: f[tcp + 13]!,
      payload: Buffer.from(f.subarray(Math.min(tcp + dataOffset, payloadEnd), payloadEnd)),
    });
  }
  return out;
}
