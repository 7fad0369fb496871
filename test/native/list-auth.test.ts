// Signed address lists through real session pipelines on Buffers (docs/security.md): each agent verifies the list
// it receives before it keeps anything for it and signs what it sends on; forged, tampered, moved, stale, replayed
// and unsigned lists are dropped under their own reason with no session created; keys rotate without a restart.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { NativeListAuth } from '../../src/native/session-types';
import { compilePolicies } from '../../src/policy/compile';
import { ADDRESS_LIST_AUTH_BLOCK_SIZE, decodeAddressList, encodeAddressList } from '../../src/protocol/address-list';
import { compileListAuth, securityConfigSchema } from '../../src/security/list-auth';
import { KeyRing } from '../../src/security/key-ring';
import { coreTestAddon } from '../support/core-addon';
import { DyscoLab, type LabHost } from '../support/dysco-lab';
import { buildTcpFrame, parseFrame, TCP_SYN } from '../support/packet-builder';

const NOW_S = 1_800_000_000;
const KEY_1 = { id: 1, key: randomBytes(16) };
const KEY_2 = { id: 2, key: randomBytes(16) };

function auth(keys: { id: number; key: Buffer }[], signingKeyId: number, acceptUnsigned: NativeListAuth['acceptUnsigned'] = false): NativeListAuth {
  return { keys, signingKeyId, maxSkewSeconds: 30, acceptUnsigned };
}

interface Chain {
  lab: DyscoLab;
  client: LabHost;
  mb: LabHost;
  server: LabHost;
}

function chain(): Chain {
  const lab = new DyscoLab();
  const client = lab.addHost('client', 1, 'endpoint');
  const mb = lab.addHost('mb', 2, 'forwarder');
  const server = lab.addHost('server', 3, 'endpoint');
  client.agent.installPolicies(
    compilePolicies([{ name: 'web', match: { dstPrefix: `${server.ip}/32`, dstPorts: '80-443' }, chain: [mb.ip] }]),
  );
  for (const host of [client, mb, server]) {
    host.agent.setUnixSeconds(NOW_S);
    host.agent.installListAuth(auth([KEY_1], 1));
  }
  return { lab, client, mb, server };
}

function clientSyn(c: Chain, srcPort: number, dstPort = 80): Buffer {
  return buildTcpFrame({
    eth: { srcMac: c.client.mac, dstMac: c.client.gatewayMac },
    ip: { src: c.client.ip, dst: c.server.ip, id: 1, ttl: 64 },
    tcp: { srcPort, dstPort, seq: 1000, flags: TCP_SYN, window: 501 },
  });
}

/** The subsession SYN the client agent sends for a new session, kept off the wire. */
function capturedSyn(c: Chain, srcPort: number, dstPort = 80): Buffer {
  let captured: Buffer | undefined;
  c.lab.loses = (from, frame) => {
    if (from !== c.client || frame.readUInt16BE(12) !== 0x0800) return false;
    captured = Buffer.from(frame);
    return true;
  };
  c.lab.send(c.client, clientSyn(c, srcPort, dstPort));
  c.lab.loses = undefined;
  assert.ok(captured, 'the client agent sent a SYN');
  return captured;
}

/** The list of a SYN frame and where it starts. */
function listOf(frame: Buffer): { at: number; list: Buffer } {
  const payload = parseFrame(frame).tcp!.payload;
  return { at: frame.length - payload.length, list: payload };
}

/** A SYN from the client's address to the middlebox carrying `payload`, on subsession ports of its own. */
function craftedSyn(c: Chain, srcPort: number, payload: Buffer): Buffer {
  return buildTcpFrame({
    eth: { srcMac: c.client.gatewayMac, dstMac: c.mb.mac },
    ip: { src: c.client.ip, dst: c.mb.ip, id: 2, ttl: 63 },
    tcp: { srcPort, dstPort: 61999, seq: 5000, flags: TCP_SYN, window: 501, payload },
  });
}

function carrierOf(frame: Buffer): Buffer {
  const p = parseFrame(frame);
  const carrier = Buffer.alloc(12);
  carrier.writeUInt32BE(p.ip.src, 0);
  carrier.writeUInt32BE(p.ip.dst, 4);
  carrier.writeUInt16BE(p.tcp!.srcPort, 8);
  carrier.writeUInt16BE(p.tcp!.dstPort, 10);
  return carrier;
}

