/**
 * iperf3 between two hosts of a testbed: `iperf3 -s -1` in the server's namespace, `iperf3 -c <addr> -J` in the
 * client's; goodput is what the receiver got. Used by the demo and the throughput benchmark.
 */
import { spawnInNamespace, run, runInNamespace, signalQuiet, sleep, CommandError } from './exec';

export const DEFAULT_IPERF_PORT = 5201;
/** Extra time beyond the test's length before the client is killed. */
const CLIENT_SLACK_MS = 15_000;
const LISTEN_TIMEOUT_MS = 5_000;

/** Anything with a namespace (and, for the server, an address): a HostHandle fits. */
export interface IperfEndpoint {
  readonly ns: string;
  readonly address: string;
}

export interface IperfOptions {
  /** test length; default 5 */
  seconds?: number;
  /** parallel streams (-P); default 1 */
  streams?: number;
  /** default 5201 */
  port?: number;
  /** server sends (-R) */
  reverse?: boolean;
  /** seconds to omit at the start (-O); default 0 */
  omitSeconds?: number;
}

export interface IperfResult {
  /** receiver-side goodput, Gbit/s */
  gbps: number;
  /** sender-side rate, Gbit/s */
  senderGbps: number;
  bytesReceived: number;
  retransmits: number | undefined;
  seconds: number;
  streams: number;
  /** the client's full JSON report */
  raw: unknown;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bytes?: number; bits_per_second?: number; seconds?: number };
    sum_sent?: { bits_per_second?: number; retransmits?: number };
  };
}

async function waitForListen(ns: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await runInNamespace(ns, ['ss', '-Hltn', `sport = :${port}`], { allowFailure: true, timeoutMs: 3_000 });
    if (r.stdout.trim() !== '') return;
    await sleep(50);
  }
  throw new Error(`iperf3 server in ${ns} not listening on port ${port} after ${timeoutMs} ms`);
}

/** Run one iperf3 test from `client` to `server`; resolves with the receiver-side goodput. */
export async function measureIperf3(
  client: Pick<IperfEndpoint, 'ns'>,
  server: IperfEndpoint,
  opts: IperfOptions = {},
): Promise<IperfResult> {
  const seconds = opts.seconds ?? 5;
  const streams = opts.streams ?? 1;
  const port = opts.port ?? DEFAULT_IPERF_PORT;
  if (!(seconds > 0) || !Number.isInteger(streams) || streams < 1) {
    throw new RangeError('seconds must be > 0 and streams a positive integer');
  }
  const serverProc = spawnInNamespace(server.ns, ['iperf3', '-s', '-1', '-B', server.address, '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serverErr = '';
  serverProc.stderr!.on('data', (b: Buffer) => (serverErr += b.toString()));
  const serverExited = new Promise<void>((r) => serverProc.once('exit', () => r()));
  try {
    await waitForListen(server.ns, port, LISTEN_TIMEOUT_MS);
    const args = [
      'iperf3',
      '-c',
      server.address,
      '-p',
      String(port),
      '-t',
      String(seconds),
      '-P',
      String(streams),
      '-J',
      ...(opts.reverse ? ['-R'] : []),
      ...(opts.omitSeconds ? ['-O', String(opts.omitSeconds)] : []),
    ];
    let stdout: string;
    try {
      stdout = (await run('ip', ['netns', 'exec', client.ns, ...args], {
        timeoutMs: (seconds + (opts.omitSeconds ?? 0)) * 1000 + CLIENT_SLACK_MS,
      })).stdout;
    } catch (err) {
      // iperf3 -J reports its error in the JSON on stdout
      if (err instanceof CommandError) {
        const msg = safeParse(err.result.stdout)?.error;
        if (msg) throw new Error(`iperf3 ${client.ns} → ${server.address}: ${msg}`);
      }
      throw err;
    }
    const report = safeParse(stdout);
    if (!report) throw new Error(`iperf3 ${client.ns} → ${server.address}: unparsable output`);
    if (report.error) throw new Error(`iperf3 ${client.ns} → ${server.address}: ${report.error}`);
    const recv = report.end?.sum_received;
    const sent = report.end?.sum_sent;
    if (recv?.bits_per_second === undefined) throw new Error(`iperf3 report has no end.sum_received`);
    return {
      gbps: recv.bits_per_second / 1e9,
      senderGbps: (sent?.bits_per_second ?? 0) / 1e9,
      bytesReceived: recv.bytes ?? 0,
      retransmits: sent?.retransmits,
      seconds: recv.seconds ?? seconds,
      streams,
      raw: report,
    };
  } catch (err) {
    if (serverErr.trim() && err instanceof Error) err.message += ` (server: ${serverErr.trim().split('\n').pop()})`;
    throw err;
  } finally {
    if (serverProc.exitCode === null && serverProc.pid !== undefined) signalQuiet(serverProc.pid, 'SIGKILL');
    await Promise.race([serverExited, sleep(2_000)]);
  }
}

function safeParse(text: string): IperfJson | undefined {
  try {
    return JSON.parse(text) as IperfJson;
  } catch {
    return undefined;
  }
}
