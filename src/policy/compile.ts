// The compiled form of a policy list, as the datapath parses it. Little-endian throughout; addresses
// are host-order numbers (10.0.0.1 = 0x0a000001) stored as u32 LE. See also docs/policy.md.
//
//   header (8 bytes)
//     0  u32  magic = 0x4C505944 ("DYPL" when the bytes are read in order)
//     4  u16  version = 1
//     6  u16  count (0..4096)
//   then `count` rules of 160 bytes each, in match order (first match wins):
//     0  u32  src_net       network address, already masked
//     4  u32  src_mask      0xffffff00 for /24; 0 = any source
//     8  u32  dst_net
//    12  u32  dst_mask
//    16  u16  src_port_lo   inclusive; 0..65535 = any
//    18  u16  src_port_hi
//    20  u16  dst_port_lo
//    22  u16  dst_port_hi
//    24  u8   chain_len     entries used in hops (0..32)
//    25  u8   append_destination
//    26  u16  reserved = 0
//    28  u32  rule_id       index of the policy in the list
//    32  u32  hops[32]      host-order addresses; unused entries 0
//
// A rule matches a SYN when (src & src_mask) == src_net, (dst & dst_mask) == dst_net, and both ports lie in
// their ranges. The address list is hops[0..chain_len), then — when append_destination is 1 and the chain is
// empty or its last hop differs from the session's destination — the session's destination. The compiler
// sets append_destination to 0 only when the destination is fixed (/32) and the chain already ends with it;
// the run-time comparison makes the result equal to addressListFor() in every case.
import { parseIpv4, parsePrefix } from '../net/ipv4';
import { MAX_HOPS, MAX_POLICIES, parsePortSpec, type Policy, type PortSpec } from './model';

export const POLICY_MAGIC = 0x4c505944;
export const POLICY_FORMAT_VERSION = 1;
export const POLICY_HEADER_BYTES = 8;
export const POLICY_RULE_BYTES = 160;
export const POLICY_MAX_RULES = MAX_POLICIES;
export const POLICY_MAX_HOPS = MAX_HOPS;

export interface CompiledRule {
  srcNet: number;
  srcMask: number;
  dstNet: number;
  dstMask: number;
  srcPortLo: number;
  srcPortHi: number;
  dstPortLo: number;
  dstPortHi: number;
  appendDestination: boolean;
  ruleId: number;
  hops: number[];
}

export interface CompiledHeader {
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
}

function prefixFields(text: string | undefined, field: string): { net: number; mask: number; length: number } {
  if (text === undefined) return { net: 0, mask: 0, length: 0 };
  const prefix = parsePrefix(text);
  if (!prefix || prefix.address !== prefix.net) throw new RangeError(`${field}: ${JSON.stringify(text)} is not a valid prefix`);
  return prefix;
}

function portFields(spec: PortSpec | undefined, field: string): { lo: number; hi: number } {
  if (spec === undefined) return { lo: 0, hi: 65535 };
  const range = parsePortSpec(spec);
  if (!range) throw new RangeError(`${field}: ${JSON.stringify(spec)} is not a valid port range`);
  return range;
}

/** One validated policy to its rule. Throws RangeError on input that validation would have rejected. */
export function compileRule(policy: Policy, ruleId: number): CompiledRule {
  const src = prefixFields(policy.match.srcPrefix, `${policy.name}.match.srcPrefix`);
  const dst = prefixFields(policy.match.dstPrefix, `${policy.name}.match.dstPrefix`);
  const srcPorts = portFields(policy.match.srcPorts, `${policy.name}.match.srcPorts`);
  const dstPorts = portFields(policy.match.dstPorts, `${policy.name}.match.dstPorts`);
  const hops = policy.chain.map((hop) => {
    const value = parseIpv4(hop);
    if (value === undefined) throw new RangeError(`${policy.name}.chain: ${JSON.stringify(hop)} is not an IPv4 address`);
    return value;
  });
  if (hops.length > MAX_HOPS) throw new RangeError(`${policy.name}.chain: more than ${MAX_HOPS} hops`);
  const fixedDestination = dst.length === 32 && hops.length > 0 && hops[hops.length - 1] === dst.net;
  return {
    srcNet: src.net,
    srcMask: src.mask,
    dstNet: dst.net,
    dstMask: dst.mask,
    srcPortLo: srcPorts.lo,
    srcPortHi: srcPorts.hi,
    dstPortLo: dstPorts.lo,
    dstPortHi: dstPorts.hi,
    appendDestination: !fixedDestination,
    ruleId,
    hops,
  };
}

