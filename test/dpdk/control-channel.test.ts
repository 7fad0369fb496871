// The control channel in the real DPDK loop (EAL, net_pcap ports): a datagram to the control port
// arrives as a typed control_packet event and never reaches the host, the pipeline serves the session
// requests the dpdk layer forwards to it, and a datagram handed to the lcore goes out after ARP.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Datapath } from '../../src/datapath/datapath';
import { cleanupEal } from '../../src/datapath/eal';
import type { ControlPacketEvent, DatapathEvent } from '../../src/native/events';
import { DatapathError } from '../../src/native/errors';
import { REQUEST_TYPES } from '../../src/native/generated/codes';
import type { NativeDatapath } from '../../src/native/binding';
import { pipelineOptions } from '../../src/agent/agent';
import { dyscoConfigSchema } from '../../src/agent/config';
import { requireIpv4 as parseIpv4 } from '../../src/net/ipv4';
import { dpdkUnavailableReason, pcapDatapathOptions, testEalOptions } from '../support/dpdk';
import { buildUdpFrame } from '../support/packet-builder';
import { readPcap, writePcap } from '../support/pcap';
import { waitFor } from '../support/wait';

const skip = dpdkUnavailableReason();
const HOST = '10.1.0.1';
const GATEWAY = '10.1.0.254';
const PEER = '10.4.0.1';
const CONTROL_PORT = 7070;
const HOST_MAC = '02:00:00:00:01:01';

describe('control channel in the DPDK loop', { skip }, () => {
  const dir = skip ? '' : mkdtempSync(join(tmpdir(), 'dysco-control-'));
  let datapath: Datapath;
  const events: DatapathEvent[] = [];

  before(() => {
    // The host speaks first (its MAC is what the agent sends from), then a peer's control datagram
    // and an ordinary datagram arrive from the wire.
    writePcap(join(dir, 'host-in.pcap'), [
      buildUdpFrame({ eth: { srcMac: HOST_MAC, dstMac: '02:00:00:00:01:fe' }, ip: { src: HOST, dst: PEER }, udp: { srcPort: 5000, dstPort: 53 } }),
    ]);
    const fromPeer = { srcMac: '02:00:00:00:01:fe', dstMac: HOST_MAC };
    writePcap(join(dir, 'wire-in.pcap'), [
      buildUdpFrame({ eth: fromPeer, ip: { src: PEER, dst: HOST }, udp: { srcPort: CONTROL_PORT, dstPort: CONTROL_PORT, payload: Buffer.from('lock request') } }),
      buildUdpFrame({ eth: fromPeer, ip: { src: PEER, dst: HOST }, udp: { srcPort: 53, dstPort: 5000, payload: Buffer.from('dns answer') } }),
    ]);
    datapath = Datapath.open({
      ...pcapDatapathOptions(dir, testEalOptions('control')),
      dysco: pipelineOptions(
        dyscoConfigSchema.parse({ address: `${HOST}/24`, gateway: GATEWAY, maxSessions: 1024, maxSetups: 256, controlPort: CONTROL_PORT }),
      ),
    });
    datapath.events.on('event', (event) => events.push(event));
  });

  after(() => {
    datapath?.close();
    cleanupEal();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('posts the control datagram as a typed event', async () => {
    const typed: ControlPacketEvent[] = [];
    datapath.events.on('control_packet', (event) => typed.push(event));
    datapath.start();
    assert.ok(await waitFor(() => typed.length === 1, 10_000), 'a control_packet event');
    const [event] = typed;
    assert.equal(event!.srcIp, parseIpv4(PEER));
    assert.equal(event!.dstPort, CONTROL_PORT);
    assert.equal(event!.payload.toString(), 'lock request');
    assert.deepEqual(events, typed, 'the catch-all stream saw the same event');
    assert.equal(datapath.pipelineStats()!.controlPackets, 1);
    assert.ok(await waitFor(() => datapath.pipelineStats()!.controlSlotsInUse === 0, 1_000));
  });

  it('serves loop requests in the dpdk layer and refuses pipeline requests without their typed method', async () => {
    assert.ok((await datapath.ping()).loopIterations > 0);
    const handle = (datapath as unknown as { handle: NativeDatapath }).handle;  // the untyped request() path
    await assert.rejects(handle.request(REQUEST_TYPES.DumpSessions, []), /use installPolicies\(\), sessions\(\) or transmit\(\)/);
    const page = await datapath.sessions(0, 10);
    assert.deepEqual(page, { sessions: [], nextCursor: null });
  });

  it('hands a datagram to the lcore: it waits for ARP, bad ones are refused with a stack', async () => {
    assert.ok(await waitFor(() => datapath.counters().ports.host.rxPackets === 1, 5_000));
    const result = await datapath.transmit({ dstIp: parseIpv4(PEER), dstPort: CONTROL_PORT, srcPort: CONTROL_PORT, payload: Buffer.from('lock granted') });
    assert.deepEqual(result, { sent: false }, 'the gateway is not resolved yet');
    // Settled through .catch, not await: no async stack trace reaches back here, only the one taken before the call.
    const refused: unknown = await new Promise((resolve) => {
      datapath.transmit({ dstIp: parseIpv4(PEER), dstPort: 0, srcPort: CONTROL_PORT, payload: Buffer.alloc(1) }).catch(resolve);
    });
    assert.ok(refused instanceof DatapathError && refused.code === 'INVALID_ARGUMENT');
    assert.match(refused.stack ?? '', /control-channel\.test/, 'the stack names the caller');
    assert.ok(await waitFor(() => (datapath.pipelineStats()?.arpRequests ?? 0) >= 1, 5_000));
  });

  it('delivered the ordinary datagram to the host, not the control one, and asked ARP for the gateway', () => {
    datapath.close();
    const toHost = readPcap(join(dir, 'host-out.pcap'));
    assert.equal(toHost.length, 1);
    assert.equal(toHost[0]!.readUInt16BE(14 + 20 + 2), 5000, 'the DNS answer, untouched');
    const wire = readPcap(join(dir, 'wire-out.pcap'));
    const arp = wire.filter((f) => f.readUInt16BE(12) === 0x0806);
    assert.ok(arp.length >= 1);
    assert.equal(arp[0]!.readUInt32BE(38), parseIpv4(GATEWAY) >>> 0);
    assert.deepEqual(arp[0]!.subarray(6, 12), Buffer.from([2, 0, 0, 0, 1, 1]), 'from the host MAC');
  });
});
