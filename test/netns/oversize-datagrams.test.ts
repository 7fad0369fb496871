// Datagrams larger than the link MTU, and so IP fragments, cross every agent on both port kinds,
// byte-exact, in pass-through and in Dysco mode: `ping -s 3000` and 65000-byte UDP datagrams. The
// agents count what they passed without it being Dysco's, and drop nothing.
//
// On af_packet the PMD's socket reassembles the fragments (PACKET_FANOUT_FLAG_DEFRAG), so each agent
// sends the datagram on as fragments of its own (tx_fragmented); on af_xdp the fragments themselves
// pass (passed_not_dysco counts each).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestbed, type HostHandle, type Testbed } from '../../src/testbed';
import type { DeviceKind } from '../../src/testbed/state';
import { DROP_REASONS } from '../../src/native/generated/codes';
import { datagramFor, sha256 } from '../fixtures/udp-datagram';
import { netnsUnavailableReason } from '../support/netns';
import { metric, parseMetrics } from '../support/prometheus';

const UDP = join(__dirname, '..', 'fixtures', 'udp-datagram.js');
const TRANSFER = join(__dirname, '..', 'fixtures', 'tcp-transfer.js');
const UDP_SIZE = 65000;
const UDP_COUNT = 3;
const PING_SIZE = 3000;
const PING_COUNT = 5;
const skip = netnsUnavailableReason(['ip', 'ethtool', 'curl', 'ping']);

type Metrics = Map<string, number>;

async function scrape(tb: Testbed, hosts: readonly string[]): Promise<Record<string, Metrics>> {
  const texts = await Promise.all(hosts.map((h) => tb.scrapeMetrics(h)));
  return Object.fromEntries(hosts.map((h, i) => [h, parseMetrics(texts[i]!)]));
}

function delta(now: Record<string, Metrics>, base: Record<string, Metrics>, host: string, key: string): number {
  return metric(now[host]!, key) - metric(base[host]!, key);
}