function expectRefused(c: Chain, frame: Buffer, reason: string): void {
  const sessions = c.mb.agent.sessions().length;
  const before = c.mb.agent.drops()[reason] ?? 0;
  assert.equal(c.lab.inject(c.mb, frame).verdict, 'drop', reason);
  assert.equal(c.mb.agent.drops()[reason], before + 1, `counted as ${reason}`);
  assert.equal(c.mb.agent.sessions().length, sessions, 'no session state for a refused list');
}

describe('signed address lists along a chain', () => {
  test('every agent signs what it sends and verifies what it receives; the session sets up end to end', () => {
    const c = chain();
    c.mb.agent.installListAuth(auth([KEY_1, KEY_2], 2));
    c.server.agent.installListAuth(auth([KEY_1, KEY_2], 1));
    c.lab.send(c.client, clientSyn(c, 40000));
    const [first, second] = c.lab.wire.filter((r) => r.frame.readUInt16BE(12) === 0x0800).map((r) => decodeAddressList(listOf(r.frame).list));
    assert.ok(first?.ok && second?.ok);
    assert.deepEqual(first.list.auth && { keyId: first.list.auth.keyId, signedAt: first.list.auth.signedAt }, { keyId: 1, signedAt: NOW_S });
    assert.equal(second.list.auth?.keyId, 2, 'the middlebox signs with its own signing key');
    assert.deepEqual(second.list.hops, [c.server.ip]);
    assert.equal(c.server.delivered.length, 1, 'the server host got the SYN');
    assert.equal(parseFrame(c.server.delivered[0]!).tcp!.payload.length, 0, 'without the list');
    assert.equal(c.client.agent.stats().listsSigned, 1);
    assert.deepEqual([c.mb.agent.stats().listsVerified, c.mb.agent.stats().listsSigned], [1, 1]);
    assert.equal(c.server.agent.stats().listsVerified, 1);
  });

  test('a tampered, moved, re-keyed or re-timed list is a bad MAC; an unknown key and a stale time have their own', () => {
    const c = chain();
    const syn = capturedSyn(c, 40001);
    const { at, list } = listOf(syn);
    const block = list.length - ADDRESS_LIST_AUTH_BLOCK_SIZE;
    const edited = (offset: number, value: (byte: number) => number) => {
      const copy = Buffer.from(syn);
      copy[at + offset] = value(copy[at + offset]!);
      return copy;
    };
    expectRefused(c, edited(24 + 3, (b) => b ^ 1), 'list_bad_mac'); // the second hop: the session sent elsewhere
    expectRefused(c, edited(19, (b) => b ^ 1), 'list_bad_mac'); // the session's destination port
    expectRefused(c, edited(block + 5, (b) => b ^ 1), 'list_bad_mac'); // the signer's time
    expectRefused(c, edited(block + 13, (b) => b ^ 0x80), 'list_bad_mac'); // the tag
    const moved = Buffer.from(syn);
    moved.writeUInt16BE(moved.readUInt16BE(34) + 1, 34); // the SYN's TCP source port: the list on another SYN
    expectRefused(c, moved, 'list_bad_mac');
    expectRefused(c, edited(block + 1, () => 9), 'list_unknown_key');
    c.mb.agent.setUnixSeconds(NOW_S + 31);
    expectRefused(c, syn, 'list_stale');
    c.mb.agent.setUnixSeconds(NOW_S - 31);
    expectRefused(c, syn, 'list_stale');
    c.mb.agent.setUnixSeconds(NOW_S + 30);
    assert.equal(c.lab.inject(c.mb, syn).verdict, 'host', 'within the skew, the intact SYN sets up its session');
    assert.equal(c.mb.agent.stats().sessionsAccepted, 1);
  });

  test('a copy of a SYN whose session has ended is refused as replayed, within the window', () => {
    const c = chain();
    const syn = capturedSyn(c, 40002);
    assert.equal(c.lab.inject(c.mb, syn).verdict, 'host');
    assert.equal(c.lab.inject(c.mb, syn).verdict, 'host', 'a retransmission while the session lives passes as such');
    assert.equal(c.mb.agent.sessions().length, 1, 'one session for both copies');
    c.lab.advance(60_000); // the set-up times out: the session is gone
    assert.equal(c.mb.agent.sessions().length, 0);
    expectRefused(c, syn, 'list_replayed');
    c.mb.agent.setUnixSeconds(NOW_S + 31);
    expectRefused(c, syn, 'list_stale'); // and later it is too old anyway
  });

  test('unsigned lists: refused, unless the policy accepts them for that session; signed ones without keys are refused', () => {
    const c = chain();
    const unsigned = (srcPort: number, dstPort: number) =>
      craftedSyn(
        c,
        srcPort,
        encodeAddressList({ session: { srcIp: c.client.ip, dstIp: c.server.ip, srcPort: 41000, dstPort }, hops: [c.mb.ip, c.server.ip] }),
      );
    expectRefused(c, unsigned(61100, 80), 'list_unsigned');
    // The signed list with its block cut off and flag cleared: a downgrade is an unsigned list.
    const syn = capturedSyn(c, 40003);
    const { list } = listOf(syn);
    const stripped = Buffer.from(list.subarray(0, list.length - ADDRESS_LIST_AUTH_BLOCK_SIZE));
    stripped[5] = stripped[5]! & ~1;
    expectRefused(c, craftedSyn(c, 61101, stripped), 'list_unsigned');

    const policy = compileListAuth(
      securityConfigSchema.parse({ keys: { keys: [{ id: 1, key: KEY_1.key.toString('hex') }], signingKeyId: 1 }, acceptUnsigned: [{ dstPrefix: `${c.server.ip}/32`, dstPorts: 80 }] }),
      KeyRing.parse({ keys: [{ id: 1, key: KEY_1.key.toString('hex') }], signingKeyId: 1 }),
    );
    c.mb.agent.installListAuth(policy);
    assert.equal(c.lab.inject(c.mb, unsigned(61102, 80)).verdict, 'host', 'port 80: still accepted unsigned');
    assert.equal(c.mb.agent.stats().unsignedAccepted, 1);
    expectRefused(c, unsigned(61103, 443), 'list_unsigned');
    assert.equal(c.lab.inject(c.mb, capturedSyn(c, 40004, 443)).verdict, 'host', 'signed: accepted on any port');

    c.mb.agent.installListAuth(null);
    expectRefused(c, capturedSyn(c, 40005), 'list_unknown_key');
    assert.equal(c.lab.inject(c.mb, unsigned(61104, 443)).verdict, 'host', 'authentication off: unsigned lists as before');
  });

  test('key rotation: add the new key everywhere, sign with it, retire the old one; lists of a retired key are refused', () => {
    const c = chain();
    const old = capturedSyn(c, 40010);
    c.mb.agent.installListAuth(auth([KEY_1, KEY_2], 1));
    c.client.agent.installListAuth(auth([KEY_1, KEY_2], 2));
    const rotated = capturedSyn(c, 40011);
    const decoded = decodeAddressList(listOf(rotated).list);
    assert.ok(decoded.ok);
    assert.equal(decoded.list.auth?.keyId, 2);
    assert.equal(c.lab.inject(c.mb, rotated).verdict, 'host', 'the new key verifies');
    c.mb.agent.installListAuth(auth([KEY_2], 2));
    expectRefused(c, old, 'list_unknown_key');
    assert.equal(c.mb.agent.sessions().length, 1, 'the session set up under the new key lives on');
  });

  test('the tag is SipHash-2-4 of the carrier and the list: a list the test signs itself with the key verifies', () => {
    const c = chain();
    const plain = encodeAddressList({ session: { srcIp: c.client.ip, dstIp: c.server.ip, srcPort: 42000, dstPort: 80 }, hops: [c.mb.ip, c.server.ip] });
    const probe = craftedSyn(c, 61200, plain);
    const signed = coreTestAddon.mac.signAddressList([KEY_1], 1, NOW_S, plain, carrierOf(probe))!;
    assert.equal(c.lab.inject(c.mb, craftedSyn(c, 61200, signed)).verdict, 'host');
    assert.equal(c.mb.agent.stats().listsVerified, 1);
  });
});
