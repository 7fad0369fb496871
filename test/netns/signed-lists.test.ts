// Signed address lists between real agents (docs/security.md): every agent of the chain signs and verifies with the
// testbed's key. SYNs an attacker on the client's host sends to the firewall's agent — a forged tag, an unknown key,
// an unsigned list, a stale one signed with the real key, a replay of a real SYN after its session ended — are
// dropped under their reasons, while a byte-verified session runs through the same firewall unharmed. Then the key
// is rotated under traffic by rewriting the key file and SIGHUP, with new sessions set up at every step. Control
// frames are sealed too: an agent on no path of a session (mb2, with the real key) cannot lock it, forged and
// unsealed frames are refused, and the firewall migration mb1 → mb2 with conntrack state runs under all of it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ApiClient } from '../../src/api/client';
import { defaultApiSocket } from '../../src/api/socket-path';
import { encodeFrame } from '../../src/control/codec';
import { parseIpv4 } from '../../src/net/ipv4';
import { FrameAuthenticator } from '../../src/security/frame-auth';
import { KeyRing } from '../../src/security/key-ring';
import { createTestbed, type Testbed } from '../../src/testbed';
import { withAgentDiagnosis } from '../../src/testbed/diagnosis';
import { metricSamples, metricSum } from '../../src/testbed/exposition';
import { encodeAddressList } from '../../src/protocol/address-list';
import { runVerifiedStreams, type VerifiedStreamsResult } from '../../src/testbed/verified-stream-run';
import { coreTestAddon } from '../support/core-addon';
import { installFirewall, startCapture } from '../support/middleboxes';
import { assertIntact } from '../support/intact';
import { netnsUnavailableReason } from '../support/netns';
import { buildTcpFrame, ipv4ToNumber, TCP_ACK, TCP_SYN } from '../support/packet-builder';
import { readPcap } from '../support/pcap';

const skip = netnsUnavailableReason(['ip', 'ethtool', 'ss', 'iptables', 'conntrack', 'tcpdump', 'python3']);
const LINGER_MS = 300;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends each hex-encoded IPv4 packet as it is (IP_HDRINCL) from the namespace it runs in. */
const SEND_UDP = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for payload in sys.argv[4:]:
    s.sendto(bytes.fromhex(payload), (sys.argv[2], int(sys.argv[3])))
`;
const CONTROL_PORT = 7777;

const SEND_RAW = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for packet in sys.argv[1:]:
    data = bytes.fromhex(packet)
    s.sendto(data, (socket.inet_ntoa(data[16:20]), 0))
`;