/** Sends UDP_COUNT datagrams of UDP_SIZE bytes from → to and returns what the receiver got. */
async function udpAcross(tb: Testbed, from: HostHandle, to: HostHandle, port: number, seed: number): Promise<{ bytes: number; sha256: string }[]> {
  const receiver = tb.spawn(to, [process.execPath, UDP, 'receive', to.address, String(port), String(UDP_COUNT), '10000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  receiver.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => receiver.once('exit', (code) => resolve(code)));
  const listening = Date.now() + 10_000;
  while (!lines.includes('listening') && Date.now() < listening) await new Promise((r) => setTimeout(r, 20));
  assert.ok(lines.includes('listening'), 'UDP receiver did not start');
  await tb.exec(from, [process.execPath, UDP, 'send', to.address, String(port), String(UDP_SIZE), String(seed), String(UDP_COUNT)], {
    timeoutMs: 10_000,
  });
  await exited;
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { bytes: number; sha256: string });
}

function expectedDatagrams(seed: number): { bytes: number; sha256: string }[] {
  return Array.from({ length: UDP_COUNT }, (_, i) => ({ bytes: UDP_SIZE, sha256: sha256(datagramFor(seed + i, UDP_SIZE)) }));
}

/** Fragments of one datagram of `ipPayload` bytes at a 1500-byte MTU. */
function fragmentsOf(ipPayload: number): number {
  return Math.ceil(ipPayload / 1480);
}

for (const deviceKind of ['af_packet', 'af_xdp'] as const satisfies readonly DeviceKind[]) {
  for (const mode of ['pass-through', 'dysco'] as const) {
    const topology = mode === 'dysco' ? 'chain-1' : 'pair';
    const hosts = mode === 'dysco' ? ['client', 'mb1', 'server'] : ['client', 'server'];

    describe(`datagrams above the MTU through ${topology} agents (${mode}, ${deviceKind})`, { skip, timeout: 300_000 }, () => {
      let tb: Testbed;
      let client: HostHandle;
      let server: HostHandle;

      before(async () => {
        tb = await createTestbed(topology, {
          deviceKind,
          ...(mode === 'dysco'
            ? {
                dysco: true,
                policies: {
                  client: [{ name: 'to-server', match: { dstPrefix: 'server' }, chain: ['mb1'] }],
                  server: [{ name: 'to-client', match: { dstPrefix: 'client' }, chain: ['mb1'] }],
                },
              }
            : {}),
        });
        client = tb.host('client');
        server = tb.host('server');
        // warm the ARP caches so that the counted runs carry only what they send
        await tb.exec(client, ['ping', '-c', '1', '-W', '2', server.address]);
        if (mode === 'dysco') await tb.exec(client, ['ping', '-c', '1', '-W', '2', tb.host('mb1').address]);
      });
      after(async () => {
        await tb?.destroy();
      });

      // Every host the datagrams of a test go to, with the agents they cross.
      const paths = (): { to: HostHandle; crossed: string[] }[] =>
        mode === 'dysco'
          ? [
              { to: server, crossed: ['client', 'server'] },
              { to: tb.host('mb1'), crossed: ['client', 'mb1'] },
            ]
          : [{ to: server, crossed: ['client', 'server'] }];

      it(`carries ping -s ${PING_SIZE} with nothing dropped and the fragments counted`, async () => {
        for (const { to, crossed } of paths()) {
          const base = await scrape(tb, hosts);
          const ping = await tb.exec(client, ['ping', '-c', String(PING_COUNT), '-i', '0.05', '-W', '2', '-s', String(PING_SIZE), to.address]);
          assert.match(ping.stdout, new RegExp(`${PING_COUNT} packets transmitted, ${PING_COUNT} received`), `to ${to.name}`);
          const now = await scrape(tb, hosts);
          const fragments = fragmentsOf(PING_SIZE + 8);
          for (const host of crossed) {
            for (const reason of DROP_REASONS) assert.equal(delta(now, base, host, `dysco_drops_total{reason="${reason}"}`), 0, `${host} ${reason}`);
            for (const port of ['host', 'wire']) {
              const passed = delta(now, base, host, `dysco_port_passed_not_dysco_total{port="${port}"}`);
              const fragmented = delta(now, base, host, `dysco_port_tx_fragmented_total{port="${port}"}`);
              if (deviceKind === 'af_packet') {
                // each echo (request or reply) arrives reassembled on one port and leaves fragmented on the other
                assert.ok(passed >= PING_COUNT, `${host} ${port}: passed_not_dysco ${passed}`);
                assert.ok(fragmented >= PING_COUNT, `${host} ${port}: tx_fragmented ${fragmented}`);
              } else {
                assert.ok(passed >= PING_COUNT * fragments, `${host} ${port}: passed_not_dysco ${passed}`);
                assert.equal(fragmented, 0, `${host} ${port}: tx_fragmented`);
              }
            }
          }
        }
      });

      it(`carries ${UDP_SIZE}-byte UDP datagrams byte-exact both ways`, async () => {
        let seed = 100;
        for (const { to, crossed } of paths()) {
          for (const [from, dest] of [
            [client, to],
            [to, client],
          ] as const) {
            const base = await scrape(tb, hosts);
            const got = await udpAcross(tb, from, dest, 7100, seed);
            assert.deepEqual(got, expectedDatagrams(seed), `${from.name} → ${dest.name}`);
            const now = await scrape(tb, hosts);
            for (const host of crossed) {
              for (const reason of DROP_REASONS) assert.equal(delta(now, base, host, `dysco_drops_total{reason="${reason}"}`), 0, `${host} ${reason}`);
              const passed =
                delta(now, base, host, 'dysco_port_passed_not_dysco_total{port="host"}') +
                delta(now, base, host, 'dysco_port_passed_not_dysco_total{port="wire"}');
              const expected = deviceKind === 'af_packet' ? UDP_COUNT : UDP_COUNT * fragmentsOf(UDP_SIZE + 8);
              assert.ok(passed >= expected, `${host}: passed_not_dysco ${passed}, expected at least ${expected}`);
            }
            seed += UDP_COUNT;
          }
        }
      });

      if (mode === 'dysco') {
        it('still chains TCP through mb1 byte-exact beside them', async () => {
          const base = await scrape(tb, hosts);
          const receiver = tb.spawn(server, [process.execPath, TRANSFER, 'receive', '7200', '60000'], { stdio: ['ignore', 'pipe', 'pipe'] });
          const lines: string[] = [];
          receiver.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
          const exited = new Promise<void>((resolve) => receiver.once('exit', () => resolve()));
          const listening = Date.now() + 10_000;
          while (!lines.some((l) => l.includes('listening')) && Date.now() < listening) await new Promise((r) => setTimeout(r, 20));
          const sent = await tb.exec(client, [process.execPath, TRANSFER, 'send', server.address, '7200', String(4 << 20), '5'], { timeoutMs: 60_000 });
          await exited;
          const received = lines.map((l) => JSON.parse(l) as { sha256?: string; bytes?: number }).find((r) => r.sha256);
          assert.deepEqual(received, JSON.parse(sent.stdout.trim()));
          const now = await scrape(tb, hosts);
          assert.ok(delta(now, base, 'mb1', 'dysco_session_setups_total{kind="accepted"}') >= 1, 'the session crossed mb1 as Dysco');
        });
      }
    });
  }
}
