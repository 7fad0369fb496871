// src/net/ipv4.ts, the one IPv4 parser: its edge cases, and the boundaries that use it agreeing on them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseAgentConfig } from '../../src/agent/config';
import { formatIpv4, hasHostBits, inPrefix, maskOf, parseIpv4, parsePrefix, requireIpv4 } from '../../src/net/ipv4';
import { encodeAddressList } from '../../src/protocol/address-list';
import { policySchema } from '../../src/policy/validate';

const REFUSED_ADDRESSES = [
  '', '.', '...', '10.0.1', '10.1', '10', '10.0.0.1.', '.10.0.0.1', '10..0.1', '10.0.0.1.5',
  '10.0.0.256', '256.0.0.1', '10.0.0.999', '10.0.0.1000',
  '010.0.0.1', '10.00.0.1', '10.0.0.01', '00.0.0.0',
  ' 10.0.0.1', '10.0.0.1 ', '10.0.0. 1', '+1.0.0.1', '-1.0.0.1', '1e1.0.0.1', '0x0a.0.0.1', 'a.b.c.d', '10.0.0.1/24',
  '１0.0.0.1', '10.0.0.٣',
];

test('parseIpv4 takes exactly four decimal octets 0..255 without leading zeros', () => {
  assert.equal(parseIpv4('0.0.0.0'), 0);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.equal(parseIpv4('10.0.1.2'), 0x0a000102);
  assert.equal(parseIpv4('192.168.100.200'), 0xc0a864c8);
  for (const bad of REFUSED_ADDRESSES) assert.equal(parseIpv4(bad), undefined, JSON.stringify(bad));
  for (const notString of [undefined, null, 167772161, ['10.0.0.1'], { toString: () => '10.0.0.1' }]) {
    assert.equal(parseIpv4(notString), undefined);
  }
});

test('formatIpv4 and parseIpv4 are inverse on every 32-bit number', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(n)) === n));
});

test('requireIpv4 names the field in its error', () => {
  assert.equal(requireIpv4('10.0.0.1', 'hops[0]'), 0x0a000001);
  assert.throws(() => requireIpv4('10.0.0.01', 'hops[3]'), { name: 'TypeError', message: 'hops[3]: not a dotted-quad IPv4 address: "10.0.0.01"' });
});

test('parsePrefix takes /0../32 without leading zeros and reports host bits instead of clearing them', () => {
  assert.deepEqual(parsePrefix('10.0.1.0/24'), { address: 0x0a000100, net: 0x0a000100, length: 24, mask: 0xffffff00 });
  assert.deepEqual(parsePrefix('0.0.0.0/0'), { address: 0, net: 0, length: 0, mask: 0 });
  assert.deepEqual(parsePrefix('10.0.1.2/32'), { address: 0x0a000102, net: 0x0a000102, length: 32, mask: 0xffffffff });
  const withHostBits = parsePrefix('10.0.1.2/24')!;
  assert.equal(withHostBits.address, 0x0a000102);
  assert.equal(withHostBits.net, 0x0a000100);
  assert.equal(hasHostBits(withHostBits), true);
  assert.equal(hasHostBits(parsePrefix('10.0.1.0/24')!), false);
  for (const bad of ['10.0.1.0/33', '10.0.1.0/99', '10.0.1.0/', '10.0.1.0', '10.0.1.0/08', '10.0.1.0/-1', '10.0.1.0/2 4', '10.0.1/24', '010.0.1.0/24', '10.0.1.0/24/8', '/24', '10.0.1.0/0x18']) {
    assert.equal(parsePrefix(bad), undefined, JSON.stringify(bad));
  }
});

test('maskOf and inPrefix at the ends of the range', () => {
  assert.equal(maskOf(0), 0);
  assert.equal(maskOf(1), 0x80000000);
  assert.equal(maskOf(31), 0xfffffffe);
  assert.equal(maskOf(32), 0xffffffff);
  const p = parsePrefix('10.0.1.0/24')!;
  assert.equal(inPrefix(p, 0x0a000100), true);
  assert.equal(inPrefix(p, 0x0a0001ff), true);
  assert.equal(inPrefix(p, 0x0a000200), false);
  assert.equal(inPrefix(parsePrefix('0.0.0.0/0')!, 0xffffffff), true);
});

test('the config schema, policy validation and the address-list codec refuse the same spellings', () => {
  const agent = (address: string, gateway?: string) => () =>
    parseAgentConfig({ host: { device: 'net_tap0' }, wire: { device: 'net_tap1' }, dysco: { address, ...(gateway ? { gateway } : {}) } });
  for (const bad of ['010.0.1.2/24', '10.0.1.2/33', '10.0.1/24', '10.0.1.2']) assert.throws(agent(bad), /dysco\.address/, bad);
  for (const bad of ['010.0.1.1', '10.0.1', '10.0.1.1/24']) assert.throws(agent('10.0.1.2/24', bad), /dysco\.gateway/, bad);
  assert.equal(parseAgentConfig({ host: { device: 'net_tap0' }, wire: { device: 'net_tap1' }, dysco: { address: '10.0.1.2/24', gateway: '10.0.1.1' } }).dysco?.address, '10.0.1.2/24');
  for (const bad of ['010.0.0.1', '10.0.0.256', '10.0.1']) {
    assert.equal(policySchema.safeParse({ name: 'p', match: {}, chain: [bad] }).success, false, bad);
    assert.throws(() => encodeAddressList({ session: { srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 2 }, hops: [bad] }), /hops\[0\]/);
  }
  assert.equal(policySchema.safeParse({ name: 'p', match: { dstPrefix: '10.0.1.0/24' }, chain: ['10.0.2.2'] }).success, true);
  assert.equal(policySchema.safeParse({ name: 'p', match: { dstPrefix: '10.0.1.2/24' }, chain: [] }).success, false, 'host bits in a policy prefix');
});
