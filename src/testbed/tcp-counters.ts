// Retransmission counters of the kernel's TCP, as `ss -tin` shows them per connection and as /proc/net/snmp counts
// them per network namespace (RetransSegs). ss is the per-connection figure (it reads tcp_info, whose total
// retransmissions field is what `retrans:<now>/<total>` prints); the namespace counter also covers the time after a
// socket is gone (FIN retransmissions in TIME_WAIT), for a whole set of sessions at once.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/**
 * Total retransmitted segments of the single connection `ss -Htin` printed, or undefined when it printed none (the
 * socket is gone or in TIME_WAIT, which has no tcp_info). ss leaves the field out while it is zero.
 */
export function parseSsRetransmissions(text: string): number | undefined {
  const joined = text.split('\n').join(' ');
  const m = /\bretrans:\d+\/(\d+)/.exec(joined);
  if (m) return Number(m[1]);
  // no tcp_info at all (no socket, or TIME_WAIT): nothing to tell
  return /\brto:\d/.test(joined) ? 0 : undefined;
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

/** The retransmissions of one connection of this namespace, by its two endpoints, from `ss -Htin`. */
export function connectionRetransmissions(local: { address: string; port: number }, remote: { address: string; port: number }): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile(
      'ss',
      ['-Htin', 'state', 'connected', 'src', `${local.address}:${local.port}`, 'dst', `${remote.address}:${remote.port}`],
      { timeout: 3_000 },
      (err, stdout) => resolve(err ? undefined : parseSsRetransmissions(stdout)),
    );
  });
}