describe('signed address lists and sealed control frames between real agents through iptables firewalls', { skip, timeout: 300_000 }, () => {
  let tb: Testbed;
  const address = (host: string) => tb.host(host).address;
  const diagnosed = (name: string, body: (t: TestContext) => Promise<void>) => it(name, (t) => withAgentDiagnosis(tb, () => body(t)));
  const drops = async (host: string, reason: string) => metricSum(await tb.scrapeMetrics(host), `dysco_drops_total{reason="${reason}"}`);
  const lists = async (host: string, kind: string) => metricSum(await tb.scrapeMetrics(host), `dysco_address_lists_total{kind="${kind}"}`);
  const sendRaw = (packets: Buffer[]) => tb.exec('client', ['python3', '-c', SEND_RAW, ...packets.map((p) => p.toString('hex'))]);

  /** A SYN from the client's address to mb1 on subsession ports, carrying `list` (its IPv4 packet, no Ethernet). */
  const synTo = (srcPort: number, list: Buffer) =>
    buildTcpFrame({
      ip: { src: address('client'), dst: address('mb1'), id: srcPort, ttl: 64 },
      tcp: { srcPort, dstPort: 61999, seq: 4242, flags: TCP_SYN, window: 501, payload: list },
    }).subarray(14);
  const sessionList = (srcPort: number) =>
    encodeAddressList({ session: { srcIp: address('client'), dstIp: address('server'), srcPort, dstPort: 7339 }, hops: [address('mb1'), address('server')] });
  const carrier = (srcPort: number) => {
    const c = Buffer.alloc(12);
    c.writeUInt32BE(ipv4ToNumber(address('client')), 0);
    c.writeUInt32BE(ipv4ToNumber(address('mb1')), 4);
    c.writeUInt16BE(srcPort, 8);
    c.writeUInt16BE(61999, 10);
    return c;
  };
  const currentKeys = () => (JSON.parse(readFileSync(tb.keyFile!, 'utf8')) as { keys: { id: number; key: string }[] }).keys;
  const keyRing = (keys: { id: number; key: string }[], signingKeyId: number) =>
    writeFileSync(tb.keyFile!, `${JSON.stringify({ keys, signingKeyId })}\n`, { mode: 0o600 });

  before(async () => {
    tb = await createTestbed('chain-2', {
      dysco: true,
      signedLists: true,
      middleboxState: 'conntrack',
      agentConfig: { dysco: { controlPort: CONTROL_PORT, timeouts: { lingerMs: LINGER_MS } } },
      policies: { client: [{ name: 'via-mb1', match: { dstPrefix: 'server', dstPorts: '7331-7339' }, chain: ['mb1'] }] },
    });
    await installFirewall(tb, 'mb1');
    await installFirewall(tb, 'mb2', { admitNew: false });
  });
  after(async () => {
    await tb?.destroy();
  });

  diagnosed('forged, unsigned, stale and replayed lists are dropped by reason, and a live session runs on untouched', async () => {
    const realKey = { id: 1, key: Buffer.from(currentKeys()[0]!.key, 'hex') };

    // A real SYN through mb1, captured on the router, from a session that then ends.
    const capture = await startCapture(tb, 'router', tb.host('mb1').routerIface, ['tcp', 'and', 'dst', 'host', address('mb1')]);
    let first: VerifiedStreamsResult;
    try {
      first = await runVerifiedStreams(tb, 'client', 'server', { port: 7338, seed: 7, durationMs: 500, rateMbitPerSecond: 5 });
    } finally {
      await capture.stop();
    }
    assertIntact(first, 10_001);
    const realSyn = readPcap(capture.file)
      .filter((f) => f.readUInt16BE(12) === 0x0800 && f[14 + 9] === 6)
      .map((f) => f.subarray(14))
      .find((ip) => (ip[(ip[0]! & 0x0f) * 4 + 13]! & (TCP_SYN | TCP_ACK)) === TCP_SYN);
    assert.ok(realSyn, 'captured the subsession SYN toward mb1');
    await sleep(LINGER_MS + 1_500); // the session lingers, then its agents retire it

    const before = {
      badMac: await drops('mb1', 'list_bad_mac'),
      unknownKey: await drops('mb1', 'list_unknown_key'),
      unsigned: await drops('mb1', 'list_unsigned'),
      stale: await drops('mb1', 'list_stale'),
      replayed: await drops('mb1', 'list_replayed'),
      accepted: metricSum(await tb.scrapeMetrics('mb1'), 'dysco_session_setups_total{kind="accepted"}'),
    };
    const forgedTag = Buffer.concat([sessionList(50001), Buffer.alloc(14)]);
    forgedTag[5] = 1;
    forgedTag.writeUInt16BE(1, forgedTag.length - 14);
    forgedTag.writeUInt32BE(Math.floor(Date.now() / 1000), forgedTag.length - 12);
    forgedTag.fill(0xab, forgedTag.length - 8);
    const unknownKey = Buffer.from(forgedTag);
    unknownKey.writeUInt16BE(77, unknownKey.length - 14);
    const stale = coreTestAddon.mac.signAddressList([realKey], 1, Math.floor(Date.now() / 1000) - 3600, sessionList(50004), carrier(50004))!;

    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7331,
      seed: 11,
      durationMs: 3000,
      rateMbitPerSecond: 10,
      whileRunning: async () => {
        await sendRaw([synTo(50001, forgedTag), synTo(50002, unknownKey), synTo(50003, sessionList(50003)), synTo(50004, stale), realSyn]);
        await sendRaw([realSyn, synTo(50001, forgedTag)]);
      },
    });
    assertIntact(result, 10_001);
    assert.equal((await drops('mb1', 'list_bad_mac')) - before.badMac, 2, 'forged tags');
    assert.equal((await drops('mb1', 'list_unknown_key')) - before.unknownKey, 1, 'an unknown key id');
    assert.equal((await drops('mb1', 'list_unsigned')) - before.unsigned, 1, 'an unsigned list');
    assert.equal((await drops('mb1', 'list_stale')) - before.stale, 1, 'an hour-old list signed with the real key');
    assert.equal((await drops('mb1', 'list_replayed')) - before.replayed, 2, 'the real SYN sent again after its session ended');
    const accepted = metricSum(await tb.scrapeMetrics('mb1'), 'dysco_session_setups_total{kind="accepted"}') - before.accepted;
    assert.equal(accepted, 1, 'mb1 set up the live session and nothing else');
  });

  diagnosed('an agent on no path of a session cannot lock it; forged and unsealed frames are refused; the migration to mb2 runs sealed', async () => {
    const mb1 = new ApiClient(defaultApiSocket(tb.agentPid('mb1')!), { timeoutMs: 30_000 });
    const metric = async (host: string, name: string) => metricSum(await tb.scrapeMetrics(host), name);
    const notOnPath = 'dysco_reconfig_refused_total{type="requestLock",reason="not_on_path"}';
    const rejected = (reason: string) => `dysco_control_rejected_total{type="requestLock",reason="${reason}"}`;
    const before = {
      notOnPath: await metric('mb1', notOnPath),
      badMac: await metric('mb1', rejected('bad_mac')),
      unsealed: await metric('mb1', rejected('unsealed')),
      imports: await metric('mb2', 'dysco_state_transfer_sessions_total{side="import",outcome="ok"}'),
      verifiedAtMb2: await lists('mb2', 'verified'),
    };
    let summary: { sessions: number; completed: number } | undefined;
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7337,
      seed: 71,
      sessions: 2,
      durationMs: 5000,
      rateMbitPerSecond: 10,
      whileRunning: async () => {
        let live: Awaited<ReturnType<typeof mb1.allSessions>> = [];
        for (const deadline = Date.now() + 20_000; live.length < 2 && Date.now() < deadline; await sleep(100)) {
          live = (await mb1.allSessions({ port: 7337 })).filter((x) => x.state === 'established' && x.left?.subsession);
        }
        assert.equal(live.length, 2, 'two established sessions at mb1');
        const left = live[0]!.left!;
        const number = (t: { srcIp: string; dstIp: string; srcPort: number; dstPort: number }) => ({ srcIp: parseIpv4(t.srcIp)!, dstIp: parseIpv4(t.dstIp)!, srcPort: t.srcPort, dstPort: t.dstPort });
        const fromClient = left.subsession!.srcIp === address('client') ? number(left.subsession!) : number({ srcIp: left.subsession!.dstIp, dstIp: left.subsession!.srcIp, srcPort: left.subsession!.dstPort, dstPort: left.subsession!.srcPort });
        const frame = encodeFrame({
          kind: 'message',
          epoch: 0x5eed,
          seq: 1,
          message: { type: 'requestLock', id: { leftAnchor: parseIpv4(address('mb2'))!, nonce: 9 }, session: number(left.session), subsession: fromClient, rightAnchor: parseIpv4(address('server'))!, delta: { forward: 0, reverse: 0 } },
        });
        // mb2 holds the real key but is on no path of the session: its sealed requestLock is refused for its sender.
        const mb2Seal = new FrameAuthenticator(KeyRing.fromFile(tb.keyFile!), { self: parseIpv4(address('mb2'))!, maxSkewSeconds: 30, acceptUnsealed: false });
        await tb.exec('mb2', ['python3', '-c', SEND_UDP, address('mb2'), address('mb1'), String(CONTROL_PORT), mb2Seal.seal(frame, parseIpv4(address('mb1'))!).toString('hex')]);
        // From the client's host without the key: unsealed, and sealed with a made-up tag.
        const forged = new FrameAuthenticator(KeyRing.parse({ keys: [{ id: 1, key: '00'.repeat(16) }], signingKeyId: 1 }), { self: parseIpv4(address('client'))!, maxSkewSeconds: 30, acceptUnsealed: false });
        await tb.exec('client', ['python3', '-c', SEND_UDP, address('client'), address('mb1'), String(CONTROL_PORT), frame.toString('hex'), forged.seal(frame, parseIpv4(address('mb1'))!).toString('hex')]);
        for (const deadline = Date.now() + 5_000; (await metric('mb1', notOnPath)) === before.notOnPath; await sleep(100)) {
          if (Date.now() > deadline) assert.fail('mb1 did not refuse the off-path requestLock');
        }
        summary = await mb1.migrate({ from: address('mb1'), to: address('mb2'), filter: { dstPort: 7337 }, timeoutMs: 30_000 }, () => undefined);
      },
    });
    assertIntact(result, 10_001);
    assert.deepEqual([summary?.sessions, summary?.completed], [2, 2], JSON.stringify(summary));
    assert.equal((await metric('mb1', notOnPath)) - before.notOnPath, 1, 'the off-path lock refused');
    assert.equal((await metric('mb1', rejected('bad_mac'))) - before.badMac, 1);
    assert.equal((await metric('mb1', rejected('unsealed'))) - before.unsealed, 1);
    assert.equal((await metric('mb2', 'dysco_state_transfer_sessions_total{side="import",outcome="ok"}')) - before.imports, 2, 'state announced and imported');
    assert.ok((await lists('mb2', 'verified')) - before.verifiedAtMb2 >= 2, "the new paths' signed SYNs verified at mb2");
    for (const host of ['client', 'mb1', 'mb2', 'server']) {
      const exposition = await tb.scrapeMetrics(host);
      for (const reason of ['bad_mac', 'unknown_key', 'stale']) {
        if (host === 'mb1' && reason === 'bad_mac') continue;
        const refused = metricSamples(exposition, 'dysco_control_rejected_total').filter((x) => x.line.includes(`reason="${reason}"`));
        assert.ok(refused.length > 0, 'the series are exported');
        assert.equal(refused.reduce((sum, x) => sum + x.value, 0), 0, `${host}: no genuine frame refused (${reason})`);
      }
    }
  });

  diagnosed('the key rotates under traffic (new key accepted, signing with it, old one retired) with new sessions at every step', async () => {
    const old = currentKeys()[0]!;
    const fresh = { id: 2, key: coreTestAddon.mac.sha256(Buffer.from(`rotation ${Date.now()}`)).subarray(0, 16).toString('hex') };
    const hosts = ['client', 'mb1', 'mb2', 'server'];
    const reloads = (host: string) => (tb.agentLogTail(host, 2000).match(/key ring reloaded/g) ?? []).length;
    const rotate = async (keys: { id: number; key: string }[], signingKeyId: number) => {
      const counts = hosts.map(reloads);
      keyRing(keys, signingKeyId);
      for (const host of hosts) process.kill(tb.agentPid(host)!, 'SIGHUP');
      for (const deadline = Date.now() + 10_000; hosts.some((h, i) => reloads(h) === counts[i]); await sleep(50)) {
        if (Date.now() > deadline) assert.fail('an agent did not reload its key ring');
      }
    };
    const unknownBefore = await drops('mb1', 'list_unknown_key');
    const verifiedBefore = await lists('mb1', 'verified');
    const short: VerifiedStreamsResult[] = [];
    const result = await runVerifiedStreams(tb, 'client', 'server', {
      port: 7332,
      seed: 21,
      durationMs: 8000,
      rateMbitPerSecond: 10,
      whileRunning: async () => {
        await rotate([old, fresh], 1);
        short.push(await runVerifiedStreams(tb, 'client', 'server', { port: 7333, seed: 31, durationMs: 400, rateMbitPerSecond: 5 }));
        await rotate([old, fresh], 2);
        short.push(await runVerifiedStreams(tb, 'client', 'server', { port: 7334, seed: 41, durationMs: 400, rateMbitPerSecond: 5 }));
        await rotate([fresh], 2);
        short.push(await runVerifiedStreams(tb, 'client', 'server', { port: 7335, seed: 51, durationMs: 400, rateMbitPerSecond: 5 }));
      },
    });
    assertIntact(result, 10_001);
    for (const s of short) assertIntact(s, 10_001);
    assert.equal((await drops('mb1', 'list_unknown_key')) - unknownBefore, 0, 'no list refused during the rotation');
    assert.ok((await lists('mb1', 'verified')) - verifiedBefore >= 3, 'the new sessions were verified at mb1');
    // A bad key file keeps the ring in use.
    writeFileSync(tb.keyFile!, 'keys: [', { mode: 0o600 });
    const before = reloads('mb1');
    process.kill(tb.agentPid('mb1')!, 'SIGHUP');
    for (const deadline = Date.now() + 5_000; !/key ring not reloaded/.test(tb.agentLogTail('mb1', 200)); await sleep(50)) {
      if (Date.now() > deadline) assert.fail('mb1 did not report the bad key file');
    }
    assert.equal(reloads('mb1'), before);
    assertIntact(await runVerifiedStreams(tb, 'client', 'server', { port: 7336, seed: 61, durationMs: 400, rateMbitPerSecond: 5 }), 10_001);
  });
});
