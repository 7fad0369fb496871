import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  compilePolicies,
  decodeCompiledPolicies,
  evaluateCompiledRules,
  POLICY_HEADER_BYTES,
  POLICY_RULE_BYTES,
} from '../../src/policy/compile';
import { formatIpv4, maskOf, parseIpv4 } from '../../src/net/ipv4';
import { addressListFor, matchPolicy, type Policy, type PortSpec } from '../../src/policy/model';
import { validatePolicies } from '../../src/policy/validate';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const zeros = (n: number) => '00'.repeat(n);

describe('compiled layout', () => {
  test('a hand-written example, byte for byte', () => {
    const policies: Policy[] = [
      { name: 'web', match: { srcPrefix: '10.0.0.0/24', dstPrefix: '10.0.1.5/32', dstPorts: '80-443' }, chain: ['10.0.2.1', '10.0.1.5'] },
      { name: 'any', match: { srcPorts: 1024 }, chain: [] },
    ];
    const expected = hex(
      [
        '44 59 50 4c  01 00  02 00', // magic "DYPL", version 1, count 2
        // rule 0
        '00 00 00 0a  00 ff ff ff', // src 10.0.0.0/24
        '05 01 00 0a  ff ff ff ff', // dst 10.0.1.5/32
        '00 00 ff ff  50 00 bb 01', // src ports any, dst 80..443
        '02 00 00 00  00 00 00 00', // chain_len 2, append 0 (chain ends with the fixed destination), rule 0
        '01 02 00 0a  05 01 00 0a', // hops 10.0.2.1, 10.0.1.5
        zeros(120),
        // rule 1
        zeros(16), // any source, any destination
        '00 04 00 04  00 00 ff ff', // src port 1024, dst any
        '00 01 00 00  01 00 00 00', // chain_len 0, append 1, rule 1
        zeros(128),
      ].join(''),
    );
    const compiled = compilePolicies(policies);
    assert.equal(compiled.length, 8 + 2 * 160);
    assert.equal(compiled.toString('hex'), expected.toString('hex'));
    assert.equal(compiled.subarray(0, 4).toString('latin1'), 'DYPL');
  });

  test('the empty list is a bare header', () => {
    assert.equal(compilePolicies([]).toString('hex'), '4459504c01000000');
    assert.deepEqual(decodeCompiledPolicies(compilePolicies([])), []);
  });

  test('a /32 destination not ending the chain still appends the destination', () => {
    const [rule] = decodeCompiledPolicies(compilePolicies([{ name: 'a', match: { dstPrefix: '10.0.1.5/32' }, chain: ['10.0.2.1'] }]));
    assert.equal(rule!.appendDestination, true);
  });

  test('decode rejects corrupt buffers', () => {
    const good = compilePolicies([{ name: 'a', match: {}, chain: ['10.0.0.1'] }]);
    const corrupt = (at: number, value: number) => {
      const copy = Buffer.from(good);
      copy[at] = value;
      return copy;
    };
    assert.throws(() => decodeCompiledPolicies(corrupt(0, 0)), /bad magic/);
    assert.throws(() => decodeCompiledPolicies(corrupt(4, 2)), /unsupported version 2/);
    assert.throws(() => decodeCompiledPolicies(good.subarray(0, good.length - 1)), /expected 168/);
    assert.throws(() => decodeCompiledPolicies(corrupt(8 + 24, 33)), /chain_len 33/);
    assert.throws(() => decodeCompiledPolicies(corrupt(8 + 26, 1)), /reserved/);
    assert.throws(() => decodeCompiledPolicies(corrupt(8 + 36, 1)), /unused hop 1/);
  });

  test('4096 rules compile, 4097 do not', () => {
    const many = Array.from({ length: 4097 }, (_, i): Policy => ({ name: `p${i}`, match: { dstPorts: (i % 65535) + 1 }, chain: [] }));
    assert.equal(compilePolicies(many.slice(0, 4096)).length, POLICY_HEADER_BYTES + 4096 * POLICY_RULE_BYTES);
    assert.throws(() => compilePolicies(many), RangeError);
    assert.equal(validatePolicies(many).ok, false);
  });
});

