// libFuzzer target: the address list of a SYN payload (core/address_list.h) and its authentication block
// (core/list_auth.h), as an agent's Accept reads them. Whatever the bytes: no crash, no read past them, and a list
// that parses encodes back to the same bytes (the reserved byte and the block apart); a block that verifies under
// the fuzzer's own key was signed by it, over exactly these bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/address_list.h"
#include "core/list_auth.h"

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first 12 bytes play the carrying SYN's addresses and ports, the rest is the payload.
  if (size < dysco::kListCarrierBytes) return 0;
  const uint8_t* carrier = data;
  const uint8_t* payload = data + dysco::kListCarrierBytes;
  const size_t length = size - dysco::kListCarrierBytes;

  dysco::AddressList list;
  const dysco::AddressListStatus status = dysco::ParseAddressList(payload, length, &list);
  if (status == dysco::AddressListStatus::kOk) {
    uint8_t out[dysco::kMaxSignedAddressListSize];
    const size_t plain = dysco::EncodeAddressList(list.session, list.hops, list.hop_count, out, sizeof out,
                                                  list.new_path ? &list.nonce : nullptr);
    Require(plain == dysco::AddressListSize(list.hop_count, list.new_path));
    Require(plain + (list.authenticated ? dysco::kListAuthBlockSize : 0) == length);
    // Equal but for the reserved byte (ignored) and the flag bit of the block.
    Require(std::memcmp(out, payload, 5) == 0 && std::memcmp(out + 8, payload + 8, plain - 8) == 0);
    Require((out[5] | (list.authenticated ? dysco::kAddressListFlagAuthenticated : 0)) == payload[5]);
  }

  static const uint8_t kKey[dysco::kSipHashKeyBytes] = {7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1, 7, 1};
  static dysco::ListKeyRing ring = [] {
    dysco::ListKeyRing r;
    r.Add(1, kKey);
    r.SetSigning(1);
    return r;
  }();
  size_t list_size = 0;
  uint64_t tag = 0;
  const dysco::ListAuthStatus verified = dysco::VerifyAddressList(payload, length, ring, 1'800'000'000u, 30, carrier,
                                                                  &list_size, &tag);
  if (verified == dysco::ListAuthStatus::kOk) {
    Require(list_size + dysco::kListAuthBlockSize == length);
    // Signing the same bytes again at the time they carry reproduces them.
    uint8_t again[dysco::kMaxSignedAddressListSize + 16];
    Require(list_size <= dysco::kMaxAddressListSize);
    std::memcpy(again, payload, list_size);
    again[dysco::kAddressListFlagsOffset] &= static_cast<uint8_t>(~dysco::kAddressListFlagAuthenticated);
    const uint32_t then = static_cast<uint32_t>(payload[list_size + 2]) << 24 | payload[list_size + 3] << 16 |
                          payload[list_size + 4] << 8 | payload[list_size + 5];
    Require(dysco::SignAddressList(again, list_size, sizeof again, ring, then, carrier) == length);
    Require(std::memcmp(again, payload, length) == 0);
  }
  return 0;
}
