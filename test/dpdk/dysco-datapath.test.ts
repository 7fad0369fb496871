// The Dysco pipeline inside the real DPDK loop (EAL, net_pcap ports): policies in force from the
// first packet, a chained SYN that waits for ARP, the session visible through the request ring,
// and policy installs at run time — valid and malformed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pipelineOptions } from '../../src/agent/agent';
import { dyscoConfigSchema } from '../../src/agent/config';
import { Datapath } from '../../src/datapath/datapath';
import { cleanupEal } from '../../src/datapath/eal';
import { DatapathError } from '../../src/native/errors';
import { compilePolicies } from '../../src/policy/compile';
import { requireIpv4 as parseIpv4 } from '../../src/net/ipv4';
import { dpdkUnavailableReason, pcapDatapathOptions, testEalOptions } from '../support/dpdk';
import { buildTcpFrame, TCP_ACK, TCP_SYN, tcpOption, tcpOptionArea } from '../support/packet-builder';
import { readPcap, writePcap } from '../support/pcap';
import { waitFor } from '../support/wait';

const skip = dpdkUnavailableReason();
const HOST = '10.1.0.1';
const GATEWAY = '10.1.0.254';
const SERVER = '10.2.0.1';
const MIDDLEBOX = '10.3.0.1';

describe('Dysco pipeline in the DPDK loop', { skip }, () => {
  const dir = skip ? '' : mkdtempSync(join(tmpdir(), 'dysco-pipeline-'));
  let datapath: Datapath;

  before(() => {
    const options = tcpOptionArea(tcpOption.mss(1460), tcpOption.sackPermitted(), tcpOption.timestamps(1, 0), tcpOption.nop(), tcpOption.wscale(7));
    const eth = { srcMac: '02:00:00:00:01:01', dstMac: '02:00:00:00:01:fe' };
    writePcap(join(dir, 'host-in.pcap'), [
      buildTcpFrame({ eth, ip: { src: HOST, dst: SERVER }, tcp: { srcPort: 40000, dstPort: 80, seq: 100, flags: TCP_SYN, options } }),
      // not chained: another port, and not a SYN
      buildTcpFrame({ eth, ip: { src: HOST, dst: SERVER }, tcp: { srcPort: 40001, dstPort: 22, seq: 5, ack: 9, flags: TCP_ACK } }),
    ]);
    writePcap(join(dir, 'wire-in.pcap'), []);
    datapath = Datapath.open({
      ...pcapDatapathOptions(dir, testEalOptions('dysco')),
      dysco: {
        ...pipelineOptions(dyscoConfigSchema.parse({ address: `${HOST}/24`, gateway: GATEWAY, maxSessions: 1024, maxSetups: 256 })),
        policies: compilePolicies([{ name: 'web', match: { dstPorts: 80 }, chain: [MIDDLEBOX] }]),
      },
    });
  });

  after(() => {
    datapath?.close();
    cleanupEal();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('chains the first SYN, asks ARP for the gateway and lets the other flow through unchanged', async () => {
    datapath.start();
    assert.ok(await waitFor(() => datapath.counters().ports.host.rxPackets === 2, 10_000));
    assert.ok(await waitFor(() => (datapath.pipelineStats()?.arpRequests ?? 0) === 1, 5_000));
    const stats = datapath.pipelineStats()!;
    assert.equal(stats.sessionsInitiated, 1);
    assert.equal(stats.activeSessions >= 0, true);

    const page = await datapath.sessions(0, 100);
    assert.equal(page.sessions.length, 1);
    assert.equal(page.nextCursor, null);
    const [session] = page.sessions;
    assert.equal(session!.state, 2, 'SYN sent');
    assert.equal(session!.role, 0, 'initiator');
    assert.deepEqual(session!.rightSession, { srcIp: parseIpv4(HOST), dstIp: parseIpv4(SERVER), srcPort: 40000, dstPort: 80 });
    assert.equal(session!.rightSubsession!.dstIp, parseIpv4(MIDDLEBOX));
    assert.equal(session!.ruleId, 0);
  });

  it('installs policies at run time and refuses a malformed set with a clear error', async () => {
    await datapath.installPolicies(compilePolicies([{ name: 'none', match: { dstPorts: 1 }, chain: [] }]));
    await assert.rejects(
      datapath.installPolicies(Buffer.from('not a policy set')),
      (error: unknown) => error instanceof DatapathError && error.code === 'BAD_POLICIES' && /bad_magic|truncated/.test(error.message),
    );
  });

  it('sent the ARP request and the unchained frame on the wire, and kept the SYN back', () => {
    const counters = datapath.counters();
    datapath.close();
    const wire = readPcap(join(dir, 'wire-out.pcap'));
    assert.equal(wire.length, 2, `${counters.ports.wire.txPackets} frames on the wire`);
    const arp = wire.find((f) => f.readUInt16BE(12) === 0x0806)!;
    assert.ok(arp, 'an ARP request');
    assert.equal(arp.readUInt32BE(38), parseIpv4(GATEWAY) >>> 0);
    assert.equal(arp.readUInt32BE(28), parseIpv4(HOST) >>> 0, 'asked with the host\'s address');
    const passed = wire.find((f) => f.readUInt16BE(12) === 0x0800)!;
    assert.equal(passed.readUInt16BE(14 + 20 + 2), 22, 'the unchained frame, untouched');
  });
});
