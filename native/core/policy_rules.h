#pragma once
// The policies the control plane compiles for the datapath (src/policy/compile.ts; layout in
// docs/policy.md): first match wins on the session header of an outgoing SYN, and the match
// yields the address list for the SYN. Parsed once on the control thread, swapped in by the lcore.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/five_tuple.h"

namespace dysco {

inline constexpr uint32_t kPolicyMagic = 0x4C505944;  // "DYPL" read little-endian
inline constexpr uint16_t kPolicyVersion = 1;
inline constexpr size_t kPolicyHeaderBytes = 8;
inline constexpr size_t kPolicyRuleBytes = 160;
inline constexpr uint32_t kMaxPolicyRules = 4096;
inline constexpr uint8_t kMaxChainHops = 32;

struct PolicyRule {
  uint32_t src_net, src_mask, dst_net, dst_mask;  // host byte order
  uint16_t src_port_lo, src_port_hi, dst_port_lo, dst_port_hi;
  uint32_t rule_id;
  uint8_t chain_len;
  bool append_destination;
  uint32_t hops[kMaxChainHops];  // network byte order, ready for the address list
};

enum class PolicyParseStatus { kOk, kTruncated, kBadMagic, kBadVersion, kTooManyRules, kLengthMismatch, kBadChain, kEmptyList };

struct PolicySet {
  std::vector<PolicyRule> rules;

  // First rule whose predicate holds for the session (fields in network byte order), or nullptr.
  const PolicyRule* Match(const FiveTuple& session) const;
};

PolicyParseStatus ParsePolicySet(const uint8_t* data, size_t length, PolicySet* out);
const char* PolicyParseStatusName(PolicyParseStatus status);

// Writes the address list of a session matched by `rule` (hops in network byte order); returns the count.
uint8_t AddressListFor(const PolicyRule& rule, uint32_t session_dst_be, uint32_t* hops_out);

}  // namespace dysco
