// Retransmission counters of the kernel's TCP, as `ss -tin` shows them per connection and as /proc/net/snmp counts
// them per network namespace (RetransSegs). ss is the per-connection figure (it reads tcp_info, whose total
// retransmissions field is what `retrans:<now>/<total>` prints); the namespace counter also covers the time after a
// socket is gone (FIN retransmissions in TIME_WAIT), for a whole set of sessions at once.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** One connection's ends as ss prints them and as a socket reports them: `address:port address:port`. */
export function connectionKey(local: { address: string; port: number }, remote: { address: string; port: number }): string {
  return `${plainAddress(local.address)}:${local.port} ${plainAddress(remote.address)}:${remote.port}`;
}

/** ss brackets IPv6 addresses and Node may report an IPv4 peer of a dual-stack socket as ::ffff:a.b.c.d. */
function plainAddress(address: string): string {
  const unbracketed = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  return unbracketed.startsWith('::ffff:') && unbracketed.includes('.') ? unbracketed.slice(7) : unbracketed;
}

function splitEndpoint(text: string): { address: string; port: number } | undefined {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  return colon > 0 && Number.isInteger(port) ? { address: text.slice(0, colon), port } : undefined;
}

/**
 * Total retransmitted segments of each connection `ss -Htin` printed, by connectionKey: a socket line, then its
 * tcp_info on an indented line. ss leaves the retrans field out while it is zero; a socket without tcp_info (TIME_WAIT)
 * has no entry.
 */
export function parseSsTable(text: string): Map<string, number> {
  const table = new Map<string, number>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) {
      const fields = line.trim().split(/\s+/);
      const local = splitEndpoint(fields[3] ?? '');
      const remote = splitEndpoint(fields[4] ?? '');
      current = local && remote ? connectionKey(local, remote) : undefined;
      continue;
    }
    if (current === undefined) continue;
    const m = /\bretrans:\d+\/(\d+)/.exec(line);
    if (m) table.set(current, Number(m[1]));
    else if (/\brto:\d/.test(line)) table.set(current, 0);
    current = undefined;
  }
  return table;
}

/** The retransmissions of the single connection `ss -Htin` printed, or undefined without tcp_info. */
export function parseSsRetransmissions(text: string): number | undefined {
  const values = [...parseSsTable(text).values()];
  return values.length === 1 ? values[0] : undefined;
}

/** Tcp RetransSegs from the text of /proc/net/snmp. */
export function parseSnmpRetransSegs(text: string): number {
  const lines = text.split('\n').filter((line) => line.startsWith('Tcp:'));
  if (lines.length < 2) throw new Error('/proc/net/snmp has no Tcp header and value lines');
  const names = lines[0]!.trim().split(/\s+/);
  const values = lines[1]!.trim().split(/\s+/);
  const index = names.indexOf('RetransSegs');
  if (index < 0 || values[index] === undefined) throw new Error('/proc/net/snmp has no Tcp RetransSegs');
  const value = Number(values[index]);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`bad Tcp RetransSegs ${values[index]}`);
  return value;
}

/**
 * A TcpExt counter from the text of /proc/net/netstat (TCPLossProbes: tail loss probes sent, each a
 * retransmission that RetransSegs counts too; TCPDSACKRecv: duplicates the peer reported, so retransmissions of
 * data it had). Undefined when the kernel has no such counter.
 */
export function parseTcpExtCounter(text: string, name: string): number | undefined {
  const lines = text.split('\n').filter((line) => line.startsWith('TcpExt:'));
  if (lines.length < 2) return undefined;
  const index = lines[0]!.trim().split(/\s+/).indexOf(name);
  const value = index < 0 ? undefined : Number(lines[1]!.trim().split(/\s+/)[index]);
  return value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** RetransSegs of the namespace this process runs in. */
export async function namespaceRetransSegs(): Promise<number> {
  return parseSnmpRetransSegs(await readFile('/proc/net/snmp', 'utf8'));
}

/**
 * The retransmissions of this namespace's connections, from one `ss -Htin` shared by every caller: a process with
 * hundreds of streams would otherwise run hundreds of ss a second. A snapshot serves for `maxAgeMs`; callers that come
 * while one is being taken wait for it.
 */
export class ConnectionRetransmissions {
  private snapshot: { takenAt: number; table: Map<string, number> } | undefined;
  private pending: Promise<Map<string, number> | undefined> | undefined;

  constructor(
    private readonly maxAgeMs = 500,
    private readonly now: () => number = () => performance.now(),
    private readonly read: () => Promise<Map<string, number> | undefined> = readSsTable,
  ) {}

  async of(local: { address: string; port: number }, remote: { address: string; port: number }): Promise<number | undefined> {
    const table = await this.table();
    return table?.get(connectionKey(local, remote));
  }

  private async table(): Promise<Map<string, number> | undefined> {
    if (this.snapshot && this.now() - this.snapshot.takenAt <= this.maxAgeMs) return this.snapshot.table;
    this.pending ??= this.read().then((table) => {
      this.pending = undefined;
      if (table) this.snapshot = { takenAt: this.now(), table };
      return table;
    });
    return this.pending;
  }
}

function readSsTable(): Promise<Map<string, number> | undefined> {
  return new Promise((resolve) => {
    execFile('ss', ['-Htin', 'state', 'connected'], { timeout: 3_000, maxBuffer: 64 << 20 }, (err, stdout) =>
      resolve(err ? undefined : parseSsTable(stdout)),
    );
  });
}
