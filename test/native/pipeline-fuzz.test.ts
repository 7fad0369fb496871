// Hostile input through the session pipeline: random bytes, truncations and single-byte mutations of
// real set-up frames (list SYNs, tagged SYNs, SYN-ACKs, data, ARP), from both sides. Every frame gets a
// verdict, nothing crashes, every drop is counted, and the agents still carry a clean session after.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicies } from '../../src/policy/compile';
import { DyscoLab } from '../support/dysco-lab';
import { buildTcpFrame, parseFrame, TCP_ACK, TCP_SYN, tcpOption, tcpOptionArea } from '../support/packet-builder';
import { Prng } from '../support/prng';

const OPTIONS = tcpOptionArea(tcpOption.mss(1460), tcpOption.sackPermitted(), tcpOption.timestamps(5, 0), tcpOption.nop(), tcpOption.wscale(7));

function mutate(prng: Prng, frame: Buffer): Buffer {
  const out = Buffer.from(frame);
  switch (prng.int(0, 3)) {
    case 0: // one byte anywhere
      out[prng.int(0, out.length - 1)] = prng.int(0, 255);
      return out;
    case 1: // truncated
      return out.subarray(0, prng.int(0, out.length));
    case 2: // a few bytes in the IP/TCP headers and the list
      for (let k = 0; k < 3; k++) out[prng.int(14, Math.min(out.length - 1, 120))] = prng.int(0, 255);
      return out;
    default: // noise
      return Buffer.from(Array.from({ length: prng.int(0, 200) }, () => prng.int(0, 255)));
  }
}

test('random and mutated frames get verdicts and counted drops, and sessions still work after', () => {
  const lab = new DyscoLab();
  const client = lab.addHost('client', 1, 'endpoint');
  const mb = lab.addHost('mb', 2, 'forwarder');
  const server = lab.addHost('server', 4, 'endpoint');
  client.agent.installPolicies(compilePolicies([{ name: 'all', match: {}, chain: [mb.ip] }]));

  // Real frames of a set-up to mutate: the client's list SYN, the tagged SYN at mb, the server's SYN-ACK.
  const syn = (port: number) =>
    buildTcpFrame({ eth: { srcMac: client.mac, dstMac: client.gatewayMac }, ip: { src: client.ip, dst: server.ip }, tcp: { srcPort: port, dstPort: 80, seq: 1, flags: TCP_SYN, options: OPTIONS } });
  lab.send(client, syn(5000));
  const seeds = lab.wire.map((r) => r.frame).concat(mb.delivered, server.delivered);
  assert.ok(seeds.length >= 4);

  const prng = new Prng(0xd15c0);
  const agents = [client, mb, server];
  let frames = 0;
  for (let round = 0; round < 400; round++) {
    const burst = Array.from({ length: prng.int(1, 32) }, () => mutate(prng, seeds[prng.int(0, seeds.length - 1)]!));
    for (const host of agents) {
      for (const results of [host.agent.fromWire(burst, lab.now), host.agent.fromHost(burst, lab.now)]) {
        assert.equal(results.length, burst.length);
        for (const r of results) assert.ok(['wire', 'host', 'drop', 'held'].includes(r.verdict));
        frames += results.length;
      }
    }
    lab.now += 7;
    if (round % 50 === 0) for (const host of agents) host.agent.expire(lab.now, 1 << 16);
  }
  assert.ok(frames > 20_000);

  // Whatever the fuzz left behind retires by timeout, and a clean session still works end to end.
  lab.advance(400_000);
  for (const host of agents) assert.equal(host.agent.stats().activeSessions, 0, `${host.name} back to zero`);
  for (const host of agents) host.agent.takeSent();
  const before = server.delivered.length;
  lab.send(client, syn(5001));
  const up = server.delivered[server.delivered.length - 1]!;
  assert.equal(server.delivered.length, before + 1);
  assert.equal(parseFrame(up).tcp!.srcPort, 5001);
  lab.send(server, buildTcpFrame({ eth: { srcMac: server.mac, dstMac: server.gatewayMac }, ip: { src: server.ip, dst: client.ip }, tcp: { srcPort: 80, dstPort: 5001, seq: 9, ack: 2, flags: TCP_SYN | TCP_ACK } }));
  assert.equal(parseFrame(client.delivered[client.delivered.length - 1]!).tcp!.flags, TCP_SYN | TCP_ACK);
});
