// The conntrack adapter against the real kernel: a TCP connection tracked in one network namespace, its entry (with
// a mark) exported over ctnetlink, imported into a second namespace, read back there by the adapter and by
// `conntrack -L`; an import of what is already there, forged bytes, and the delete.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { parseIpv4 } from '../../src/net/ipv4';
import { ConntrackAdapter } from '../../src/state/conntrack-adapter';
import { hostNamespace, newRunId } from '../../src/testbed/names';
import { netnsUnavailableReason } from '../support/netns';

const skip = netnsUnavailableReason(['ip', 'iptables', 'conntrack']);
const run = newRunId();
const [A, B] = [hostNamespace(run, 'cta'), hostNamespace(run, 'ctb')];
const PORT = 7400;
const LOOPBACK = parseIpv4('127.0.0.1')!;

const sh = (args: string[]) => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, args: string[]) => sh(['ip', 'netns', 'exec', ns, ...args]);
const entriesIn = (ns: string) => inNs(ns, ['conntrack', '-L', '-p', 'tcp', '--dport', String(PORT)]);

describe('conntrack state between two network namespaces', { skip, timeout: 60_000 }, () => {
  let holder: ChildProcess | undefined;
  let clientPort = 0;

  before(async () => {
    for (const ns of [A, B]) {
      sh(['ip', 'netns', 'add', ns]);
      inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
      // A rule that uses conntrack makes the namespace track connections.
      inNs(ns, ['iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP']);
    }
    // The connection's entry in A carries a mark, as a firewall's CONNMARK rule gives it.
    inNs(A, ['iptables', '-t', 'mangle', '-A', 'OUTPUT', '-p', 'tcp', '--dport', String(PORT), '-j', 'CONNMARK', '--set-mark', '7']);
    // A connection on A's loopback, held open; it prints the client's port once data went both ways.
    const script = `const net=require('net');const s=net.createServer(c=>{c.on('data',()=>c.write('y'))}).listen(${PORT},'127.0.0.1',()=>{const c=net.connect(${PORT},'127.0.0.1',()=>c.write('x'));c.once('data',()=>console.log(c.localPort))})`;
    holder = spawn('ip', ['netns', 'exec', A, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    clientPort = await new Promise<number>((resolve, reject) => {
      holder!.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
      holder!.once('exit', () => reject(new Error('the connection holder exited')));
    });
  });

  after(() => {
    holder?.kill('SIGKILL');
    for (const ns of [A, B]) {
      try {
        sh(['ip', 'netns', 'del', ns]);
      } catch {
        // not created
      }
    }
  });

  test('an entry moves with its state and mark, once, and is read back; forged bytes are refused', async () => {
    const tuple = { srcIp: LOOPBACK, dstIp: LOOPBACK, srcPort: clientPort, dstPort: PORT };
    const source = new ConntrackAdapter({ netnsPath: `/var/run/netns/${A}` });
    const target = new ConntrackAdapter({ netnsPath: `/var/run/netns/${B}` });
    const [exported, missing] = await source.exportState([tuple, { ...tuple, srcPort: 1 }]);
    assert.equal(missing!.ok, false);
    assert.equal(!missing!.ok && missing!.reason, 'not_found');
    assert.ok(exported!.ok, 'the connection is tracked in A');
    assert.equal(entriesIn(B).trim(), '', 'B tracks nothing yet');

    const forged = Buffer.from(exported.blob.bytes);
    forged.writeUInt32LE(forged.length + 8, 0); // a length that runs past the bytes
    const outcomes = await target.importState([exported.blob, { tuple, bytes: forged }, { tuple, bytes: Buffer.alloc(3) }]);
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? 'ok' : o.reason)),
      ['ok', 'malformed', 'malformed'],
    );
    const listed = entriesIn(B);
    assert.match(listed, new RegExp(`ESTABLISHED src=127\\.0\\.0\\.1 dst=127\\.0\\.0\\.1 sport=${clientPort} dport=${PORT} .*\\[ASSURED\\] mark=7`));

    const again = await target.importState([exported.blob]);
    assert.deepEqual(again, [{ tuple, ok: false, reason: 'exists' }]);

    await target.deleteState([tuple]);
    assert.equal(entriesIn(B).trim(), '', 'deleted');
    await target.deleteState([tuple]); // already gone: not an error
    assert.match(entriesIn(A), /mark=7/, 'A keeps its own');
  });
});
