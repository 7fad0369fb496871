#include "core/policy_rules.h"

#include <cstring>

namespace dysco {
namespace {

uint32_t LoadLe32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // x86 and every DPDK target we build for are little-endian
}

uint16_t LoadLe16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

const PolicyRule* PolicySet::Match(const FiveTuple& session) const {
  const uint32_t src = __builtin_bswap32(session.src_ip);
  const uint32_t dst = __builtin_bswap32(session.dst_ip);
  const uint16_t sport = __builtin_bswap16(session.src_port);
  const uint16_t dport = __builtin_bswap16(session.dst_port);
  for (const PolicyRule& rule : rules) {
    if ((src & rule.src_mask) != rule.src_net || (dst & rule.dst_mask) != rule.dst_net) continue;
    if (sport < rule.src_port_lo || sport > rule.src_port_hi) continue;
    if (dport < rule.dst_port_lo || dport > rule.dst_port_hi) continue;
    return &rule;
  }
  return nullptr;
}

PolicyParseStatus ParsePolicySet(const uint8_t* data, size_t length, PolicySet* out) {
  if (length < kPolicyHeaderBytes) return PolicyParseStatus::kTruncated;
  if (LoadLe32(data) != kPolicyMagic) return PolicyParseStatus::kBadMagic;
  if (LoadLe16(data + 4) != kPolicyVersion) return PolicyParseStatus::kBadVersion;
  const uint32_t count = LoadLe16(data + 6);
  if (count > kMaxPolicyRules) return PolicyParseStatus::kTooManyRules;
  if (length != kPolicyHeaderBytes + count * kPolicyRuleBytes) return PolicyParseStatus::kLengthMismatch;
  out->rules.clear();
  out->rules.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* r = data + kPolicyHeaderBytes + i * kPolicyRuleBytes;
    PolicyRule rule{};
    rule.src_net = LoadLe32(r);
    rule.src_mask = LoadLe32(r + 4);
    rule.dst_net = LoadLe32(r + 8);
    rule.dst_mask = LoadLe32(r + 12);
    rule.src_port_lo = LoadLe16(r + 16);
    rule.src_port_hi = LoadLe16(r + 18);
    rule.dst_port_lo = LoadLe16(r + 20);
    rule.dst_port_hi = LoadLe16(r + 22);
    rule.chain_len = r[24];
    rule.append_destination = r[25] != 0;
    rule.rule_id = LoadLe32(r + 28);
    if (rule.chain_len > kMaxChainHops || (rule.chain_len == kMaxChainHops && rule.append_destination)) {
      return PolicyParseStatus::kBadChain;
    }
    if (rule.chain_len == 0 && !rule.append_destination) return PolicyParseStatus::kEmptyList;
    for (uint8_t h = 0; h < rule.chain_len; ++h) {
      const uint32_t hop = LoadLe32(r + 32 + 4 * h);
      if (hop == 0) return PolicyParseStatus::kBadChain;
      rule.hops[h] = __builtin_bswap32(hop);
    }
    // Masked nets make the match a single AND and compare.
    rule.src_net &= rule.src_mask;
    rule.dst_net &= rule.dst_mask;
    out->rules.push_back(rule);
  }
  return PolicyParseStatus::kOk;
}

const char* PolicyParseStatusName(PolicyParseStatus status) {
  switch (status) {
    case PolicyParseStatus::kOk: return "ok";
    case PolicyParseStatus::kTruncated: return "truncated";
    case PolicyParseStatus::kBadMagic: return "bad_magic";
    case PolicyParseStatus::kBadVersion: return "bad_version";
    case PolicyParseStatus::kTooManyRules: return "too_many_rules";
    case PolicyParseStatus::kLengthMismatch: return "length_mismatch";
    case PolicyParseStatus::kBadChain: return "bad_chain";
    case PolicyParseStatus::kEmptyList: return "empty_list";
  }
  return "unknown";
}

uint8_t AddressListFor(const PolicyRule& rule, uint32_t session_dst_be, uint32_t* hops_out) {
  uint8_t n = 0;
  for (; n < rule.chain_len; ++n) hops_out[n] = rule.hops[n];
  // The chain may already end at the destination (a policy for one host); never list it twice.
  if (rule.append_destination && (n == 0 || hops_out[n - 1] != session_dst_be)) hops_out[n++] = session_dst_be;
  return n;
}

}  // namespace dysco
