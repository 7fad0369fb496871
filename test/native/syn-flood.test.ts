// A SYN flood at a responder's agent through the real session pipeline (docs/security.md, floods): lists with valid
// MACs from a compromised peer, and garbage. Half-open sessions are bounded by maxSetups apart from established ones,
// the oldest give way first, established sessions keep translating, and a genuine SYN after the flood still sets up.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { SESSION_STATES } from '../../src/native/pipeline-binding';
import { encodeAddressList } from '../../src/protocol/address-list';
import { coreTestAddon } from '../support/core-addon';
import { DyscoLab } from '../support/dysco-lab';
import { buildTcpFrame, parseFrame, TCP_ACK, TCP_PSH, TCP_SYN } from '../support/packet-builder';

const NOW_S = 1_800_000_000;
const KEY = { id: 1, key: randomBytes(16) };
const MAX_SETUPS = 16;
const ESTABLISHED = 24;

describe('a SYN flood at a responder', () => {
  const lab = new DyscoLab();
  const server = lab.addHost('server', 4, 'endpoint', { maxSessions: 64, maxSetups: MAX_SETUPS });
  server.agent.setUnixSeconds(NOW_S);
  server.agent.installListAuth({ keys: [KEY], signingKeyId: 1, maxSkewSeconds: 30, acceptUnsigned: false });
  const peer = '10.0.1.2';
  const peerMac = '02:00:00:00:01:02';

  /** A subsession SYN from `peer` for session n, its list signed with the real key (what a compromised peer sends). */
  const signedSyn = (n: number): Buffer => {
    const srcPort = 61000 + 2 * n;
    const probe = { srcIp: peer, dstIp: server.ip, srcPort, dstPort: 61001 };
    const list = encodeAddressList({ session: { srcIp: peer, dstIp: server.ip, srcPort: 20000 + n, dstPort: 80 }, hops: [server.ip] });
    const carrier = Buffer.alloc(12);
    Buffer.from(probe.srcIp.split('.').map(Number)).copy(carrier, 0);
    Buffer.from(probe.dstIp.split('.').map(Number)).copy(carrier, 4);
    carrier.writeUInt16BE(probe.srcPort, 8);
    carrier.writeUInt16BE(probe.dstPort, 10);
    return buildTcpFrame({
      eth: { srcMac: peerMac, dstMac: server.mac },
      ip: { src: peer, dst: server.ip, id: n & 0xffff, ttl: 64 },
      tcp: { srcPort, dstPort: 61001, seq: 1000 + n, flags: TCP_SYN, window: 501, payload: coreTestAddon.mac.signAddressList([KEY], 1, NOW_S, list, carrier)! },
    });
  };
  const fromPeer = (srcPort: number, flags: number, seq: number, ack: number, payload?: Buffer) =>
    buildTcpFrame({
      eth: { srcMac: peerMac, dstMac: server.mac },
      ip: { src: peer, dst: server.ip, id: 1, ttl: 64 },
      tcp: { srcPort, dstPort: 61001, seq, ack, flags, window: 501, ...(payload && { payload }) },
    });
  const established = () => server.agent.sessions().filter((s) => SESSION_STATES[s.state] === 'established').length;
  const halfOpen = () => server.agent.sessions().filter((s) => SESSION_STATES[s.state] !== 'established').length;

  test('established sessions are set up first (the host answers each SYN, the peer acknowledges)', () => {
    for (let n = 0; n < ESTABLISHED; n++) {
      assert.equal(lab.inject(server, signedSyn(n)).verdict, 'host');
      // The host's SYN-ACK goes out through the agent, then the peer's ACK comes in.
      const synAck = buildTcpFrame({
        eth: { srcMac: server.mac, dstMac: server.gatewayMac },
        ip: { src: server.ip, dst: peer, id: 2, ttl: 64 },
        tcp: { srcPort: 80, dstPort: 20000 + n, seq: 5000, ack: 1001 + n, flags: TCP_SYN | TCP_ACK, window: 501 },
      });
      lab.send(server, synAck);
      lab.inject(server, fromPeer(61000 + 2 * n, TCP_ACK, 1001 + n, 5001));
    }
    assert.equal(established(), ESTABLISHED);
  });

  test('a flood of signed SYNs and of garbage: half-open sessions stay within maxSetups, the oldest give way', () => {
    for (let n = ESTABLISHED; n < ESTABLISHED + 500; n++) {
      assert.equal(lab.inject(server, signedSyn(n)).verdict, 'host', `flood SYN ${n} is set up (a newer one would reclaim it)`);
      const garbage = Buffer.concat([Buffer.from('DYSK'), randomBytes(40)]);
      lab.inject(server, fromPeer(40000 + (n % 20000), TCP_SYN, n, 0, garbage));
    }
    assert.equal(established(), ESTABLISHED, 'no established session was pushed out');
    assert.equal(halfOpen(), MAX_SETUPS);
    assert.equal(server.agent.stats().setupsReclaimed, 500 - MAX_SETUPS);
    assert.equal(server.agent.drops().table_full ?? 0, 0);
    const drops = server.agent.drops();
    assert.ok(Object.entries(drops).filter(([reason]) => reason.startsWith('list_')).reduce((sum, [, v]) => sum + v, 0) === 500, JSON.stringify(drops));
  });

  test('established sessions still translate, and a genuine SYN after the flood sets up', () => {
    for (let n = 0; n < ESTABLISHED; n++) {
      const data = fromPeer(61000 + 2 * n, TCP_ACK | TCP_PSH, 1001 + n, 5001, Buffer.from(`data ${n}`));
      const result = lab.inject(server, data);
      assert.equal(result.verdict, 'host');
      assert.equal(parseFrame(result.frame!).tcp!.dstPort, 80, 'translated to the session');
    }
    assert.equal(lab.inject(server, signedSyn(1_000)).verdict, 'host');
  });
});