/** Validated policies (in match order) to the buffer the datapath installs. */
export function compilePolicies(policies: readonly Policy[]): Buffer {
  if (policies.length > POLICY_MAX_RULES) throw new RangeError(`${policies.length} policies: at most ${POLICY_MAX_RULES}`);
  const buf = Buffer.alloc(POLICY_HEADER_BYTES + policies.length * POLICY_RULE_BYTES);
  buf.writeUInt32LE(POLICY_MAGIC, 0);
  buf.writeUInt16LE(POLICY_FORMAT_VERSION, 4);
  buf.writeUInt16LE(policies.length, 6);
  policies.forEach((policy, index) => {
    const rule = compileRule(policy, index);
    const at = POLICY_HEADER_BYTES + index * POLICY_RULE_BYTES;
    buf.writeUInt32LE(rule.srcNet, at);
    buf.writeUInt32LE(rule.srcMask, at + 4);
    buf.writeUInt32LE(rule.dstNet, at + 8);
    buf.writeUInt32LE(rule.dstMask, at + 12);
    buf.writeUInt16LE(rule.srcPortLo, at + 16);
    buf.writeUInt16LE(rule.srcPortHi, at + 18);
    buf.writeUInt16LE(rule.dstPortLo, at + 20);
    buf.writeUInt16LE(rule.dstPortHi, at + 22);
    buf.writeUInt8(rule.hops.length, at + 24);
    buf.writeUInt8(rule.appendDestination ? 1 : 0, at + 25);
    buf.writeUInt16LE(0, at + 26);
    buf.writeUInt32LE(rule.ruleId, at + 28);
    rule.hops.forEach((hop, i) => buf.writeUInt32LE(hop, at + 32 + 4 * i));
  });
  return buf;
}

/** Parses a compiled buffer back into rules, checking every structural invariant the datapath relies on. */
export function decodeCompiledPolicies(buf: Buffer): CompiledRule[] {
  if (buf.length < POLICY_HEADER_BYTES) throw new RangeError(`compiled policies: ${buf.length} bytes, shorter than the header`);
  const magic = buf.readUInt32LE(0);
  if (magic !== POLICY_MAGIC) throw new RangeError(`compiled policies: bad magic 0x${magic.toString(16)}`);
  const version = buf.readUInt16LE(4);
  if (version !== POLICY_FORMAT_VERSION) throw new RangeError(`compiled policies: unsupported version ${version}`);
  const count = buf.readUInt16LE(6);
  if (count > POLICY_MAX_RULES) throw new RangeError(`compiled policies: ${count} rules, at most ${POLICY_MAX_RULES}`);
  const expected = POLICY_HEADER_BYTES + count * POLICY_RULE_BYTES;
  if (buf.length !== expected) throw new RangeError(`compiled policies: ${buf.length} bytes, expected ${expected} for ${count} rules`);
  const rules: CompiledRule[] = [];
  for (let index = 0; index < count; index += 1) {
    const at = POLICY_HEADER_BYTES + index * POLICY_RULE_BYTES;
    const chainLen = buf.readUInt8(at + 24);
    if (chainLen > POLICY_MAX_HOPS) throw new RangeError(`compiled policies: rule ${index} has chain_len ${chainLen}`);
    const append = buf.readUInt8(at + 25);
    if (append > 1) throw new RangeError(`compiled policies: rule ${index} has append_destination ${append}`);
    if (buf.readUInt16LE(at + 26) !== 0) throw new RangeError(`compiled policies: rule ${index} has a non-zero reserved field`);
    const hops: number[] = [];
    for (let i = 0; i < POLICY_MAX_HOPS; i += 1) {
      const hop = buf.readUInt32LE(at + 32 + 4 * i);
      if (i < chainLen) hops.push(hop);
      else if (hop !== 0) throw new RangeError(`compiled policies: rule ${index} has a non-zero unused hop ${i}`);
    }
    rules.push({
      srcNet: buf.readUInt32LE(at),
      srcMask: buf.readUInt32LE(at + 4),
      dstNet: buf.readUInt32LE(at + 8),
      dstMask: buf.readUInt32LE(at + 12),
      srcPortLo: buf.readUInt16LE(at + 16),
      srcPortHi: buf.readUInt16LE(at + 18),
      dstPortLo: buf.readUInt16LE(at + 20),
      dstPortHi: buf.readUInt16LE(at + 22),
      appendDestination: append === 1,
      ruleId: buf.readUInt32LE(at + 28),
      hops,
    });
  }
  return rules;
}

/**
 * Evaluates decoded rules the way the datapath does (the executable statement of the semantics above):
 * the first matching rule and the address list it yields, as host-order numbers.
 */
export function evaluateCompiledRules(rules: readonly CompiledRule[], header: CompiledHeader): { ruleId: number; addresses: number[] } | undefined {
  const rule = rules.find(
    (r) =>
      ((header.srcIp & r.srcMask) >>> 0) === r.srcNet &&
      ((header.dstIp & r.dstMask) >>> 0) === r.dstNet &&
      header.srcPort >= r.srcPortLo &&
      header.srcPort <= r.srcPortHi &&
      header.dstPort >= r.dstPortLo &&
      header.dstPort <= r.dstPortHi,
  );
  if (!rule) return undefined;
  const addresses = [...rule.hops];
  const last = addresses[addresses.length - 1];
  if (rule.appendDestination && last !== header.dstIp) addresses.push(header.dstIp);
  return { ruleId: rule.ruleId, addresses };
}