// A small address space and a few port values, so that random headers often hit random rules.
const ipArb = fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 6 })).map(([c, d]) => `10.0.${c}.${d}`);
const prefixArb = fc
  .tuple(ipArb, fc.constantFrom(0, 8, 16, 23, 24, 29, 30, 31, 32))
  .map(([ip, length]) => `${formatIpv4((parseIpv4(ip)! & maskOf(length)) >>> 0)}/${length}`);
const portValues = [1, 22, 79, 80, 81, 443, 1024, 40000, 65535];
const portSpecArb: fc.Arbitrary<PortSpec> = fc.oneof(
  fc.constantFrom(...portValues),
  fc.constantFrom(...portValues).map(String),
  fc.tuple(fc.constantFrom(...portValues), fc.constantFrom(...portValues)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
);
const matchArb = fc.record(
  { srcPrefix: prefixArb, dstPrefix: prefixArb, srcPorts: portSpecArb, dstPorts: portSpecArb },
  { requiredKeys: [] },
);
const policiesArb = fc
  .array(fc.tuple(matchArb, fc.array(ipArb, { maxLength: 5 })), { maxLength: 10 })
  .map((entries) => entries.map(([match, chain], i): Policy => ({ name: `p${i}`, match, chain })));
const headerArb = fc.record({ srcIp: ipArb, dstIp: ipArb, srcPort: fc.constantFrom(...portValues, 2000), dstPort: fc.constantFrom(...portValues, 2000) });

describe('compiled form agrees with the reference matcher (property)', () => {
  test('same rule, same address list', () => {
    fc.assert(
      fc.property(policiesArb, fc.array(headerArb, { minLength: 1, maxLength: 20 }), (policies, headers) => {
        assert.equal(validatePolicies(policies).ok, true);
        const rules = decodeCompiledPolicies(compilePolicies(policies));
        for (const header of headers) {
          const expected = matchPolicy(policies, header);
          const actual = evaluateCompiledRules(rules, {
            srcIp: parseIpv4(header.srcIp)!,
            dstIp: parseIpv4(header.dstIp)!,
            srcPort: header.srcPort,
            dstPort: header.dstPort,
          });
          if (!expected) {
            assert.equal(actual, undefined);
            continue;
          }
          assert.ok(actual, `no compiled rule matched; expected ${expected.name}`);
          assert.equal(actual.ruleId, policies.indexOf(expected));
          assert.deepEqual(actual.addresses.map(formatIpv4), addressListFor(expected, header.dstIp));
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('chains that end with a fixed /32 destination agree too', () => {
    fc.assert(
      fc.property(ipArb, fc.array(ipArb, { maxLength: 4 }), headerArb, (dst, chain, header) => {
        const policy: Policy = { name: 'fixed', match: { dstPrefix: `${dst}/32` }, chain: [...chain, dst] };
        const rules = decodeCompiledPolicies(compilePolicies([policy]));
        const h = { ...header, dstIp: dst };
        const actual = evaluateCompiledRules(rules, { srcIp: parseIpv4(h.srcIp)!, dstIp: parseIpv4(dst)!, srcPort: h.srcPort, dstPort: h.dstPort });
        assert.deepEqual(actual?.addresses.map(formatIpv4), addressListFor(policy, dst));
      }),
      { numRuns: 300 },
    );
  });

  test('decode never fails other than with RangeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const buf = Buffer.concat([Buffer.from('DYPL', 'latin1'), Buffer.from(bytes)]);
        try {
          decodeCompiledPolicies(buf);
        } catch (error) {
          assert.ok(error instanceof RangeError, String(error));
        }
      }),
    );
  });
});
